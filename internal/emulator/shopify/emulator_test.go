package shopify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func fixed() time.Time { return t0 }

func newServer(t *testing.T, cfg Config) (*Emulator, *httptest.Server) {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixed
	}
	e := New(cfg)
	s := httptest.NewServer(e)
	t.Cleanup(func() { s.Close(); e.Close(); e.Close() })
	return e, s
}

type gqlOut struct {
	Data       map[string]any `json:"data"`
	Errors     []gqlError     `json:"errors"`
	Extensions struct {
		Cost   costExt          `json:"cost"`
		Search []map[string]any `json:"search"`
	} `json:"extensions"`
}

func gql(t *testing.T, s *httptest.Server, tok, query string, vars map[string]any) (int, gqlOut, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", s.URL+"/admin/api/2025-01/graphql.json", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlOut
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw)
}

func TestDeterministicFixtures(t *testing.T) {
	t.Parallel()
	a := New(Config{Now: fixed, Seed: 5, Emails: []string{"x@example.com"}})
	b := New(Config{Now: fixed, Seed: 5, Emails: []string{"x@example.com"}})
	c := New(Config{Now: fixed, Seed: 6, Emails: []string{"x@example.com"}})
	defer a.Close()
	defer b.Close()
	defer c.Close()
	ja, _ := json.Marshal(a.Orders(""))
	jb, _ := json.Marshal(b.Orders(""))
	jc, _ := json.Marshal(c.Orders(""))
	if string(ja) != string(jb) || string(ja) == string(jc) {
		t.Fatal("fixtures are not deterministic by seed")
	}
	var inWindow, outWindow, plain int
	for _, o := range a.Orders("") {
		if o.Email != "x@example.com" {
			continue
		}
		final := false
		for _, li := range o.LineItems {
			final = final || li.FinalSale()
		}
		age := t0.Sub(o.CreatedAt)
		switch {
		case final && age > 60*24*time.Hour:
			outWindow++
		case final:
			inWindow++
		default:
			plain++
		}
		if age > 90*24*time.Hour || age < 0 {
			t.Errorf("order %s is %s old", o.Name(), age)
		}
	}
	if inWindow == 0 || outWindow == 0 || plain == 0 {
		t.Fatalf("seeded email: %d in window, %d outside, %d plain", inWindow, outWindow, plain)
	}
}

func TestGraphQLValidation(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders")
	tests := []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"syntax", `{ orders(first: 1) { edges { node { id } }`, nil, "Parse error"},
		{"bad token char", `{ orders(first: 1) ^ }`, nil, "Parse error"},
		{"unknown field", `{ orders(first: 1) { edges { node { id nope } } } }`, nil, "Field 'nope' doesn't exist on type 'Order'"},
		{"unknown root", `{ products(first: 1) { edges { node { id } } } }`, nil, "doesn't exist on type 'QueryRoot'"},
		{"unknown arg", `{ orders(first: 1, foo: 2) { edges { node { id } } } }`, nil, "doesn't accept argument 'foo'"},
		{"no first or last", `{ orders { edges { node { id } } } }`, nil, "one of first or last"},
		{"first too big", `{ orders(first: 251) { edges { node { id } } } }`, nil, "between 0 and 250"},
		{"bad sort key", `{ orders(first: 1, sortKey: NAME) { edges { node { id } } } }`, nil, "OrderSortKeys"},
		{"undeclared var", `{ orders(first: $n) { edges { node { id } } } }`, nil, "not declared"},
		{"missing required var", `query Q($n: Int!) { orders(first: $n) { edges { node { id } } } }`, nil, "was provided invalid value"},
		{"wrong var type", `query Q($n: Int!) { orders(first: $n) { edges { node { id } } } }`, map[string]any{"n": "ten"}, "was provided invalid value"},
		{"scalar with selection", `{ orders(first: 1) { edges { node { id { x } } } } }`, nil, "Selections can't be made on scalars"},
		{"object without selection", `{ shop }`, nil, "Field must have selections"},
		{"mutation", `mutation { orderUpdate(input: {}) { userErrors { field } } }`, nil, "Mutations are not emulated"},
		{"two ops no name", `query A { shop { name } } query B { shop { name } }`, nil, "operation name is required"},
		{"unknown fragment", `{ shop { ...F } }`, nil, "Fragment F was used, but not defined"},
		{"bad cursor", `{ orders(first: 1, after: "zzz") { edges { node { id } } } }`, nil, "Invalid cursor"},
	}
	for _, tc := range tests {
		st, out, raw := gql(t, s, tok, tc.query, tc.vars)
		if st != 200 || len(out.Errors) == 0 || !strings.Contains(out.Errors[0].Message, tc.want) {
			t.Errorf("%s: %d %s", tc.name, st, raw)
		}
	}
	// Auth and transport errors.
	if st, _, raw := gql(t, s, "shpat_nope", `{ shop { name } }`, nil); st != 401 || !strings.Contains(raw, "Invalid API key or access token") {
		t.Errorf("bad token: %d %s", st, raw)
	}
	resp, _ := http.Post(s.URL+"/admin/api/2025-01/graphql.json", "application/json", strings.NewReader(`{}`))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("empty body: %d", resp.StatusCode)
	}
	resp, _ = http.Post(s.URL+"/admin/api/latest/graphql.json", "application/json", strings.NewReader(`{"query":"{shop{name}}"}`))
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("bad version: %d", resp.StatusCode)
	}
}

func TestGraphQLFeatures(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1, Emails: []string{"f@example.com"}})
	tok := e.IssueToken("", "read_orders", "read_all_orders")
	q := `
# comment, commas and a block string
query Q($email: String!, $n: Int = 2, $withLines: Boolean!) {
  shop { name myshopifyDomain __typename }
  recent: orders(first: $n, query: $email, sortKey: CREATED_AT, reverse: true) {
    __typename
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderBits lineItems(first: 1) @include(if: $withLines) { nodes { title } } }
  }
  oldest: orders(last: 1, query: $email, sortKey: CREATED_AT, reverse: true) {
    edges { cursor node { ... on Order { name createdAt } skipped: email @skip(if: true) } }
  }
}
fragment OrderBits on Order { id name total: totalPriceSet { shopMoney { amount } } }`
	st, out, raw := gql(t, s, tok, q, map[string]any{"email": "email:\"f@example.com\"", "withLines": true})
	if st != 200 || len(out.Errors) > 0 {
		t.Fatalf("%d %s", st, raw)
	}
	shop := out.Data["shop"].(map[string]any)
	if shop["myshopifyDomain"] != DefaultShop || shop["__typename"] != "Shop" {
		t.Errorf("shop = %v", shop)
	}
	recent := out.Data["recent"].(map[string]any)
	nodes := recent["nodes"].([]any)
	n0 := nodes[0].(map[string]any)
	if len(nodes) != 2 || recent["__typename"] != "OrderConnection" || n0["total"] == nil || n0["lineItems"] == nil || n0["name"] == nil {
		t.Errorf("recent = %s", raw)
	}
	if !strings.Contains(raw, `"recent":{"__typename":"OrderConnection","pageInfo"`) {
		t.Errorf("selection order not kept: %s", raw)
	}
	// oldest: last 1 of newest-first = the oldest order of the email.
	var oldest time.Time
	for _, o := range e.Orders("") {
		if o.Email == "f@example.com" && (oldest.IsZero() || o.CreatedAt.Before(oldest)) {
			oldest = o.CreatedAt
		}
	}
	edges := out.Data["oldest"].(map[string]any)["edges"].([]any)
	node := edges[0].(map[string]any)["node"].(map[string]any)
	if node["createdAt"] != oldest.Format(time.RFC3339) || node["skipped"] != nil {
		t.Errorf("oldest = %v, want %s", node, oldest)
	}
	// Cost: requested from first/last, actual from what came back.
	if c := out.Extensions.Cost; c.ActualQueryCost == nil || *c.ActualQueryCost > c.RequestedQueryCost || c.ThrottleStatus.MaximumAvailable != 2000 {
		t.Errorf("cost = %+v", c)
	}
	// order(id) and the search warnings extension.
	id := n0["id"].(string)
	_, out, raw = gql(t, s, tok, `query($id: ID!) { order(id: $id) { name } orders(first: 1, query: "foo:bar") { nodes { id } } }`, map[string]any{"id": id})
	if out.Data["order"].(map[string]any)["name"] != n0["name"] || len(out.Extensions.Search) == 0 {
		t.Errorf("order(id) / search: %s", raw)
	}
}

func TestCostAndBucket(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1, Customers: -1, Emails: []string{"c@example.com"}})
	tok := e.IssueToken("", "read_orders", "read_all_orders")
	n := 0
	for _, o := range e.Orders("") {
		if o.Email == "c@example.com" {
			n++
		}
	}
	_, out, raw := gql(t, s, tok, `{ orders(first: 10, query: "email:c@example.com") { edges { node { id } } } }`, nil)
	c := out.Extensions.Cost
	if c.RequestedQueryCost != 12 || c.ActualQueryCost == nil || *c.ActualQueryCost != 2+n || c.ThrottleStatus.CurrentlyAvailable != 2000-(2+n) {
		t.Fatalf("cost = %+v (n=%d) %s", c, n, raw)
	}
	e.SetBucket("", 11)
	st, out, raw := gql(t, s, tok, `{ orders(first: 10) { edges { node { id } } } }`, nil)
	if st != 200 || out.Errors[0].Ext["code"] != "THROTTLED" || out.Extensions.Cost.ActualQueryCost != nil || out.Data != nil {
		t.Fatalf("throttled: %d %s", st, raw)
	}
}

func TestSearchSyntax(t *testing.T) {
	t.Parallel()
	o := &Order{ID: 7, Number: 1007, Email: "Ann.Lee@Example.com", CreatedAt: t0.AddDate(0, 0, -10), UpdatedAt: t0,
		ProcessedAt: t0.AddDate(0, 0, -10), Tags: []string{"vip", FinalSaleTag}, FinancialStatus: "PAID", FulfillmentStatus: "FULFILLED"}
	tests := []struct {
		q    string
		want bool
	}{
		{`email:ann.lee@example.com`, true},
		{`email:"ann.lee@example.com"`, true},
		{`email:'other@example.com'`, false},
		{`email:ann*`, true},
		{`created_at:>=2026-04-01`, true},
		{`created_at:>='2026-04-21T12:00:00Z'`, true},
		{`created_at:>2026-04-21T12:00:00Z`, false},
		{`created_at:<2026-04-01`, false},
		{`created_at:2026-04-21`, true},
		{`email:ann.lee@example.com AND tag:vip`, true},
		{`email:ann.lee@example.com -tag:vip`, false},
		{`tag:nope OR name:#1007`, true},
		{`financial_status:paid fulfillment_status:shipped`, true},
		{`status:cancelled`, false},
		{`id:>6 id:<=7`, true},
		{`lee`, true},
		{`unknown_field:1 email:ann.lee@example.com`, true},
	}
	for _, tc := range tests {
		s, err := parseSearch(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		got, err := s.match(o)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.q, got, err, tc.want)
		}
	}
	if _, err := parseSearch(`email:"open`); err == nil {
		t.Error("unterminated quote accepted")
	}
	if s, _ := parseSearch(`created_at:>=yesterday`); s != nil {
		if _, err := s.match(o); err == nil {
			t.Error("bad date accepted")
		}
	}
}

func TestVisibilityWindow(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 2, Customers: -1, Emails: []string{"w@example.com"}})
	var old Order
	for _, o := range e.Orders("") {
		if t0.Sub(o.CreatedAt) > 60*24*time.Hour {
			old = o
		}
	}
	for _, tc := range []struct {
		scopes []string
		want   bool
	}{{[]string{"read_orders"}, false}, {[]string{"read_orders", "read_all_orders"}, true}} {
		_, out, raw := gql(t, s, e.IssueToken("", tc.scopes...), `query($id: ID!) { order(id: $id) { name } }`, map[string]any{"id": gid("Order", old.ID)})
		if got := out.Data["order"] != nil; got != tc.want {
			t.Errorf("%v: visible %v, want %v: %s", tc.scopes, got, tc.want, raw)
		}
	}
	_, out, _ := gql(t, s, e.IssueToken("", "read_products"), `{ orders(first: 1) { nodes { id } } }`, nil)
	if len(out.Errors) == 0 || out.Errors[0].Ext["code"] != "ACCESS_DENIED" {
		t.Errorf("no scope: %+v", out.Errors)
	}
}

func TestOAuthEndpoints(t *testing.T) {
	t.Parallel()
	_, s := newServer(t, Config{RedirectURLs: []string{"http://127.0.0.1:9/cb"}})
	base := url.Values{"client_id": {DefaultClientID}, "scope": {"read_orders"}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"s"}}
	for name, mod := range map[string]func(url.Values){
		"unknown client":       func(v url.Values) { v.Set("client_id", "x") },
		"redirect not allowed": func(v url.Values) { v.Set("redirect_uri", "http://evil.example/cb") },
		"relative redirect":    func(v url.Values) { v.Set("redirect_uri", "/cb") },
		"bad scope":            func(v url.Values) { v.Set("scope", "everything") },
		"unknown shop":         func(v url.Values) { v.Set("shop", "nope.myshopify.com") },
	} {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		mod(v)
		resp, err := http.Get(s.URL + "/admin/oauth/authorize?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	for _, body := range []string{`{"client_id":"switchyard","client_secret":"wrong","code":"x"}`, `{"client_id":"switchyard","client_secret":"shopify-app-secret","code":"x"}`, `not json`} {
		resp, _ := http.Post(s.URL+"/admin/oauth/access_token", "application/json", strings.NewReader(body))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "error") {
			t.Errorf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
}

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	hits := make(chan string, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.Header.Get(HeaderTopic)
	}))
	defer recv.Close()
	e, s := newServer(t, Config{Seed: 3, Customers: 2})
	post := func(path, body string) (int, string) {
		resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := post("/_emulator/webhooks", `{"topic":"orders/create","address":"`+recv.URL+`"}`); st != 201 {
		t.Fatalf("webhooks: %d %s", st, b)
	}
	if st, _ := post("/_emulator/webhooks", `{"topic":"carts/create","address":"`+recv.URL+`"}`); st != 400 {
		t.Errorf("bad topic: %d", st)
	}
	st, b := post("/_emulator/orders", `{"email":"ctl@example.com","line_items":[{"sku":"CAP-NVY","quantity":1,"final_sale":true}]}`)
	if st != 201 || !strings.Contains(b, FinalSaleKey) {
		t.Fatalf("create order: %d %s", st, b)
	}
	if topic := <-hits; topic != TopicOrdersCreate {
		t.Errorf("topic %s", topic)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal([]byte(b), &created)
	if st, _ := post("/_emulator/orders/"+itoa64(created.ID)+"/final-sale", `{"line_item_ids":[1]}`); st != 404 {
		t.Errorf("foreign line item: %d", st)
	}
	if st, _ := post("/_emulator/orders/"+itoa64(created.ID)+"/final-sale", ``); st != 200 {
		t.Errorf("final sale: %d", st)
	}
	if st, b := post("/_emulator/tokens", `{"scopes":"read_orders"}`); st != 201 || !strings.Contains(b, "shpat_") {
		t.Errorf("tokens: %d %s", st, b)
	}
	if st, b := post("/_emulator/accounts", `{"shop":"second.myshopify.com","customers":1,"emails":["s@example.com"]}`); st != 201 {
		t.Errorf("accounts: %d %s", st, b)
	}
	if st, _ := post("/_emulator/accounts", `{"shop":"second.myshopify.com"}`); st != 409 {
		t.Errorf("duplicate shop: %d", st)
	}
	if len(e.Orders("second.myshopify.com")) == 0 {
		t.Error("second shop has no orders")
	}
	if st, _ := post("/_emulator/seed", `{"emails":["seed@example.com"]}`); st != 200 {
		t.Errorf("seed: %d", st)
	}
	resp, err := noRedirect().Get(s.URL + "/_emulator/install?app_url=" + url.QueryEscape("http://127.0.0.1:9/install"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || SignQuery(DefaultClientSecret, loc.Query()) != loc.Query().Get("hmac") {
		t.Errorf("install: %d %s", resp.StatusCode, loc)
	}
	if err := e.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, _ = http.Get(s.URL + "/_emulator/state")
	sb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(sb), "ctl@example.com") || strings.Contains(string(sb), DefaultClientSecret) {
		t.Errorf("state leaks secret or misses order")
	}
	post("/_emulator/faults", `{"outage":true}`)
	if st, _, _ := gql(t, s, "x", `{ shop { name } }`, nil); st != 503 {
		t.Errorf("outage: %d", st)
	}
	post("/_emulator/reset", ``)
	for _, o := range e.Orders("") {
		if o.Email == "ctl@example.com" || o.Email == "seed@example.com" {
			t.Fatal("reset kept created orders")
		}
	}
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
