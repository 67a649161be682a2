package shopify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// Every field of the schema's object types has a resolver, and every
// resolver serves a field of the schema: the SDL is what is served.
func TestSchemaFieldsHaveResolvers(t *testing.T) {
	t.Parallel()
	schema, err := adminSchema()
	if err != nil {
		t.Fatal(err)
	}
	res := newResolvers()
	for name, def := range schema.Types {
		if def.BuiltIn || def.Kind != ast.Object || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if res[name][f.Name] == nil {
				t.Errorf("%s.%s has no resolver", name, f.Name)
			}
		}
	}
	for typ, fields := range res {
		def := schema.Types[typ]
		if def == nil {
			t.Errorf("resolvers for %s, which the schema does not have", typ)
			continue
		}
		for f := range fields {
			if def.Fields.ForName(f) == nil {
				t.Errorf("resolver for %s.%s, which the schema does not have", typ, f)
			}
		}
	}
	if q := schema.Query; q == nil || q.Name != "QueryRoot" {
		t.Errorf("query root = %v", q)
	}
}

// A field Shopify does not have fails as at Shopify: message, location,
// path from the operation, and extensions.code with the type and field.
func TestGraphQLUndefinedFieldShape(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders")
	query := "query Q {\n  orders(first: 1) {\n    edges { node { id properties { name } } }\n  }\n}"
	st, _, raw := gql(t, s, tok, query, nil)
	var out struct {
		Data   json.RawMessage  `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	if st != 200 || out.Data != nil || len(out.Errors) != 1 {
		t.Fatalf("%d %s", st, raw)
	}
	want := `{"extensions":{"code":"undefinedField","fieldName":"properties","typeName":"Order"},` +
		`"locations":[{"column":23,"line":3}],"message":"Field 'properties' doesn't exist on type 'Order'",` +
		`"path":["query Q","orders","edges","node","properties"]}`
	if got, _ := json.Marshal(out.Errors[0]); string(got) != want {
		t.Errorf("error\n got %s\nwant %s", got, want)
	}
}

func TestGraphQLValidationErrors(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders", "read_customers")
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		code, msg   string
		path        []any
	}{
		{"REST field name", `{ orders(first: 1) { nodes { order_status_url } } }`, nil, "undefinedField", "Field 'order_status_url' doesn't exist on type 'Order'",
			[]any{"query", "orders", "nodes", "order_status_url"}},
		{"line item properties", `{ orders(first: 1) { nodes { lineItems(first: 1) { nodes { properties { name } } } } } }`, nil, "undefinedField",
			"doesn't exist on type 'LineItem'", nil},
		{"field in a fragment", `{ shop { ...S } } fragment S on Shop { plan }`, nil, "undefinedField", "Field 'plan' doesn't exist on type 'Shop'",
			[]any{"fragment S", "plan"}},
		{"field in an inline fragment", `{ orders(first: 1) { nodes { ... on Order { nope } } } }`, nil, "undefinedField", "",
			[]any{"query", "orders", "nodes", "... on Order", "nope"}},
		{"customer email address object", `{ customer(id: "gid://shopify/Customer/1") { emailAddress { emailAddress } } }`, nil, "undefinedField",
			"Field 'emailAddress' doesn't exist on type 'Customer'", nil},
		{"unknown argument", `{ orders(first: 1, foo: 2) { nodes { id } } }`, nil, "argumentNotAccepted", "Field 'orders' doesn't accept argument 'foo'",
			[]any{"query", "orders", "foo"}},
		{"unknown directive argument", `{ shop { name @skip(if: true, unless: false) } }`, nil, "argumentNotAccepted", "Directive 'skip' doesn't accept argument 'unless'", nil},
		{"missing required argument", `{ order { id } }`, nil, "missingRequiredArguments", "Field 'order' is missing required arguments: id",
			[]any{"query", "order"}},
		{"object without selection", `{ shop }`, nil, "selectionMismatch", "Field must have selections (field 'shop' returns Shop! but has no selections.", nil},
		{"scalar with selection", `{ shop { name { x } } }`, nil, "selectionMismatch", "Selections can't be made on scalars", nil},
		{"undeclared variable", `query Q { orders(first: $n) { nodes { id } } }`, nil, "variableNotDefined", "Variable $n is used by query 'Q' but not declared", nil},
		{"unknown fragment", `{ shop { ...F } }`, nil, "useAndDefineFragment", "Fragment F was used, but not defined", nil},
		{"unused fragment", `{ shop { name } } fragment F on Shop { name }`, nil, "useAndDefineFragment", "", nil},
		{"fragment cycle", `{ orders(first: 1) { nodes { ...A } } } fragment A on Order { ...B } fragment B on Order { ...A }`, nil, "infiniteLoop", "", nil},
		{"bad enum literal", `{ orders(first: 1, sortKey: NAME) { nodes { id } } }`, nil, "argumentLiteralsIncompatible", "OrderSortKeys", nil},
		{"string for an Int", `{ orders(first: "1") { nodes { id } } }`, nil, "argumentLiteralsIncompatible", "", nil},
		{"fragment on a scalar", `{ shop { ... on String { x } } }`, nil, "", "", nil},
		{"conflicting aliases", `{ orders(first: 1) { nodes { a: id a: name } } }`, nil, "fieldConflict", "", nil},
		{"variable of the wrong type", `query($n: String) { orders(first: $n) { nodes { id } } }`, nil, "variableMismatch", "", nil},
		{"bad enum variable", `query($k: OrderSortKeys) { orders(first: 1, sortKey: $k) { nodes { id } } }`, map[string]any{"k": "NAME"},
			"INVALID_VARIABLE", "Variable $k of type OrderSortKeys was provided invalid value", nil},
		{"null for a required variable", `query($n: Int!) { orders(first: $n) { nodes { id } } }`, map[string]any{"n": nil},
			"INVALID_VARIABLE", "Variable $n of type Int! was provided invalid value", nil},
		{"float for an Int variable", `query($n: Int!) { orders(first: $n) { nodes { id } } }`, map[string]any{"n": 1.5},
			"INVALID_VARIABLE", "Variable $n of type Int! was provided invalid value", nil},
		{"introspection", `{ __schema { types { name } } }`, nil, "NOT_SUPPORTED", "Introspection is not emulated", nil},
		{"last too big", `{ orders(last: 251) { nodes { id } } }`, nil, "", "last must be an integer between 0 and 250", nil},
	} {
		st, out, raw := gql(t, s, tok, tc.query, tc.vars)
		if st != 200 || len(out.Errors) == 0 || out.Data != nil {
			t.Errorf("%s: %d %s", tc.name, st, raw)
			continue
		}
		g := out.Errors[0]
		if code, _ := g.Ext["code"].(string); tc.code != "" && code != tc.code {
			t.Errorf("%s: code %q, want %q: %s", tc.name, code, tc.code, raw)
		}
		if !strings.Contains(g.Message, tc.msg) {
			t.Errorf("%s: message %q, want it to contain %q", tc.name, g.Message, tc.msg)
		}
		if tc.path != nil && fmt.Sprint(g.Path) != fmt.Sprint(tc.path) {
			t.Errorf("%s: path %v, want %v", tc.name, g.Path, tc.path)
		}
		if len(g.Locations) == 0 && !strings.HasPrefix(tc.code, "INVALID") {
			t.Errorf("%s: no location: %s", tc.name, raw)
		}
	}
}

func TestGraphQLParseErrors(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders")
	for _, q := range []string{`{ orders(first: 1) { edges { node { id } }`, `{ orders(first: 1) ^ }`, `query`, `{ a(b: "open) }`,
		strings.Repeat("{ shop ", 1100)} {
		st, out, raw := gql(t, s, tok, q, nil)
		if st != 200 || len(out.Errors) != 1 || !strings.HasPrefix(out.Errors[0].Message, "Parse error") || out.Errors[0].Ext != nil {
			t.Errorf("%.40q: %d %.300s", q, st, raw)
		}
	}
	// A document of fragments only has no operation.
	if _, out, raw := gql(t, s, tok, `fragment F on Shop { name }`, nil); len(out.Errors) == 0 || !strings.Contains(out.Errors[0].Message, "No operations") {
		t.Errorf("fragments only: %s", raw)
	}
}

func TestGraphQLExecution(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 4, Customers: 2, Emails: []string{"x@example.com"}})
	tok := e.IssueToken("", "read_orders", "read_all_orders", "read_customers")
	var mine []Order
	for _, o := range e.Orders("") {
		if o.Email == "x@example.com" {
			mine = append(mine, o)
		}
	}
	if len(mine) < 2 {
		t.Fatalf("fixtures: %d orders", len(mine))
	}

	// Fields of one response key are merged; interface fragments apply.
	q := `query($q: String!) {
  orders(first: 10, query: $q) { nodes { id ... on Node { id } } }
  orders(first: 10, query: $q) { nodes { name ...N } }
}
fragment N on Node { __typename }`
	_, out, raw := gql(t, s, tok, q, map[string]any{"q": "email:x@example.com"})
	nodes := out.Data["orders"].(map[string]any)["nodes"].([]any)
	n0 := nodes[0].(map[string]any)
	if len(out.Errors) > 0 || len(nodes) != len(mine) || n0["id"] == nil || n0["name"] == nil || n0["__typename"] != "Order" {
		t.Fatalf("merged fields: %s", raw)
	}
	if !strings.Contains(raw, `{"id":"gid://shopify/Order/`) || !strings.Contains(raw, `","name":"#`) {
		t.Errorf("response keys out of selection order: %s", raw)
	}

	// Default sortKey is PROCESSED_AT (the schema's default): oldest first.
	_, out, raw = gql(t, s, tok, `{ orders(first: 250, query: "email:x@example.com") { nodes { processedAt } } }`, nil)
	var times []string
	for _, n := range out.Data["orders"].(map[string]any)["nodes"].([]any) {
		times = append(times, n.(map[string]any)["processedAt"].(string))
	}
	if len(times) != len(mine) || !slices.IsSorted(times) {
		t.Errorf("default sort: %s", raw)
	}

	// Customer: the non-deprecated email, the deprecated one, and customer(id).
	_, out, raw = gql(t, s, tok, `{ orders(first: 1, query: "email:x@example.com") { nodes { customer { id email defaultEmailAddress { emailAddress } displayName } } } }`, nil)
	cust := out.Data["orders"].(map[string]any)["nodes"].([]any)[0].(map[string]any)["customer"].(map[string]any)
	if cust["email"] != "x@example.com" || cust["defaultEmailAddress"].(map[string]any)["emailAddress"] != "x@example.com" {
		t.Fatalf("customer: %s", raw)
	}
	_, out, raw = gql(t, s, tok, `query($id: ID!) { customer(id: $id) { legacyResourceId defaultEmailAddress { emailAddress } } }`, map[string]any{"id": cust["id"]})
	if c, _ := out.Data["customer"].(map[string]any); c == nil || c["defaultEmailAddress"].(map[string]any)["emailAddress"] != "x@example.com" {
		t.Errorf("customer(id): %s", raw)
	}
	_, out, raw = gql(t, s, e.IssueToken("", "read_orders"), `query($id: ID!) { customer(id: $id) { id } }`, map[string]any{"id": cust["id"]})
	if len(out.Errors) == 0 || out.Errors[0].Ext["code"] != "ACCESS_DENIED" || out.Data["customer"] != nil {
		t.Errorf("customer without read_customers: %s", raw)
	}

	// A nullable field resolving to null, a bad global id, and null
	// propagation of a non-null field (orders) to data.
	_, out, raw = gql(t, s, tok, `{ order(id: "gid://shopify/Order/1") { id } shop { name } }`, nil)
	if len(out.Errors) > 0 || out.Data["order"] != nil || out.Data["shop"] == nil {
		t.Errorf("unknown order: %s", raw)
	}
	_, out, raw = gql(t, s, tok, `{ order(id: "123") { id } }`, nil)
	if len(out.Errors) != 1 || out.Errors[0].Message != "Invalid global id '123'" || fmt.Sprint(out.Errors[0].Path) != "[order]" {
		t.Errorf("bad global id: %s", raw)
	}
	st, out, raw := gql(t, s, tok, `{ shop { name } orders(first: 1, after: "zzz") { nodes { id } } }`, nil)
	if st != 200 || len(out.Errors) != 1 || out.Data != nil || !strings.Contains(raw, `"data":null`) {
		t.Errorf("non-null orders failing: %s", raw)
	}

	// Variables: a default, an enum variable, @include on a fragment spread.
	q = `query($n: Int = 1, $key: OrderSortKeys!, $more: Boolean = false) {
  orders(first: $n, sortKey: $key, reverse: true, query: "email:x@example.com") { nodes { name ...More @include(if: $more) } }
}
fragment More on Order { email }`
	_, out, raw = gql(t, s, tok, q, map[string]any{"key": "ORDER_NUMBER"})
	got := out.Data["orders"].(map[string]any)["nodes"].([]any)
	last := mine[len(mine)-1]
	if len(out.Errors) > 0 || len(got) != 1 || got[0].(map[string]any)["name"] != last.Name() || got[0].(map[string]any)["email"] != nil {
		t.Errorf("variables: %s (want %s)", raw, last.Name())
	}
}

func TestGraphQLOperationSelection(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders")
	doc := `query A { shop { name } } query B { shop { id } }`
	for _, tc := range []struct{ op, want string }{{"A", `"name"`}, {"B", `"id"`}, {"C", `No operation named \"C\"`}, {"", "An operation name is required"}} {
		body := map[string]any{"query": doc, "operationName": tc.op}
		st, raw := postGraphQL(t, s, tok, body)
		if st != 200 || !strings.Contains(raw, tc.want) {
			t.Errorf("operation %q: %d %s", tc.op, st, raw)
		}
	}
	if _, out, raw := gql(t, s, tok, `mutation { shop { name } }`, nil); len(out.Errors) == 0 || out.Errors[0].Ext["code"] != "NOT_SUPPORTED" {
		t.Errorf("mutation: %s", raw)
	}
	// The token is checked before the document.
	if st, _, raw := gql(t, s, "shpat_nope", `{ nope `, nil); st != 401 {
		t.Errorf("bad token and bad query: %d %s", st, raw)
	}
}

// A short document whose fragments multiply into millions of fields is
// refused before it runs, as too large, whatever its cost.
func TestGraphQLFragmentExpansionGuard(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1})
	tok := e.IssueToken("", "read_orders")
	var b strings.Builder
	b.WriteString("{ orders(first: 0) { ...OC } }\n")
	rep := func(format string) string {
		var parts []string
		for i := range 12 {
			parts = append(parts, fmt.Sprintf(format, i))
		}
		return strings.Join(parts, " ")
	}
	for _, f := range [][3]string{
		{"OC", "OrderConnection", "e%d: edges { ...OE }"}, {"OE", "OrderEdge", "n%d: node { ...O }"},
		{"O", "Order", "l%d: lineItems(first: 0) { ...LC }"}, {"LC", "LineItemConnection", "e%d: edges { ...LE }"},
		{"LE", "LineItemEdge", "n%d: node { ...L }"}, {"L", "LineItem", "v%d: variant { ...V }"}, {"V", "ProductVariant", "s%d: sku"},
	} {
		fmt.Fprintf(&b, "fragment %s on %s { %s }\n", f[0], f[1], rep(f[2]))
	}
	st, out, raw := gql(t, s, tok, b.String(), nil)
	if st != 200 || len(out.Errors) != 1 || out.Errors[0].Ext["code"] != "MAX_COST_EXCEEDED" || !strings.Contains(out.Errors[0].Message, "too large") {
		t.Fatalf("%d %.400s", st, raw)
	}
}

func TestCheckQuery(t *testing.T) {
	t.Parallel()
	dep, err := CheckQuery(`query($q: String!) { orders(first: 1, query: $q) { nodes { customer { email id } ...C } } } fragment C on Order { customer { email } }`)
	if err != nil || !slices.Equal(dep, []string{"Customer.email"}) {
		t.Errorf("deprecated = %v, %v", dep, err)
	}
	dep, err = CheckQuery(`{ orders(first: 1) { nodes { customer { defaultEmailAddress { emailAddress } } } } }`)
	if err != nil || len(dep) != 0 {
		t.Errorf("non-deprecated: %v, %v", dep, err)
	}
	if _, err := CheckQuery(`{ orders(first: 1) { nodes { nope } } }`); err == nil || !strings.Contains(err.Error(), "Field 'nope' doesn't exist on type 'Order'") {
		t.Errorf("invalid query: %v", err)
	}
	if _, err := CheckQuery(`{`); err == nil || !strings.HasPrefix(err.Error(), "Parse error") {
		t.Errorf("unparsable query: %v", err)
	}
}

func postGraphQL(t *testing.T, s *httptest.Server, tok string, body map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/admin/api/2026-07/graphql.json", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
