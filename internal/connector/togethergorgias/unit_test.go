package togethergorgias

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/shopify"
)

func TestParseDomains(t *testing.T) {
	for in, want := range map[string]string{"acme.myshopify.com": "acme.myshopify.com", " Acme-2.MyShopify.com ": "acme-2.myshopify.com"} {
		if got, err := ParseShopifyStore(in); err != nil || got != want {
			t.Errorf("ParseShopifyStore(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "acme.com", "https://acme.myshopify.com", "acme.myshopify.com/admin", "-acme.myshopify.com", "a.b.myshopify.com", ".myshopify.com"} {
		if _, err := ParseShopifyStore(in); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("ParseShopifyStore(%q) err = %v, want invalid", in, err)
		}
	}
	if got, err := ParseGorgiasAccount("ACME.gorgias.com"); err != nil || got != "acme.gorgias.com" {
		t.Errorf("ParseGorgiasAccount = %q, %v", got, err)
	}
	for _, in := range []string{"", "acme", "acme.gorgias.io", "x.acme.gorgias.com", "acme.gorgias.com:443"} {
		if _, err := ParseGorgiasAccount(in); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("ParseGorgiasAccount(%q) err = %v, want invalid", in, err)
		}
	}
}

func TestStateSignature(t *testing.T) {
	st := oauthState{Vendor: "shopify", Installation: "ins_1", Merchant: "mer_1", Expires: time.Unix(1900000000, 0), Nonce: "abc"}
	signed := st.sign("secret")
	got, payload, mac, ok := parseState(signed)
	if !ok || got != st || string(mac) != string(stateMAC("secret", payload)) {
		t.Fatalf("parse = %+v %v", got, ok)
	}
	if string(mac) == string(stateMAC("other", payload)) {
		t.Fatal("the MAC does not depend on the secret")
	}
	forged := oauthState{Vendor: "shopify", Installation: "ins_2", Merchant: "mer_1", Expires: st.Expires, Nonce: "abc"}.sign("guess")
	_, p2, m2, _ := parseState(forged)
	if string(m2) == string(stateMAC("secret", p2)) {
		t.Fatal("a state signed with another secret verifies")
	}
	for _, bad := range []string{"", "x", "e30.", signed + "x.y", strings.Repeat("a", 2000)} {
		if _, _, _, ok := parseState(bad); ok && bad != signed {
			t.Errorf("parseState(%q) ok", bad)
		}
	}
}

func TestAnswer(t *testing.T) {
	b, _ := json.Marshal(BuildAnswer(nil))
	if string(b) != `{"together":null}` {
		t.Fatalf("no orders = %s, want the widget hidden", b)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	o := shopify.FinalSaleOrder{Order: shopify.Order{Name: "#1001", CreatedAt: at}, UpgradedAt: at.Add(time.Hour),
		Items: []shopify.LineItem{{Title: "Shirt", VariantTitle: "M", SKU: "S-M", Quantity: 2, UnitPrice: shopify.Money{Amount: "10.00", CurrencyCode: "EUR"}}}}
	a := BuildAnswer([]shopify.FinalSaleOrder{o})
	if a.Together == nil || len(a.Together.Orders) != 1 {
		t.Fatalf("answer = %+v", a)
	}
	got := a.Together.Orders[0]
	if got.Name != "#1001" || got.Date != "2026-11-01T10:00:00Z" || got.UpgradedAt != "2026-11-01T11:00:00Z" ||
		got.Items[0] != (ItemData{Title: "Shirt", Variant: "M", SKU: "S-M", Quantity: 2, Price: "10.00 EUR"}) {
		t.Fatalf("order = %+v", got)
	}
	// The widget reads what the answer holds.
	tpl := WidgetTemplate()
	if tpl.Widgets[0].Path != DataKey || tpl.Widgets[0].Widgets[0].Path != "orders" {
		t.Fatalf("template paths = %+v", tpl.Widgets[0])
	}
}

func TestIntegrationShape(t *testing.T) {
	in := Integration("https://hub.example.com/hooks/gorgias/together-gorgias/ins_1", "tg_x")
	if in.Name != "Together" || in.Type != "http" || in.HTTP.Method != "POST" || in.HTTP.Headers[TokenHeader] != "tg_x" ||
		in.HTTP.RequestContentType != "application/json" || in.HTTP.ResponseContentType != "application/json" {
		t.Fatalf("integration = %+v", in)
	}
	for k, v := range map[string]string{"ticket_id": "{{ticket.id}}", "account_domain": "{{ticket.account.domain}}", "email": "{{ticket.customer.email}}"} {
		if in.HTTP.Form[k] != v {
			t.Errorf("form %s = %q, want %q", k, in.HTTP.Form[k], v)
		}
	}
}

// A merchant knows its connection's client secret, not the hub's key: a
// state it signs with the secret alone does not verify.
func TestStateNeedsTheHubKey(t *testing.T) {
	c := New(connector.Deps{Clients: &connector.Clients{FingerprintKey: []byte("hub key")}})
	st := oauthState{Vendor: "gorgias", Installation: "ins_b", Merchant: "mer_b", Expires: time.Unix(1900000000, 0), Nonce: "n"}
	_, payload, mac, _ := parseState(st.sign("shared app secret"))
	if string(mac) == string(stateMAC(c.stateKey("shared app secret"), payload)) {
		t.Fatal("a state signed without the hub's key verifies")
	}
	_, payload, mac, _ = parseState(st.sign(c.stateKey("shared app secret")))
	if string(mac) != string(stateMAC(c.stateKey("shared app secret"), payload)) {
		t.Fatal("the hub's own state does not verify")
	}
}
