package outbound

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"switchyard/internal/domain"
)

// BudgetStore keeps rate budgets in the database (domain.Store implements
// it): every replica on one database charges the same rows.
type BudgetStore interface {
	TakeRateBudget(ctx context.Context, key string, interval time.Duration, fresh, now time.Time) (domain.RateBudget, error)
	HoldRateBudget(ctx context.Context, key string, tat, pausedUntil, now time.Time) (domain.RateBudget, error)
}

// SharedLimiter is a Limiter whose budgets live in the database, so N
// replicas on one Postgres share one budget per vendor account, and a
// restart (SQLite too) starts from the budget the previous process left,
// not from a full bucket.
//
// Each budget is a GCRA token bucket row (domain.RateBudget): Wait charges
// one call with one atomic upsert and sleeps until the call's slot; the
// vendor's quota headers (Observe) and Retry-After (Pause) raise the row's
// TAT, so every replica slows down on what one of them heard. Pace spaces
// the sends through a second row per budget (key + "#send"). The per-budget
// circuit (Breaker) and the status snapshot stay in the process, in Local:
// each replica probes a failing vendor on its own.
//
// When the database cannot be reached, Wait falls back to Local's bucket
// (logged), so an outbound call never fails for the limiter's sake.
//
// Every replica computes slots with its own clock (the injected now): the
// replicas' clocks must agree (NTP) to well within a budget's interval.
type SharedLimiter struct {
	// PaceLocally paces sends with Local's pacer instead of the shared send
	// row: enough for a database only one process uses (SQLite), and one
	// write less per call.
	PaceLocally bool

	store  BudgetStore
	local  *LocalLimiter
	logger *slog.Logger
	now    func() time.Time
	start  time.Time

	mu       sync.Mutex
	seen     map[string]domain.RateBudget // the last row this process read, per key
	warnedAt time.Time                    // last database warning (one per warnEvery)
}

// warnEvery spaces the limiter's warnings while the database fails (one
// per call would flood the log).
const warnEvery = 30 * time.Second

// warn logs a database failure, at most once per warnEvery.
func (s *SharedLimiter) warn(msg string, b Budget, err error) {
	now := s.now()
	s.mu.Lock()
	if !s.warnedAt.IsZero() && now.Sub(s.warnedAt) < warnEvery {
		s.mu.Unlock()
		return
	}
	s.warnedAt = now
	s.mu.Unlock()
	s.logger.Warn(msg, slog.String("budget", b.Key), slog.Any("error", err))
}

// NewSharedLimiter returns a limiter over store. local provides the
// circuit, JitterRoom, MaxPause, Cold (a key the database has never
// seen starts empty at local's start instead of full) and the fallback;
// now may be nil (time.Now), logger nil (discard).
func NewSharedLimiter(store BudgetStore, local *LocalLimiter, now func() time.Time, logger *slog.Logger) *SharedLimiter {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SharedLimiter{store: store, local: local, logger: logger, now: now, start: local.start, seen: map[string]domain.RateBudget{}}
}

// Local returns the in-process limiter (circuit, status, fallback).
func (s *SharedLimiter) Local() *LocalLimiter { return s.local }

// shape returns b's interval between calls and its burst; ok is false for
// an unlimited budget.
func shape(b Budget) (time.Duration, int, bool) {
	if b.Rate <= 0 || b.Key == "" {
		return 0, 0, false
	}
	interval := time.Duration(math.Ceil(float64(time.Second) / b.Rate))
	return max(interval, 1), max(b.Burst, 1), true
}

func (s *SharedLimiter) remember(rb domain.RateBudget) {
	s.mu.Lock()
	s.seen[rb.Key] = rb
	s.mu.Unlock()
}

// Wait implements Limiter: the circuit first (no charge while it is open
// and this call is not the probe), then one charge to the shared row.
func (s *SharedLimiter) Wait(ctx context.Context, b Budget) error {
	interval, burst, ok := shape(b)
	if !ok {
		return s.local.Wait(ctx, b)
	}
	if _, _, err := s.local.admit(b); err != nil {
		return err
	}
	now := s.now()
	fresh := now
	if s.local.Cold {
		// A key no process has charged yet: empty at this process's start,
		// refilled since, as LocalLimiter.Cold (the vendor may still count
		// calls made before the database kept budgets).
		fresh = s.start.Add(time.Duration(burst) * interval)
	}
	rb, err := s.store.TakeRateBudget(ctx, b.Key, interval, fresh, now)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("error waiting for rate budget %s: %w", b.Key, ctx.Err())
		}
		s.warn("shared rate budget unavailable, pacing in process", b, err)
		return s.local.Wait(ctx, b)
	}
	s.remember(rb)
	at := rb.TAT.Add(-time.Duration(burst) * interval)
	if rb.PausedUntil.After(at) {
		at = rb.PausedUntil
	}
	wait := at.Sub(s.now())
	if dl, ok := ctx.Deadline(); ok && wait > 0 && time.Until(dl) < wait {
		return fmt.Errorf("rate budget %s: the call's slot is %v away, after the context's deadline: %w", b.Key, wait.Round(time.Millisecond), context.DeadlineExceeded)
	}
	return Sleep(ctx, wait)
}

// sendSuffix names a budget's send row (Pace), next to its charge row.
const sendSuffix = "#send"

// Pace implements Limiter across replicas: every call leaving under b is
// charged to the budget's send row (key + "#send": same rate, a burst less
// Local's JitterRoom), and leaves at its slot. A call's charge (Wait or a
// reservation) and its send are apart by the caller's reads, which take
// longer on a busy replica; calls charged apart on several replicas would
// otherwise reach the vendor together, over its bucket. The pause (Pause,
// on any replica) holds the send row too.
func (s *SharedLimiter) Pace(ctx context.Context, b Budget) error {
	interval, burst, ok := shape(b)
	if !ok || s.PaceLocally {
		return s.local.Pace(ctx, b)
	}
	// The process's own pause first (no charge while it lasts).
	if err := Sleep(ctx, s.local.pausedUntil(b).Sub(s.now())); err != nil {
		return err
	}
	sendBurst := s.local.sendBurst(b.Rate, burst)
	now := s.now()
	fresh := now
	if s.local.Cold {
		fresh = s.start.Add(time.Duration(sendBurst) * interval)
	}
	rb, err := s.store.TakeRateBudget(ctx, b.Key+sendSuffix, interval, fresh, now)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("error pacing the call under rate budget %s: %w", b.Key, ctx.Err())
		}
		s.warn("shared rate budget unavailable, pacing in process", b, err)
		return s.local.Pace(ctx, b)
	}
	at := rb.TAT.Add(-time.Duration(sendBurst) * interval)
	if rb.PausedUntil.After(at) {
		at = rb.PausedUntil
	}
	return Sleep(ctx, at.Sub(s.now()))
}

// Observe implements Limiter: when the vendor reports fewer remaining calls
// than the shared bucket holds, the row's TAT is raised so it holds no more
// than the vendor's remaining count (scaled to the bucket); an exhausted
// quota pauses the budget until its reset.
func (s *SharedLimiter) Observe(b Budget, q Quota) {
	s.local.Observe(b, q)
	interval, burst, ok := shape(b)
	if !ok || q.Limit <= 0 {
		return
	}
	now := s.now()
	if q.Remaining <= 0 && q.Reset > 0 {
		s.Pause(b, now.Add(q.Reset)) // exhausted: nothing until the reset
		return
	}
	scaled := float64(q.Remaining) * float64(burst) / float64(q.Limit)
	floor := now.Add(time.Duration((float64(burst) - scaled) * float64(interval)))
	s.mu.Lock()
	last, seen := s.seen[b.Key]
	s.mu.Unlock()
	if seen && !floor.After(last.TAT.Add(interval)) {
		return // the row already holds that little (as far as this process last saw)
	}
	s.hold(b, floor, time.Time{}, now)
}

// Pause implements Limiter; the pause is capped at Local's MaxPause. The
// bucket is empty when the pause ends, so calls resume at the budget's rate,
// not in a burst.
func (s *SharedLimiter) Pause(b Budget, until time.Time) {
	now := s.now()
	if limit := now.Add(CapRetryAfter(until.Sub(now), s.local.MaxPause)); until.After(limit) {
		until = limit
	}
	s.local.Pause(b, until)
	interval, burst, ok := shape(b)
	if !ok {
		return
	}
	s.hold(b, until.Add(time.Duration(burst)*interval), until, now)
	if s.PaceLocally {
		return
	}
	send := b
	send.Key += sendSuffix
	s.hold(send, until.Add(time.Duration(s.local.sendBurst(b.Rate, burst))*interval), until, now)
}

func (s *SharedLimiter) hold(b Budget, tat, paused, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rb, err := s.store.HoldRateBudget(ctx, b.Key, tat, paused, now)
	if err != nil {
		s.warn("error saving the vendor's rate state in the shared budget", b, err)
		return
	}
	s.remember(rb)
}

// Record implements Breaker (per process).
func (s *SharedLimiter) Record(b Budget, class domain.ErrorClass) { s.local.Record(b, class) }

// Held implements Breaker (per process).
func (s *SharedLimiter) Held(key string) (time.Duration, bool) { return s.local.Held(key) }

// Status returns a snapshot of every budget this process has used, with the
// shared bucket's tokens and pause as this process last read them.
func (s *SharedLimiter) Status() []BudgetStatus {
	out := s.local.Status()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range out {
		st := &out[i]
		rb, ok := s.seen[st.Key]
		if !ok {
			continue
		}
		interval, burst, ok := shape(Budget{Key: st.Key, Rate: st.Rate, Burst: st.Burst})
		if !ok {
			continue
		}
		tokens := float64(burst) - float64(rb.TAT.Sub(now))/float64(interval)
		st.Tokens = min(max(tokens, 0), float64(burst))
		if rb.PausedUntil.After(now) && rb.PausedUntil.After(st.PausedUntil) {
			st.PausedUntil = rb.PausedUntil
		}
	}
	return out
}
