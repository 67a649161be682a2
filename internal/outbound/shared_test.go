package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// memBudgets is an in-memory BudgetStore with the semantics of the SQL
// upserts (storetest checks the real ones on both databases).
type memBudgets struct {
	mu    sync.Mutex
	rows  map[string]domain.RateBudget
	takes int
	fail  error
}

func newMemBudgets() *memBudgets { return &memBudgets{rows: map[string]domain.RateBudget{}} }

func (m *memBudgets) TakeRateBudget(_ context.Context, key string, interval time.Duration, fresh, now time.Time) (domain.RateBudget, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return domain.RateBudget{}, m.fail
	}
	m.takes++
	rb, ok := m.rows[key]
	if !ok {
		rb = domain.RateBudget{Key: key, TAT: fresh.Add(interval)}
		if fresh.Before(now) {
			rb.TAT = now.Add(interval)
		}
	} else {
		base := rb.TAT
		if now.After(base) {
			base = now
		}
		rb.TAT = base.Add(interval)
	}
	rb.UpdatedAt = now
	m.rows[key] = rb
	return rb, nil
}

func (m *memBudgets) HoldRateBudget(_ context.Context, key string, tat, paused, now time.Time) (domain.RateBudget, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return domain.RateBudget{}, m.fail
	}
	rb := m.rows[key]
	rb.Key = key
	if tat.After(rb.TAT) {
		rb.TAT = tat
	}
	if paused.After(rb.PausedUntil) {
		rb.PausedUntil = paused
	}
	rb.UpdatedAt = now
	m.rows[key] = rb
	return rb, nil
}

func (m *memBudgets) row(key string) domain.RateBudget {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[key]
}

// replica is one process's limiter over the shared store.
func replica(store outbound.BudgetStore, clock *fakeClock) *outbound.SharedLimiter {
	return outbound.NewSharedLimiter(store, outbound.NewLocalLimiter(clock.Now), clock.Now, nil)
}

// admitted reports whether Wait lets a call go now: the clock is frozen,
// so a call whose slot lies ahead fails at once on the short deadline
// (no real sleep).
func admitted(t *testing.T, l *outbound.SharedLimiter, b outbound.Budget) bool {
	t.Helper()
	// A call with a slot ahead on the frozen clock either fails at once
	// (its slot is after the deadline) or sleeps until the deadline ends
	// it: both refuse it, whatever the machine's speed. A call due now
	// never sleeps.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(50*time.Millisecond))
	defer cancel()
	err := l.Wait(ctx, b)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v", err)
	}
	return err == nil
}

// frozen returns a fake clock at the real now, so deadlines (real time)
// and slots (fake time) are comparable.
func frozen() *fakeClock { return &fakeClock{t: time.Now()} }

func TestSharedLimiterOneBudgetAcrossReplicas(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	a, b := replica(store, clock), replica(store, clock)
	bud := outbound.Budget{Key: "gorgias:acme", Rate: 1, Burst: 4}
	// Three replicas' worth of calls against one bucket of 4: the first
	// four pass, from whichever replica; the fifth waits for the refill.
	got := []bool{admitted(t, a, bud), admitted(t, b, bud), admitted(t, a, bud), admitted(t, b, bud), admitted(t, a, bud), admitted(t, b, bud)}
	want := []bool{true, true, true, true, false, false}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("calls admitted = %v, want %v", got, want)
		}
	}
	// One interval later exactly one more call fits (the refused ones were
	// charged, as a waiting caller would have been: the bucket is in debt).
	clock.Add(3 * time.Second)
	if !admitted(t, b, bud) || admitted(t, a, bud) {
		t.Fatal("after the refill: want one call, then none")
	}
	// A restarted process (new limiter, same database) starts from the
	// row, not from a full bucket.
	c := replica(store, clock)
	if admitted(t, c, bud) {
		t.Fatal("a restarted replica got a full bucket")
	}
	if got := tokensOf(c, bud.Key); got != 0 {
		t.Fatalf("restarted replica's status shows %v tokens, want 0", got)
	}
}

func tokensOf(l *outbound.SharedLimiter, key string) float64 {
	for _, s := range l.Status() {
		if s.Key == key {
			return s.Tokens
		}
	}
	return -1
}

func TestSharedLimiterColdKeyStartsEmpty(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	local := outbound.NewLocalLimiter(clock.Now)
	local.Cold = true
	l := outbound.NewSharedLimiter(store, local, clock.Now, nil)
	bud := outbound.Budget{Key: "k", Rate: 2, Burst: 10}
	if admitted(t, l, bud) {
		t.Fatal("a cold start admitted a call at once")
	}
	// Burst/Rate after the start the bucket is full again.
	clock.Add(5*time.Second + time.Second)
	store2 := newMemBudgets()
	l2 := outbound.NewSharedLimiter(store2, local, clock.Now, nil)
	n := 0
	for admitted(t, l2, bud) {
		n++
	}
	if n != 10 {
		t.Fatalf("a key first charged after the cold start's refill admitted %d calls at once, want the burst 10", n)
	}
}

func TestSharedLimiterVendorStateReachesEveryReplica(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	a, b := replica(store, clock), replica(store, clock)
	bud := outbound.Budget{Key: "gorgias:acme", Rate: 1.9, Burst: 36}
	if !admitted(t, a, bud) {
		t.Fatal("first call refused")
	}
	// Replica A hears from Gorgias that only 4 of 40 calls remain: scaled
	// to our bucket of 36, 3.6; replica B gets 3 more calls, not 35.
	a.Observe(bud, outbound.Quota{Limit: 40, Remaining: 4, Reset: 20 * time.Second})
	n := 0
	for admitted(t, b, bud) {
		n++
	}
	if n != 3 {
		t.Fatalf("replica B admitted %d calls after A's quota header, want 3", n)
	}
	// A 429's Retry-After heard by B pauses A too, and the bucket is empty
	// when the pause ends (no burst).
	clock.Add(time.Minute)
	b.Pause(bud, clock.Now().Add(10*time.Second))
	if admitted(t, a, bud) {
		t.Fatal("replica A called during B's pause")
	}
	if row := store.row(bud.Key); !row.PausedUntil.Equal(clock.Now().Add(10 * time.Second)) {
		t.Fatalf("stored pause = %v", row.PausedUntil)
	}
	for _, st := range a.Status() {
		if st.Key == bud.Key && st.PausedUntil.IsZero() {
			t.Fatal("A's status does not show the pause it read")
		}
	}
	// The pause is capped (MaxPause, default 5 min).
	b.Pause(bud, clock.Now().Add(24*time.Hour))
	if row := store.row(bud.Key); row.PausedUntil.After(clock.Now().Add(outbound.DefaultMaxRetryAfter)) {
		t.Fatalf("pause not capped: %v", row.PausedUntil)
	}
	// An exhausted quota pauses until its reset.
	store2 := newMemBudgets()
	c := replica(store2, clock)
	c.Observe(bud, outbound.Quota{Limit: 40, Remaining: 0, Reset: 7 * time.Second})
	if row := store2.row(bud.Key); !row.PausedUntil.Equal(clock.Now().Add(7 * time.Second)) {
		t.Fatalf("exhausted quota: stored pause = %v", row.PausedUntil)
	}
}

func TestSharedLimiterBreakerAndFallback(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	l := replica(store, clock)
	bud := outbound.Budget{Key: "klaviyo:demo", Rate: 10, Burst: 5}
	for range outbound.DefaultOpenAfter {
		l.Record(bud, domain.ClassTransient)
	}
	if _, held := l.Held(bud.Key); !held {
		t.Fatal("circuit not open after a run of transient failures")
	}
	takes := store.takes
	if err := l.Wait(context.Background(), bud); !errors.Is(err, outbound.ErrCircuitOpen) {
		t.Fatalf("Wait with the circuit open = %v, want ErrCircuitOpen", err)
	}
	if store.takes != takes {
		t.Fatal("a call refused by the circuit was charged to the shared budget")
	}
	clock.Add(outbound.DefaultProbeEvery)
	if !admitted(t, l, bud) { // the probe
		t.Fatal("the probe call was refused")
	}
	if err := l.Wait(context.Background(), bud); !errors.Is(err, outbound.ErrCircuitOpen) {
		t.Fatalf("Wait after the probe = %v, want ErrCircuitOpen", err)
	}
	l.Record(bud, domain.ClassOK)
	if _, held := l.Held(bud.Key); held {
		t.Fatal("circuit still open after a success")
	}
	// The database fails: calls are paced in process instead of failing.
	store.fail = errors.New("connection refused")
	if !admitted(t, l, bud) {
		t.Fatal("Wait failed with the database down")
	}
	// Unlimited budgets never touch the database.
	store.fail = nil
	takes = store.takes
	if !admitted(t, l, outbound.Budget{Key: "x"}) || store.takes != takes {
		t.Fatal("an unlimited budget was charged")
	}
}

func TestSharedLimiterWarnsOncePerInterval(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	store.fail = errors.New("connection refused")
	var logs bytes.Buffer
	l := outbound.NewSharedLimiter(store, outbound.NewLocalLimiter(clock.Now), clock.Now, slog.New(slog.NewTextHandler(&logs, nil)))
	bud := outbound.Budget{Key: "k", Rate: 100, Burst: 100}
	for range 5 {
		if !admitted(t, l, bud) {
			t.Fatal("Wait failed with the database down")
		}
	}
	l.Pause(bud, clock.Now().Add(time.Millisecond))
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings for 6 failures within 30 s, want 1:\n%s", n, logs.String())
	}
	clock.Add(31 * time.Second)
	admitted(t, l, bud)
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d warnings after 30 s more, want 2", n)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Fatal("the warning does not say why")
	}
}

// paced reports whether Pace lets a paid call leave now (see admitted).
func paced(t *testing.T, l *outbound.SharedLimiter, b outbound.Budget) bool {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(50*time.Millisecond))
	defer cancel()
	err := l.Pace(ctx, b)
	// x/time/rate (the local pacer) says so in its own words.
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "would exceed context deadline") {
		t.Fatalf("Pace: %v", err)
	}
	return err == nil
}

func TestSharedLimiterPacesSendsAcrossReplicas(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	a, b := replica(store, clock), replica(store, clock)
	// A bucket of 6 at 2 calls/s: the send pacer keeps 10 ms of jitter
	// room (1 call), so 5 paid calls may leave at once across replicas.
	bud := outbound.Budget{Key: "gorgias:acme", Rate: 2, Burst: 6}
	var got []bool
	for i := range 7 {
		l := a
		if i%2 == 1 {
			l = b
		}
		got = append(got, paced(t, l, bud))
	}
	want := []bool{true, true, true, true, true, false, false}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sends let through = %v, want %v", got, want)
		}
	}
	if row := store.row(bud.Key + "#send"); row.TAT.IsZero() {
		t.Fatal("no shared send row")
	}
	// A pause heard by one replica holds the other's sends.
	clock.Add(time.Hour)
	a.Pause(bud, clock.Now().Add(10*time.Second))
	if paced(t, b, bud) {
		t.Fatal("replica B sent during A's pause")
	}
}

func TestSharedLimiterPaceLocally(t *testing.T) {
	store, clock := newMemBudgets(), frozen()
	l := replica(store, clock)
	l.PaceLocally = true
	bud := outbound.Budget{Key: "k", Rate: 2, Burst: 6}
	n := 0
	for paced(t, l, bud) {
		n++
	}
	if n != 5 {
		t.Fatalf("the local pacer let %d sends through at once, want 5 (the burst less the jitter room)", n)
	}
	l.Pause(bud, clock.Now().Add(time.Second))
	if row := store.row("k#send"); !row.TAT.IsZero() {
		t.Fatalf("a send row was written while pacing locally: %+v", row)
	}
}
