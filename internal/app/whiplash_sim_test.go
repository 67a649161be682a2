package app_test

import (
	"context"
	"path/filepath"
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
	want := map[string]bool{}
	stores := map[int64]bool{}
	for _, ev := range rep.Events {
		want[ev.DedupKey] = true
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
	for _, ev := range evs {
		got[ev.DedupKey]++
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("event %s stored %d times, want 1", k, got[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("hub stored %d distinct events, simulation sent %d", len(got), len(want))
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
