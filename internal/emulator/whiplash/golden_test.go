package whiplash

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenDir holds the openssl-signed bodies shared with the client.
const goldenDir = "../../testdata/golden/whiplash"

var goldenNames = []string{"order_created", "order_shipped", "order_status_changed"}

func readGolden(t *testing.T, name string) (body []byte, sig string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(goldenDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.ReadFile(filepath.Join(goldenDir, name+".sig"))
	if err != nil {
		t.Fatal(err)
	}
	return body, strings.TrimSpace(string(s))
}

// TestSignGolden: the emulator's signer produces openssl's signatures.
func TestSignGolden(t *testing.T) {
	t.Parallel()
	for _, name := range goldenNames {
		body, sig := readGolden(t, name)
		if got := Sign(DefaultClientSecret, body); got != sig {
			t.Errorf("%s: Sign = %s, openssl %s", name, got, sig)
		}
		if Sign("another-secret", body) == sig {
			t.Errorf("%s: the secret does not matter", name)
		}
	}
}

// TestWireTypesReadGolden: the emulator's wire types read every golden
// body, string ids included, and render every key of it again, so the
// emulator names the fields as the samples do.
func TestWireTypesReadGolden(t *testing.T) {
	t.Parallel()
	for _, name := range goldenNames {
		body, _ := readGolden(t, name)
		var w webhook
		if err := json.Unmarshal(body, &w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.EventName == "" || w.Order == nil || w.Order.ID == 0 || w.Order.Status == 0 || w.Order.UpdatedAt.IsZero() || len(w.Order.OrderItems) == 0 || w.Order.OrderItems[0].ID == 0 {
			t.Fatalf("%s: decoded %+v", name, w.Order)
		}
		out, err := json.Marshal(w.Order)
		if err != nil {
			t.Fatal(err)
		}
		var in, back map[string]json.RawMessage
		var raw struct {
			Order map[string]json.RawMessage `json:"order"`
		}
		_ = json.Unmarshal(body, &raw)
		in = raw.Order
		_ = json.Unmarshal(out, &back)
		for k, v := range in {
			if slices.Contains([]string{`null`, `""`, `[]`}, string(v)) {
				continue // empty values may be omitted
			}
			if _, ok := back[k]; !ok {
				t.Errorf("%s: field %q of the sample is not rendered by the emulator", name, k)
			}
		}
	}
	// The string-id sample decodes its ids.
	body, _ := readGolden(t, "order_status_changed")
	var w webhook
	_ = json.Unmarshal(body, &w)
	if w.Order.ID != 1203 || w.Order.CustomerID != 1 || w.Order.OrderItems[1].ID != 5412 || w.Order.OrderItems[1].Quantity != 3 || storeOf(w.Order) != 3 {
		t.Fatalf("string ids: %+v", w.Order)
	}
}
