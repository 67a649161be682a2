package whiplash_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	emu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
)

// emulatorWebhooks captures real webhook bodies from the emulator: an
// order's whole lifecycle (created … shipped with and without tracking,
// delivered, cancelled) and a short simulation.
func emulatorWebhooks(tb testing.TB) [][]byte {
	tb.Helper()
	var mu sync.Mutex
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	e := emu.New(emu.Config{Seed: 1, Fixtures: &emu.SeedOptions{}, TargetURL: rcv.URL})
	defer e.Close()
	a, err := e.CreateOrder(1, "fuzz@example.com")
	if err != nil {
		tb.Fatal(err)
	}
	for _, st := range []int{120, 150, 160, 250, 300, 350} {
		if _, err := e.Transition(int64(a.ID), st, emu.TransitionOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	c, _ := e.CreateOrder(2, "")
	_, _ = e.Transition(int64(c.ID), 40, emu.TransitionOptions{})
	d, _ := e.CreateOrder(3, "")
	_, _ = e.Transition(int64(d.ID), 300, emu.TransitionOptions{NoTracking: true})
	if err := e.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Simulate(context.Background(), emu.SimOptions{Orders: 3, Seed: 2, Duration: 6 * time.Hour, TargetURL: rcv.URL}); err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return bodies
}

func TestEmulatorWebhooksDecode(t *testing.T) {
	t.Parallel()
	bodies := emulatorWebhooks(t)
	if len(bodies) < 10 {
		t.Fatalf("only %d webhooks captured", len(bodies))
	}
	for _, b := range bodies {
		w, err := whiplash.DecodeWebhook(b)
		if err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if w.Order.Email == "" || w.Order.UpdatedAt.IsZero() || w.Order.StatusName == "" || w.Order.StoreID() == 0 {
			t.Fatalf("incomplete order in %s", b)
		}
	}
}

func FuzzDecodeWebhook(f *testing.F) {
	for _, b := range emulatorWebhooks(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"event_name":"order.shipped","order":{"id":"1015","status":"300","tracking":null,"packages":[{"id":1,"tracking":null}]}}`,
		`{"event_name":"item.created","item":{"id":1}}`,
		`{"event_name":"order.created","order":{"id":1,"updated_at":"2026-03-13 11:39:21 -0400","created_at":""}}`,
		`{"event_name":"order.created","order":{"id":1.5e3,"customer_id":null}} trailing`,
		`{"event_name":"","order":{}}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := whiplash.DecodeWebhook(body)
		if err != nil {
			return
		}
		if w.EventName == "" {
			t.Fatal("decoded a webhook without event_name")
		}
		_ = w.DedupKey(body)
		if w.Order != nil {
			_ = w.Order.DisplayName()
			_ = w.Order.Company()
			_ = w.Order.ShippingMethodName()
			_ = w.Order.StoreID()
			if _, err := json.Marshal(w.Order); err != nil {
				t.Fatalf("decoded order does not re-encode: %v", err)
			}
		}
		h := http.Header{}
		h.Set(whiplash.SignatureHeader, whiplash.Sign("s", body))
		if err := (whiplash.Verifier{}).Verify(h, body, []string{"s"}); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		_ = whiplash.ErrorMessage(body)
	})
}
