package app_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/emulator/whiplash"
)

// TestWhiplashDayIntoServe: the Whiplash emulator's sender delivers a
// simulated day of orders for three stores, with duplicates and
// out-of-order deliveries, to a running hub; the hub stores each distinct
// event exactly once and processes each once.
func TestWhiplashDayIntoServe(t *testing.T) {
	t.Parallel()
	b := startApp(t, "sqlite://"+filepath.Join(t.TempDir(), "hub.db"))
	emu := whiplash.New(whiplash.Config{Seed: 7})
	defer emu.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := emu.Simulate(ctx, whiplash.SimOptions{
		Stores: []int64{1, 2, 3}, Orders: 90, Duration: 24 * time.Hour, FullLifecycle: true,
		DuplicateRate: 0.2, ReorderRate: 0.1, Concurrency: 8, Seed: 11,
		TargetURL: b.url + "/hooks/whiplash/" + b.inst, TargetSecret: "whiplash-app-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Duplicates == 0 || rep.Reordered == 0 {
		t.Fatalf("simulation: %d failed, %d duplicates, %d reordered", rep.Failed, rep.Duplicates, rep.Reordered)
	}
	// Expectations come from the simulation's own event ids (event name and
	// store/order/status/updated_at of the transition), never from
	// switchyard's dedup key: a key too coarse stores fewer events than were
	// sent, one too fine stores a duplicate twice, and both fail below.
	want := map[string]bool{}
	stores := map[int64]bool{}
	for _, ev := range rep.Events {
		if want[ev.ID] {
			t.Fatalf("simulation reported event %s twice", ev.ID)
		}
		want[ev.ID] = true
		stores[ev.StoreID] = true
	}
	if len(stores) != 3 {
		t.Fatalf("events from %d stores, want 3", len(stores))
	}
	evs, err := b.app.Store().ListEvents(b.ctx, domain.EventFilter{MerchantID: b.merch, InstallationID: b.inst, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) >= 1000 {
		t.Fatal("more events than one page; raise the limit")
	}
	got := map[string]int{}
	stringIDs := 0
	for _, ev := range evs {
		id, quoted := simEventID(t, ev.Payload)
		if !want[id] {
			t.Errorf("stored event %s was never sent", id)
		}
		got[id]++
		if quoted {
			stringIDs++
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("event %s stored %d times, want 1", id, got[id])
		}
	}
	if len(evs) != len(want) {
		t.Errorf("hub stored %d events, simulation sent %d distinct events", len(evs), len(want))
	}
	if stringIDs == 0 {
		t.Error("no stored payload carried string ids: the client's tolerant numbers were not exercised")
	}
	waitFor(t, "every event processed", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.handled) == len(want)
	})
	b.mu.Lock()
	for id, n := range b.handled {
		if n != 1 {
			t.Errorf("event %d processed %d times", id, n)
		}
	}
	b.mu.Unlock()
	t.Logf("%d orders, %d distinct events, %d deliveries sent (%d duplicates, %d reordered) in %v", rep.Orders, len(want), rep.Sent, rep.Duplicates, rep.Reordered, rep.Elapsed)
}

// simEventID names a stored Whiplash payload the way the simulation names
// the events it sends (whiplash.EventID of whiplash.TransitionID). It reads
// the body with encoding/json only, not with switchyard's decoder; quoted
// reports whether the order id arrived as a JSON string.
func simEventID(t *testing.T, payload []byte) (id string, quoted bool) {
	t.Helper()
	var body struct {
		EventName string `json:"event_name"`
		Order     struct {
			ID         json.RawMessage `json:"id"`
			Status     json.Number     `json:"status"`
			UpdatedAt  time.Time       `json:"updated_at"`
			ShopID     json.Number     `json:"shop_id"`
			Originator struct {
				ShopID json.Number `json:"shop_id"`
			} `json:"originator"`
		} `json:"order"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		t.Fatalf("stored payload is not a webhook: %v\n%s", err, payload)
	}
	o := body.Order
	raw := string(o.ID)
	quoted = strings.HasPrefix(raw, `"`)
	orderID, err := strconv.ParseInt(strings.Trim(raw, `"`), 10, 64)
	if err != nil {
		t.Fatalf("order id %s: %v", raw, err)
	}
	shop := o.ShopID
	if shop == "" {
		shop = o.Originator.ShopID
	}
	store, err1 := shop.Int64()
	status, err2 := o.Status.Int64()
	if err1 != nil || err2 != nil {
		t.Fatalf("stored payload has no store or status: %s", payload)
	}
	return whiplash.EventID(body.EventName, whiplash.TransitionID(store, orderID, int(status), o.UpdatedAt)), quoted
}
