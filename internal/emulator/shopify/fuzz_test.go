package shopify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzGraphQL: any query text, parsed alone and sent through the Admin
// GraphQL route with a valid token (parse, variables, execution, cost),
// never panics and is answered with JSON: 200 with data or errors, or a
// 4xx.
func FuzzGraphQL(f *testing.F) {
	for _, q := range []string{
		`{ shop { name myshopifyDomain __typename } }`,
		`query Q($email: String!, $n: Int = 2, $withLines: Boolean!) { recent: orders(first: $n, query: $email, sortKey: CREATED_AT, reverse: true) { pageInfo { hasNextPage endCursor } nodes { ...OrderBits lineItems(first: 1) @include(if: $withLines) { nodes { title customAttributes { key value } } } } } }
fragment OrderBits on Order { id name total: totalPriceSet { shopMoney { amount currencyCode } } }`,
		`{ orders(last: 1, query: "email:\"f@example.com\" created_at:>2026-01-01", after: "x") { edges { cursor node { ... on Order { name createdAt } skipped: email @skip(if: true) } } } }`,
		`query($id: ID!) { order(id: $id) { name tags } }`,
		`mutation { orderUpdate(input: {id: "1"}) { order { id } } }`,
		`fragment A on Order { ...B } fragment B on Order { ...A } { orders(first: 1) { nodes { ...A } } }`,
		`query($id: ID!) { customer(id: $id) { email defaultEmailAddress { emailAddress } } orders(first: 2) { nodes { ... on Node { id } customer { displayName } } } }`,
		`{ orders(first: 0) { ...C } } fragment C on OrderConnection { a: edges { ...E } b: edges { ...E } } fragment E on OrderEdge { x: node { id } y: node { name } }`,
		`{ orders(first: 1) ^ }`, `"""block
string"""`, `{ a(b: [1, 2.5e3, "s", true, null, ENUM, {k: $v}]) }`, `{`, ``, `query`, `# only a comment`,
	} {
		f.Add(q, `{"email":"email:\"f@example.com\"","n":1,"withLines":true,"id":"gid://shopify/Order/1"}`)
	}
	// The clock moves a minute a reading, so the cost bucket refills and
	// queries are executed, not throttled.
	var ticks atomic.Int64
	now := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Minute) }
	e := New(Config{Now: now, Seed: 1, Emails: []string{"f@example.com"}})
	f.Cleanup(e.Close)
	tok := e.IssueToken("", "read_orders", "read_all_orders")
	f.Fuzz(func(t *testing.T, query, vars string) {
		if doc, err := parseQuery(query); (doc == nil) == (err == nil) {
			t.Fatalf("parseQuery = %v, %v: exactly one must be set", doc, err)
		}
		var v json.RawMessage
		if json.Unmarshal([]byte(vars), &v) != nil {
			v = json.RawMessage(`{}`)
		}
		body, _ := json.Marshal(map[string]any{"query": query, "variables": v})
		req := httptest.NewRequest(http.MethodPost, "/admin/api/2025-01/graphql.json", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", tok)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
		if rec.Code != http.StatusOK {
			return
		}
		// A 200 has a list of errors, or the data object.
		var out struct {
			Data   json.RawMessage   `json:"data"`
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("200 answer of the wrong shape: %v: %s", err, rec.Body)
		}
		if len(out.Errors) == 0 && (len(out.Data) == 0 || out.Data[0] != '{') {
			t.Fatalf("no errors and no data: %s", rec.Body)
		}
	})
}
