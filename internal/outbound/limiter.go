package outbound

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget names a rate budget and sizes it. Key is usually
// "vendor:account[:tier]". Rate is sustained requests per second and Burst
// the bucket size; both should sit just below the vendor's published limit.
type Budget struct {
	Key   string
	Rate  float64
	Burst int
}

// Quota is what a vendor's response headers say about the budget: how many
// calls remain of Limit before Reset.
type Quota struct {
	Limit     int
	Remaining int
	Reset     time.Duration
}

// Limiter paces calls against a budget. The in-process LocalLimiter is the
// default; Postgres mode can plug in a shared one.
type Limiter interface {
	// Wait blocks until a call may be made under b, or ctx ends.
	Wait(ctx context.Context, b Budget) error
	// Observe feeds the vendor's view of the quota back, so the limiter slows
	// down early when the vendor counts more calls than we did.
	Observe(b Budget, q Quota)
	// Pause stops every call under b until the given time (a 429's Retry-After).
	Pause(b Budget, until time.Time)
	// Pace blocks until a call already paid for under b (by Wait, directly
	// or through a reservation) may leave, and honours a pause. Calls
	// reserved at different times and sent when their callers are ready
	// (after reading state) would otherwise leave in a bunch larger than the
	// budget's burst; paced, what the vendor sees stays within the budget.
	Pace(ctx context.Context, b Budget) error
}

// BudgetStatus is a snapshot of one budget, for the admin UI and metrics.
type BudgetStatus struct {
	Key         string    `json:"key"`
	Rate        float64   `json:"rate"`
	Burst       int       `json:"burst"`
	Tokens      float64   `json:"tokens"`
	PausedUntil time.Time `json:"paused_until,omitempty"`
	LastQuota   *Quota    `json:"last_quota,omitempty"`
}

// DefaultMaxRetryAfter caps how long a vendor's Retry-After (or an
// exhausted quota's reset) may pause a budget or snooze a job.
const DefaultMaxRetryAfter = 5 * time.Minute

// CapRetryAfter bounds d by max (DefaultMaxRetryAfter when max <= 0).
func CapRetryAfter(d, max time.Duration) time.Duration {
	if max <= 0 {
		max = DefaultMaxRetryAfter
	}
	return min(d, max)
}

// DefaultJitterRoom is LocalLimiter.JitterRoom's default.
const DefaultJitterRoom = 10 * time.Millisecond

// LocalLimiter keeps one token bucket (x/time/rate) per budget key.
type LocalLimiter struct {
	// MaxPause caps a Pause (default DefaultMaxRetryAfter), so no answer can
	// stop a budget for longer.
	MaxPause time.Duration
	// JitterRoom is how much arrival jitter the send pacer (Pace) leaves
	// room for in the burst (default DefaultJitterRoom). It matters only for
	// budgets whose rate refills a burst in milliseconds (shortened test
	// windows); a real 20 s Gorgias window keeps its whole burst.
	JitterRoom time.Duration

	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim         *rate.Limiter
	send        *rate.Limiter // paces sends (Pace): same rate, burst less the jitter room
	budget      Budget
	pausedUntil time.Time
	lastQuota   *Quota
}

// NewLocalLimiter returns an in-process limiter. now may be nil (time.Now).
func NewLocalLimiter(now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{now: now, buckets: map[string]*bucket{}}
}

func (l *LocalLimiter) get(b Budget) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	bk, ok := l.buckets[b.Key]
	if !ok || bk.budget.Rate != b.Rate || bk.budget.Burst != b.Burst {
		burst := b.Burst
		if burst < 1 {
			burst = 1
		}
		r := rate.Limit(b.Rate)
		if b.Rate <= 0 {
			r = rate.Inf
		}
		// The vendor counts calls when they arrive; calls that left paced
		// can still arrive closer together by the scheduling jitter of a
		// busy machine. The pacer's burst keeps room for JitterRoom of it.
		sendBurst := burst
		if b.Rate > 0 {
			sendBurst = max(1, burst-int(math.Ceil(b.Rate*l.jitterRoom().Seconds())))
		}
		bk = &bucket{lim: rate.NewLimiter(r, burst), send: rate.NewLimiter(r, sendBurst), budget: b}
		l.buckets[b.Key] = bk
	}
	return bk
}

func (l *LocalLimiter) jitterRoom() time.Duration {
	if l.JitterRoom > 0 {
		return l.JitterRoom
	}
	return DefaultJitterRoom
}

// Wait implements Limiter.
func (l *LocalLimiter) Wait(ctx context.Context, b Budget) error {
	bk := l.get(b)
	if err := l.waitPause(ctx, bk); err != nil {
		return err
	}
	return bk.lim.Wait(ctx)
}

// Pace implements Limiter.
func (l *LocalLimiter) Pace(ctx context.Context, b Budget) error {
	bk := l.get(b)
	if err := l.waitPause(ctx, bk); err != nil {
		return err
	}
	return bk.send.Wait(ctx)
}

func (l *LocalLimiter) waitPause(ctx context.Context, bk *bucket) error {
	l.mu.Lock()
	paused := bk.pausedUntil
	l.mu.Unlock()
	if d := paused.Sub(l.now()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Observe implements Limiter: when the vendor reports fewer remaining calls
// than our bucket holds, the difference is taken out of the bucket, so the
// next calls wait for the vendor's budget to refill.
func (l *LocalLimiter) Observe(b Budget, q Quota) {
	if q.Limit <= 0 {
		return
	}
	bk := l.get(b)
	l.mu.Lock()
	qq := q
	bk.lastQuota = &qq
	l.mu.Unlock()
	now := l.now()
	// Scale the vendor's remaining count into our (smaller) bucket.
	scaled := float64(q.Remaining) * float64(bk.lim.Burst()) / float64(q.Limit)
	if excess := bk.lim.TokensAt(now) - scaled; excess >= 1 {
		bk.lim.ReserveN(now, int(excess))
	}
	if q.Remaining <= 0 && q.Reset > 0 {
		l.Pause(b, now.Add(q.Reset))
	}
}

// Pause implements Limiter; the pause is capped at MaxPause from now.
func (l *LocalLimiter) Pause(b Budget, until time.Time) {
	now := l.now()
	if limit := now.Add(CapRetryAfter(until.Sub(now), l.MaxPause)); until.After(limit) {
		until = limit
	}
	bk := l.get(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(bk.pausedUntil) {
		bk.pausedUntil = until
	}
}

// Status returns a snapshot of every budget seen so far.
func (l *LocalLimiter) Status() []BudgetStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := make([]BudgetStatus, 0, len(l.buckets))
	for k, bk := range l.buckets {
		st := BudgetStatus{Key: k, Rate: bk.budget.Rate, Burst: bk.budget.Burst, Tokens: bk.lim.TokensAt(now), LastQuota: bk.lastQuota}
		if bk.pausedUntil.After(now) {
			st.PausedUntil = bk.pausedUntil
		}
		out = append(out, st)
	}
	return out
}
