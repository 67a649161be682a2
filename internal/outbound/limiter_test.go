package outbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tokens(l *outbound.LocalLimiter, key string) float64 {
	for _, s := range l.Status() {
		if s.Key == key {
			return s.Tokens
		}
	}
	return -1
}

// A cold limiter's buckets start as if emptied at its creation and refill at
// the budget's rate; a warm one's start full.
func TestColdLimiterStartsEmpty(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	b := outbound.Budget{Key: "v:a", Rate: 2, Burst: 36}
	cold := outbound.NewLocalLimiter(clk.Now)
	cold.Cold = true
	warm := outbound.NewLocalLimiter(clk.Now)
	clk.Add(5 * time.Second)
	cold.Observe(b, outbound.Quota{Limit: 40, Remaining: 40}) // creates the bucket
	warm.Observe(b, outbound.Quota{Limit: 40, Remaining: 40})
	if got := tokens(cold, b.Key); got < 9.9 || got > 10.1 {
		t.Errorf("cold bucket 5 s after the start holds %.1f tokens, want 10 (refilled since the start)", got)
	}
	if got := tokens(warm, b.Key); got != 36 {
		t.Errorf("warm bucket holds %.1f tokens, want 36", got)
	}
	clk.Add(time.Minute)
	if got := tokens(cold, b.Key); got != 36 {
		t.Errorf("cold bucket after Burst/Rate holds %.1f tokens, want 36", got)
	}
}

// Status reports paused_until only for a paused budget.
func TestStatusPausedUntilOnlyWhenPaused(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	l := outbound.NewLocalLimiter(clk.Now)
	free, paused := outbound.Budget{Key: "free", Rate: 1, Burst: 1}, outbound.Budget{Key: "paused", Rate: 1, Burst: 1}
	if err := l.Wait(context.Background(), free); err != nil {
		t.Fatal(err)
	}
	l.Pause(paused, clk.Now().Add(time.Minute))
	raw, err := json.Marshal(l.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		_, has := s["paused_until"]
		if has != (s["key"] == "paused") {
			t.Errorf("budget %v: paused_until present = %v in %s", s["key"], has, raw)
		}
	}
	if strings.Contains(string(raw), "0001-01-01") {
		t.Errorf("zero time in %s", raw)
	}
}

// The half-open circuit: OpenAfter transient failures in a row open it;
// then Wait lets one probe through per ProbeEvery and refuses the rest at
// once; any answer from the vendor closes it.
func TestCircuitHoldsWorkUntilAProbeSucceeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &fakeClock{t: time.Now()}
	l := outbound.NewLocalLimiter(clk.Now)
	b := outbound.Budget{Key: "gorgias:acme", Rate: 0}
	l.Record(b, domain.ClassTransient)
	l.Record(b, domain.ClassTransient)
	if err := l.Wait(ctx, b); err != nil {
		t.Fatalf("held after 2 failures: %v", err)
	}
	l.Record(b, domain.ClassTransient)
	if _, held := l.Held(b.Key); !held {
		t.Fatal("not held after 3 failures in a row")
	}
	if err := l.Wait(ctx, b); !errors.Is(err, outbound.ErrCircuitOpen) {
		t.Fatalf("Wait while open before the probe time = %v, want ErrCircuitOpen", err)
	}
	clk.Add(outbound.DefaultProbeEvery)
	if err := l.Wait(ctx, b); err != nil {
		t.Fatalf("the probe was refused: %v", err)
	}
	if err := l.Wait(ctx, b); !errors.Is(err, outbound.ErrCircuitOpen) {
		t.Fatalf("a second call beside the probe = %v, want ErrCircuitOpen", err)
	}
	l.Record(b, domain.ClassTransient) // the probe failed
	if st := l.Status(); len(st) != 1 || st[0].OpenSince.IsZero() {
		t.Fatalf("status while open: %+v", st)
	}
	clk.Add(outbound.DefaultProbeEvery)
	if err := l.Wait(ctx, b); err != nil {
		t.Fatalf("the next probe was refused: %v", err)
	}
	l.Record(b, domain.ClassTerminal) // the vendor answers (even a 4xx)
	if _, held := l.Held(b.Key); held {
		t.Fatal("still held after the vendor answered")
	}
	for range 5 {
		if err := l.Wait(ctx, b); err != nil {
			t.Fatalf("held after the recovery: %v", err)
		}
	}
}
