package storetest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// exerciseRateBudgets checks the shared rate budget rows (GCRA): charges
// from many connections at once are all counted, a new key starts at its
// fresh time, holds never lower the TAT or the pause, and the state is
// read back by the list.
func exerciseRateBudgets(t *testing.T, open Opener) {
	t.Run("RateBudgetChargesAreAtomic", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		const interval = 50 * time.Millisecond
		// A fresh key starts at fresh (here 1 s after now: an empty bucket
		// of 20 at a cold start), then every charge adds one interval.
		b, err := s.TakeRateBudget(ctx, "gorgias:acme", interval, t0.Add(time.Second), t0)
		must(t, err)
		if want := t0.Add(time.Second + interval); !b.TAT.Equal(want) || b.Key != "gorgias:acme" || !b.PausedUntil.IsZero() {
			t.Fatalf("first charge = %+v, want TAT %v, no pause", b, want)
		}
		// 40 charges from concurrent callers at the same instant: none is lost.
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.TakeRateBudget(ctx, "gorgias:acme", interval, t0, t0); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		b, err = s.TakeRateBudget(ctx, "gorgias:acme", interval, t0, t0)
		must(t, err)
		if want := t0.Add(time.Second + (n+2)*interval); !b.TAT.Equal(want) {
			t.Fatalf("after %d concurrent charges TAT = %v, want %v", n, b.TAT, want)
		}
		// Long after the TAT, a charge starts from now (the bucket refilled).
		later := t0.Add(time.Hour)
		b, err = s.TakeRateBudget(ctx, "gorgias:acme", interval, later, later)
		must(t, err)
		if want := later.Add(interval); !b.TAT.Equal(want) {
			t.Fatalf("charge after a refill: TAT = %v, want %v", b.TAT, want)
		}
		// Another key is its own budget.
		other, err := s.TakeRateBudget(ctx, "gorgias:other", interval, later, later)
		must(t, err)
		if !other.TAT.Equal(later.Add(interval)) {
			t.Fatalf("other key TAT = %v", other.TAT)
		}
		if _, err := s.TakeRateBudget(ctx, "", interval, later, later); err == nil {
			t.Fatal("a budget without a key was charged")
		}
	})

	t.Run("RateBudgetHoldNeverLowers", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		b, err := s.HoldRateBudget(ctx, "klaviyo:demo", t0.Add(10*time.Second), t0.Add(5*time.Second), t0)
		must(t, err)
		if !b.TAT.Equal(t0.Add(10*time.Second)) || !b.PausedUntil.Equal(t0.Add(5*time.Second)) {
			t.Fatalf("hold on a new key = %+v", b)
		}
		b, err = s.HoldRateBudget(ctx, "klaviyo:demo", t0.Add(time.Second), time.Time{}, t0.Add(time.Second))
		must(t, err)
		if !b.TAT.Equal(t0.Add(10*time.Second)) || !b.PausedUntil.Equal(t0.Add(5*time.Second)) {
			t.Fatalf("a lower hold lowered the budget: %+v", b)
		}
		b, err = s.HoldRateBudget(ctx, "klaviyo:demo", t0.Add(20*time.Second), t0.Add(30*time.Second), t0.Add(2*time.Second))
		must(t, err)
		if !b.TAT.Equal(t0.Add(20*time.Second)) || !b.PausedUntil.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("a higher hold was not applied: %+v", b)
		}
		// A charge during the hold starts from the held TAT.
		b, err = s.TakeRateBudget(ctx, "klaviyo:demo", time.Second, t0, t0.Add(3*time.Second))
		must(t, err)
		if !b.TAT.Equal(t0.Add(21*time.Second)) || !b.PausedUntil.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("charge during a hold = %+v", b)
		}
		_, err = s.TakeRateBudget(ctx, "a:first", time.Second, t0, t0)
		must(t, err)
		list, err := s.ListRateBudgets(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Key != "a:first" || list[1].Key != "klaviyo:demo" || !list[1].TAT.Equal(b.TAT) || !list[1].UpdatedAt.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("list = %+v", list)
		}
	})
}
