package whiplash

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// goldenDir holds the openssl-signed bodies shared with the emulator.
const goldenDir = "../../testdata/golden/whiplash/"

func golden(t *testing.T, name string) ([]byte, string) {
	t.Helper()
	body, err := os.ReadFile(goldenDir + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(goldenDir + name + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return body, strings.TrimSpace(string(sig))
}

// The .sig files were made with openssl, not with this package.
func TestVerifierGoldenFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"order_shipped", "order_created", "order_status_changed"} {
		body, sig := golden(t, name)
		if got := Sign("whiplash-app-secret", body); got != sig {
			t.Fatalf("%s: Sign = %s, openssl says %s", name, got, sig)
		}
		h := http.Header{}
		h.Set(SignatureHeader, sig)
		v := Verifier{}
		if err := v.Verify(h, body, []string{"old-secret", "whiplash-app-secret"}); err != nil {
			t.Fatalf("%s: valid signature rejected: %v", name, err)
		}
		h.Set(SignatureHeader, strings.ToUpper(sig))
		if err := v.Verify(h, body, []string{"whiplash-app-secret"}); err != nil {
			t.Fatalf("%s: upper-case hex rejected: %v", name, err)
		}
		for what, tc := range map[string]struct {
			sig     string
			body    []byte
			secrets []string
			want    error
		}{
			"wrong secret":   {sig, body, []string{"nope"}, ErrBadSignature},
			"tampered body":  {sig, append([]byte(" "), body...), []string{"whiplash-app-secret"}, ErrBadSignature},
			"missing header": {"", body, []string{"whiplash-app-secret"}, ErrMissingSignature},
			"not hex":        {"zz" + sig[2:], body, []string{"whiplash-app-secret"}, ErrBadSignature},
			"no secrets":     {sig, body, nil, ErrNoSecret},
		} {
			h := http.Header{}
			if tc.sig != "" {
				h.Set(SignatureHeader, tc.sig)
			}
			if err := v.Verify(h, tc.body, tc.secrets); err != tc.want {
				t.Errorf("%s/%s: err = %v, want %v", name, what, err, tc.want)
			}
		}
	}
}

func TestDecodeWebhookGolden(t *testing.T) {
	t.Parallel()
	body, _ := golden(t, "order_shipped")
	w, err := DecodeWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	o := w.Order
	if w.EventName != "order.shipped" || o.ID != 1015 || o.Status != 300 || o.StoreID() != 2 || !o.RequireSignature {
		t.Fatalf("decoded %+v", o)
	}
	if o.DisplayName() != "Abram Jast" || o.ShippingMethodName() != "USPS Priority Mail" || len(o.OrderItems) != 2 || o.OrderItems[1].Quantity != 1 {
		t.Fatalf("decoded %+v", o)
	}
	if _, off := o.UpdatedAt.Zone(); off != -4*3600 {
		t.Fatalf("offset not kept: %v", o.UpdatedAt)
	}
	if k := w.DedupKey(body); k != "order.shipped:1015:300:2026-03-13T11:39:21-04:00" {
		t.Fatalf("DedupKey = %s", k)
	}
	body2, _ := golden(t, "order_created")
	w2, _ := DecodeWebhook(body2)
	if w2.Order.DisplayName() != "" || w2.Order.Company() != "Blue Heron LLC" {
		t.Fatalf("name/company fallback: %q %q", w2.Order.DisplayName(), w2.Order.Company())
	}
	// Ids as strings, shop_id null (the store comes from the originator).
	body3, _ := golden(t, "order_status_changed")
	w3, err := DecodeWebhook(body3)
	if err != nil {
		t.Fatal(err)
	}
	if o := w3.Order; o.ID != 1203 || o.CustomerID != 1 || o.StoreID() != 3 || o.Status != 90 || len(o.OrderItems) != 2 || o.OrderItems[0].ID != 5411 || o.OrderItems[1].Quantity != 3 {
		t.Fatalf("string ids: %+v", o)
	}
	if k := w3.DedupKey(body3); k != "order.status_changed:1203:90:2026-11-29T08:02:47-05:00" {
		t.Fatalf("DedupKey = %s", k)
	}
	for _, bad := range []string{``, `{`, `[]`, `{"order":{"id":1}}`, `{"event_name":"order.created"}`, `{"event_name":"order.created","order":{}}`, `{"event_name":"x"} {}`} {
		if _, err := DecodeWebhook([]byte(bad)); err == nil {
			t.Errorf("DecodeWebhook(%q) accepted", bad)
		}
	}
}
