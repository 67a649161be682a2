package outbound

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"switchyard/internal/domain"
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

// Breaker is implemented by limiters that hold a budget's work while its
// vendor is failing (a half-open circuit per budget, see LocalLimiter).
type Breaker interface {
	// Record feeds the class of a call that was made back.
	Record(b Budget, class domain.ErrorClass)
	// Held reports whether work under the budget key is held (its circuit
	// is open), and how long a held job should wait before trying again.
	Held(key string) (time.Duration, bool)
}

// ErrCircuitOpen is returned by Wait while a budget's vendor is failing and
// the call is not the probe: no request was made.
var ErrCircuitOpen = errors.New("vendor is failing; held until a probe call succeeds")

// DefaultJitterRoom is LocalLimiter.JitterRoom's default.
const DefaultJitterRoom = 10 * time.Millisecond

// Circuit defaults (LocalLimiter).
const (
	DefaultOpenAfter  = 3
	DefaultProbeEvery = 2 * time.Second
)

// BudgetStatus is a snapshot of one budget, for the admin UI and metrics.
type BudgetStatus struct {
	Key         string    `json:"key"`
	Rate        float64   `json:"rate"`
	Burst       int       `json:"burst"`
	Tokens      float64   `json:"tokens"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	LastQuota   *Quota    `json:"last_quota,omitempty"`
	// OpenSince is when the budget's circuit opened (its vendor failing,
	// work held but one probe call per ProbeEvery); absent when closed.
	OpenSince time.Time `json:"open_since,omitzero"`
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

// LocalLimiter keeps one token bucket (x/time/rate) per budget key.
type LocalLimiter struct {
	// MaxPause caps a Pause (default DefaultMaxRetryAfter), so no answer can
	// stop a budget for longer.
	MaxPause time.Duration
	// Cold makes every bucket start as if it had been emptied when the
	// limiter was created (NewLocalLimiter), instead of full. A process
	// that starts may be a restart: the vendor's bucket may still hold the
	// calls the previous process made, and a full bucket here would spend
	// them twice (429s). Emptied at start and refilled at the budget's rate
	// (just under the vendor's), it never outruns the vendor's refill; once
	// Burst/Rate has passed since the start, a new bucket starts full.
	Cold bool
	// OpenAfter is the run of transient failures (5xx, timeouts, network)
	// of a budget's calls, with no success between, that opens its circuit
	// (default DefaultOpenAfter). While open, Wait lets one call through per
	// ProbeEvery (default DefaultProbeEvery), the probe, and answers every
	// other ErrCircuitOpen at once; the first call that reaches the vendor
	// (any answer but a transient failure) closes it. Held tells the job
	// settler to snooze held work in short steps instead of backing off, so
	// it goes out within seconds of the vendor's recovery.
	OpenAfter  int
	ProbeEvery time.Duration
	// JitterRoom is how much arrival jitter the send pacer (Pace) leaves
	// room for in the burst (default DefaultJitterRoom). It matters only for
	// budgets whose rate refills a burst in milliseconds (shortened test
	// windows); a real 20 s Gorgias window keeps its whole burst.
	JitterRoom time.Duration

	now   func() time.Time
	start time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim         *rate.Limiter
	send        *rate.Limiter // paces sends (Pace): same rate, burst less the jitter room
	budget      Budget
	pausedUntil time.Time
	lastQuota   *Quota
	// circuit: failures in a row; open since openedAt; next probe at probeAt.
	failures int
	openedAt time.Time
	probeAt  time.Time
}

// NewLocalLimiter returns an in-process limiter. now may be nil (time.Now).
func NewLocalLimiter(now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{now: now, start: now(), buckets: map[string]*bucket{}}
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
		lim := rate.NewLimiter(r, burst)
		if b.Rate > 0 && l.Cold {
			lim.ReserveN(l.start, burst) // empty at the start, refilled since
		}
		// The vendor counts calls when they arrive; calls that left paced
		// can still arrive closer together by the scheduling jitter of a
		// busy machine. The pacer's burst keeps room for JitterRoom of it.
		sendBurst := burst
		if b.Rate > 0 {
			sendBurst = l.sendBurst(b.Rate, burst)
		}
		send := rate.NewLimiter(r, sendBurst)
		if b.Rate > 0 && l.Cold {
			send.ReserveN(l.start, sendBurst) // cold like the budget it paces
		}
		nb := &bucket{lim: lim, send: send, budget: b}
		if bk != nil { // resized: the circuit carries over
			nb.failures, nb.openedAt, nb.probeAt = bk.failures, bk.openedAt, bk.probeAt
		}
		bk = nb
		l.buckets[b.Key] = bk
	}
	return bk
}

// Wait implements Limiter. While the budget's circuit is open it answers
// ErrCircuitOpen at once, except for one probe per ProbeEvery.
func (l *LocalLimiter) Wait(ctx context.Context, b Budget) error {
	bk, paused, err := l.admit(b)
	if err != nil {
		return err
	}
	if err := l.sleepUntil(ctx, paused); err != nil {
		return err
	}
	return bk.lim.Wait(ctx)
}

// admit checks b's circuit: ErrCircuitOpen while it is open and this call
// is not the probe. It returns the bucket and its pause.
func (l *LocalLimiter) admit(b Budget) (*bucket, time.Time, error) {
	bk := l.get(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !bk.openedAt.IsZero() {
		now := l.now()
		if now.Before(bk.probeAt) {
			return nil, time.Time{}, ErrCircuitOpen
		}
		bk.probeAt = now.Add(l.probeEvery()) // this call is the probe
	}
	return bk, bk.pausedUntil, nil
}

// Pace implements Limiter.
func (l *LocalLimiter) Pace(ctx context.Context, b Budget) error {
	bk := l.get(b)
	l.mu.Lock()
	paused := bk.pausedUntil
	l.mu.Unlock()
	if err := l.sleepUntil(ctx, paused); err != nil {
		return err
	}
	return bk.send.Wait(ctx)
}

// sleepUntil waits for a pause to end (or ctx).
func (l *LocalLimiter) sleepUntil(ctx context.Context, until time.Time) error {
	return Sleep(ctx, until.Sub(l.now()))
}

// Sleep waits d (nothing when d ≤ 0), or returns ctx's error when ctx ends
// first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sendBurst is the send pacer's burst: burst less JitterRoom's worth of
// calls at rate.
func (l *LocalLimiter) sendBurst(rate float64, burst int) int {
	return max(1, burst-int(math.Ceil(rate*l.jitterRoom().Seconds())))
}

// pausedUntil returns b's pause (zero when none was set).
func (l *LocalLimiter) pausedUntil(b Budget) time.Time {
	bk := l.get(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	return bk.pausedUntil
}

func (l *LocalLimiter) jitterRoom() time.Duration {
	if l.JitterRoom > 0 {
		return l.JitterRoom
	}
	return DefaultJitterRoom
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

func (l *LocalLimiter) probeEvery() time.Duration {
	if l.ProbeEvery > 0 {
		return l.ProbeEvery
	}
	return DefaultProbeEvery
}

// Record implements Breaker.
func (l *LocalLimiter) Record(b Budget, class domain.ErrorClass) {
	if class == domain.ClassCanceled {
		return // our own cancellation says nothing about the vendor
	}
	bk := l.get(b)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if class != domain.ClassTransient {
		bk.failures, bk.openedAt, bk.probeAt = 0, time.Time{}, time.Time{} // the vendor answers
		return
	}
	bk.failures++
	openAfter := l.OpenAfter
	if openAfter <= 0 {
		openAfter = DefaultOpenAfter
	}
	if bk.openedAt.IsZero() && bk.failures >= openAfter {
		bk.openedAt, bk.probeAt = now, now.Add(l.probeEvery())
	}
}

// Held implements Breaker. A held job waits a step that grows with the
// outage (1/20 of it, between 2 s and 15 s, ±25 %): short outages release
// work within a couple of seconds, long ones do not wake every held job
// every few seconds.
func (l *LocalLimiter) Held(key string) (time.Duration, bool) {
	l.mu.Lock()
	bk, ok := l.buckets[key]
	var opened time.Time
	if ok {
		opened = bk.openedAt
	}
	l.mu.Unlock()
	if opened.IsZero() {
		return 0, false
	}
	step := min(max(l.now().Sub(opened)/20, 2*time.Second), 15*time.Second)
	return time.Duration(float64(step) * (0.75 + rand.Float64()*0.5)), true
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
		st.OpenSince = bk.openedAt
		out = append(out, st)
	}
	return out
}
