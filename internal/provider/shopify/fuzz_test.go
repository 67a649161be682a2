package shopify_test

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"switchyard/internal/provider/shopify"
)

// FuzzOrderWebhook: the X-Shopify-Hmac-Sha256 verifier, the delivery
// headers and the orders/* decoder never panic on any body and header; a
// body signed with one of the accepted secrets verifies and no other secret
// does; a decoded order converts (AsOrder) and the final-sale rule runs on
// each of its lines.
func FuzzOrderWebhook(f *testing.F) {
	golden, err := os.ReadFile("../../testdata/golden/shopify/orders_updated.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden, "", "orders/updated", "2026-04-12T09:30:00Z")
	for _, s := range []string{
		`{"id":1,"email":"a@example.com","created_at":"2026-04-10T14:03:11Z","line_items":[{"id":2,"quantity":1,"price":"1.00","properties":[{"name":"_together_final_sale","value":true},{"name":"x","value":{"a":[1]}}]}]}`,
		`{"id":1,"tags":" , a,,b ","line_items":[{"properties":null}],"fulfillment_status":null}`,
		`{"id":0}`, `{"id":"1"}`, `{"id":1e3}`, `{"id":1,"created_at":"yesterday"}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s), "", "orders/create", "")
		f.Add([]byte(s), "not base64!", "", "bad time")
	}
	f.Fuzz(func(t *testing.T, body []byte, sig, topic, triggered string) {
		h := http.Header{}
		h.Set(shopify.SignatureHeader, sig)
		h.Set(shopify.TopicHeader, topic)
		h.Set(shopify.TriggeredAtHeader, triggered)
		_ = (shopify.Verifier{}).Verify(h, body, []string{"secret"}) // any header: an answer, never a panic
		m := shopify.MetaFrom(h)
		if k := m.DedupKey(body); !strings.HasPrefix(k, "shopify:") {
			t.Fatalf("dedup key %q", k)
		}
		h.Set(shopify.SignatureHeader, shopify.Sign("secret", body))
		if err := (shopify.Verifier{}).Verify(h, body, []string{"old", "secret"}); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err := (shopify.Verifier{}).Verify(h, body, []string{"old"}); !errors.Is(err, shopify.ErrBadSignature) {
			t.Fatalf("wrong secret accepted: %v", err)
		}
		w, err := shopify.DecodeOrderWebhook(body)
		if err != nil {
			return
		}
		if w.ID == 0 {
			t.Fatal("decoded an order without an id")
		}
		o := w.AsOrder()
		if len(o.LineItems) != len(w.LineItems) || o.ID == "" {
			t.Fatalf("AsOrder lost lines or id: %+v", o)
		}
		for _, li := range o.LineItems {
			_ = (shopify.FinalSaleRule{}).IsFinalSale(o, li)
		}
	})
}
