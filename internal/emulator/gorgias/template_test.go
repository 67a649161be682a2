package gorgias

import (
	"net/url"
	"testing"
)

func templateVars(t *testing.T) any {
	t.Helper()
	v, err := decodeAny([]byte(`{"ticket":{"id":42,"subject":"Order question","account":{"domain":"acme"},
		"customer":{"id":7,"email":"jane+x@example.com","firstname":"jane","data":{"plan":"pro"},
			"integrations":{"12":{"__integration_type__":"shopify","orders":[{"name":"#1"},{"name":"#2"}]}}},
		"messages":[{"body_text":"first"},{"body_text":"last"}],"tags":[],"spam":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRenderTemplate(t *testing.T) {
	t.Parallel()
	vars := templateVars(t)
	tests := []struct{ in, want string }{
		{"{{ticket.id}}", "42"},
		{"{{ ticket.customer.email }}", "jane+x@example.com"},
		{"{{ticket.account.domain}}.example.com", "acme.example.com"},
		{"{{ticket.messages[-1].body_text}}", "last"},
		{"{{ticket.messages[0].body_text}}", "first"},
		{"{{ticket.messages.1.body_text}}", "last"},
		{`{{ticket.customer.integrations["12"].orders[1].name}}`, "#2"},
		{"{{ticket.customer.integrations.shopify.orders[0].name}}", "#1"},
		{"{{ticket.customer.data}}", `{"plan":"pro"}`},
		{"{{ticket.missing.deep}}", ""},
		{"{{ticket.messages[9].body_text}}", ""},
		{"{{ticket.customer.firstname | title}} / {{ticket.subject|lower}}", "Jane / order question"},
		{`{{ticket.missing | default("n/a")}}`, "n/a"},
		{"{{ticket.spam}}", "false"},
		{"{{ticket.messages | length}}", "2"},
		{"{{ticket.customer.email | urlencode}}", "jane%2Bx%40example.com"},
		{"no placeholders", "no placeholders"},
		{"unclosed {{ticket.id", "unclosed {{ticket.id"},
		{"{{}}", ""},
		{"{{ticket.id}}{{ticket.id}}", "4242"},
	}
	for _, tt := range tests {
		if got := renderTemplate(tt.in, vars, nil); got != tt.want {
			t.Errorf("render(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderURLEscapes(t *testing.T) {
	t.Parallel()
	vars := templateVars(t)
	got := renderURL("https://app.example.com/c/{{ticket.customer.email}}?email={{ticket.customer.email}}&t={{ticket.id}}", vars)
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("email") != "jane+x@example.com" || u.Path != "/c/jane+x@example.com" || u.Query().Get("t") != "42" {
		t.Fatalf("renderURL = %q", got)
	}
}

func TestRenderValueEmbedsObjects(t *testing.T) {
	t.Parallel()
	vars := templateVars(t)
	if m, ok := renderValue("{{ticket.customer.data}}", vars).(map[string]any); !ok || m["plan"] != "pro" {
		t.Fatalf("object not embedded")
	}
	if s, ok := renderValue("{{ticket.id}}", vars).(string); !ok || s != "42" {
		t.Fatalf("scalar not rendered as string")
	}
}

// FuzzRenderTemplate: the renderer and the path walker never panic.
func FuzzRenderTemplate(f *testing.F) {
	for _, s := range []string{"{{ticket.id}}", "{{ a.b[0]['c'] | default('x') | upper }}", "{{", "}}{{", "{{[}}", "{{a[-99999999999]}}",
		"{{ x | join(',') | title }}", `{{"lit"|first}}`, "{{ticket.customer.integrations.shopify}}", "{{ . . }}", "{{a||b(}}", "{{ticket.messages[-1]}}"} {
		f.Add(s)
	}
	vars, err := decodeAny([]byte(`{"ticket":{"id":1,"customer":{"integrations":{"1":{"__integration_type__":"shopify"}}},"messages":[{"a":1}]},"a":{"b":[{"c":"d"}]},"x":["1",2,null]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = renderTemplate(s, vars, nil)
		_ = renderTemplate(s, vars, url.QueryEscape)
		_ = renderValue(s, vars)
		_ = renderURL(s, vars)
		_, _ = lookupPath(vars, s)
		bs := &buildState{}
		if tpl, err := decodeAny([]byte(s)); err == nil {
			if m, ok := tpl.(map[string]any); ok {
				bs.buildNode(m, vars, "", 0)
			}
		}
	})
}

// FuzzWidgetTemplate: rendering any widget template over any data never
// panics.
func FuzzWidgetTemplate(f *testing.F) {
	f.Add(`{"type":"wrapper","widgets":[{"type":"card","path":"order","title":"{{name}}","widgets":[{"type":"text","path":"id"}]}]}`, `{"order":{"id":1,"name":"#1"}}`)
	f.Add(`{"type":"list","path":"l","meta":{"limit":"2"},"widgets":[{"type":"date","path":"d"}]}`, `{"l":[{"d":"2025-01-01"},{"d":"x"},3]}`)
	f.Add(`{"type":"card","meta":{"custom":{"links":[{"label":"{{a}}","url":"https://x/{{a}}"}]}}}`, `{"a":"b c"}`)
	f.Add(`{"type":"boolean","path":"b"}`, `{"b":"1"}`)
	f.Add(`{"type":"age","path":"b"}`, `{"b":"1990-02-03"}`)
	f.Fuzz(func(t *testing.T, tpl, data string) {
		tv, err1 := decodeAny([]byte(tpl))
		dv, err2 := decodeAny([]byte(data))
		m, ok := tv.(map[string]any)
		if err1 != nil || err2 != nil || !ok {
			return
		}
		bs := &buildState{}
		bs.buildNode(m, dv, "", 0)
	})
}
