// Package jobs holds switchyard's River workers and the policy that turns a
// job's outcome into River's vocabulary: success, snooze (429, no attempt
// spent), retry with capped exponential backoff and jitter (5xx, timeouts,
// network), or a dead letter and cancel (other 4xx, auth failures, exhausted
// retries, the retry horizon passed).
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Defaults.
const (
	DefaultHorizon     = 24 * time.Hour
	DefaultMaxAttempts = 500 // the horizon, not the count, normally ends retrying
	DefaultBackoffBase = 2 * time.Second
	DefaultBackoffCap  = 10 * time.Minute
	MinSnooze          = time.Second
)

// EventHandler processes one stored inbound event for an installation.
// Its errors are classified with Classify.
type EventHandler interface {
	HandleEvent(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) (Outcome, error)
}

// Outcome says who marks a handled event processed.
type Outcome int

const (
	// Handled: the worker marks the event processed.
	Handled Outcome = iota
	// MarkedProcessed: the handler already marked the event processed inside
	// its own transaction (domain.OrderSnapshot.EventID), so the worker
	// writes nothing more.
	MarkedProcessed
)

// EventHandlerFunc adapts a function to an EventHandler (outcome Handled).
type EventHandlerFunc func(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) error

func (f EventHandlerFunc) HandleEvent(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) (Outcome, error) {
	return Handled, f(ctx, in, ev)
}

// ProcessEventArgs is the job enqueued with every new inbound event.
type ProcessEventArgs struct {
	EventID    int64  `json:"event_id"`
	MerchantID string `json:"merchant_id"`
}

// Kind implements river.JobArgs.
func (ProcessEventArgs) Kind() string { return "process_event" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ProcessEventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: DefaultMaxAttempts}
}

// EventJob builds the job for a stored event (a domain.JobBuilder).
func EventJob(ev *domain.InboundEvent) domain.JobArgs {
	return ProcessEventArgs{EventID: ev.ID, MerchantID: ev.MerchantID}
}

// ReplayJob rebuilds the job of a dead letter. Every replay goes back to the
// stored inbound event when there is one.
func ReplayJob(dl *domain.DeadLetter) (domain.JobArgs, error) {
	if dl.EventID != 0 {
		return ProcessEventArgs{EventID: dl.EventID, MerchantID: dl.MerchantID}, nil
	}
	switch dl.JobKind {
	case SyncArgs{}.Kind():
		return replaySync(dl)
	case ProcessEventArgs{}.Kind():
		var a ProcessEventArgs
		if err := json.Unmarshal(dl.JobArgs, &a); err != nil || a.EventID == 0 {
			return nil, domain.Errorf(domain.EINVALID, "dead letter %d has unreadable job args", dl.ID)
		}
		a.MerchantID = dl.MerchantID
		return a, nil
	}
	return nil, domain.Errorf(domain.EINVALID, "dead letter %d: job kind %q cannot be replayed", dl.ID, dl.JobKind)
}

// Classify maps a handler error to an outcome class: outbound errors keep
// their class, application errors of the caller-fault kinds are terminal,
// our own cancellation is "canceled", and anything else is transient.
func Classify(err error) domain.ErrorClass {
	if err == nil {
		return domain.ClassOK
	}
	var oe *outbound.Error
	if errors.As(err, &oe) {
		return oe.Class
	}
	if errors.Is(err, context.Canceled) {
		return domain.ClassCanceled
	}
	var ae *domain.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case domain.EINVALID, domain.ENOTFOUND, domain.ECONFLICT, domain.EFORBIDDEN, domain.ETOOLARGE:
			return domain.ClassTerminal
		case domain.EUNAUTHORIZED:
			return domain.ClassAuth
		}
	}
	return domain.ClassTransient
}

// RetryAfterOf returns the Retry-After carried by an outbound error.
func RetryAfterOf(err error) time.Duration {
	var oe *outbound.Error
	if errors.As(err, &oe) {
		return oe.RetryAfter
	}
	return 0
}

// RetryPolicy is capped exponential backoff with ±25 % jitter.
type RetryPolicy struct {
	Base, Cap time.Duration
	Now       func() time.Time
}

// NextRetry implements river.ClientRetryPolicy.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	base, capd := p.Base, p.Cap
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if capd <= 0 {
		capd = DefaultBackoffCap
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return now().Add(Backoff(job.Attempt, base, capd))
}

// Backoff returns base·2^(attempt-1), capped, with ±25 % jitter.
func Backoff(attempt int, base, capd time.Duration) time.Duration {
	d := capd
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 40 {
		if e := base << (attempt - 1); e > 0 && e < capd {
			d = e
		}
	}
	jitter := 0.75 + rand.Float64()*0.5
	return time.Duration(float64(d) * jitter)
}

// Settler turns an outcome into River's vocabulary and writes dead letters.
type Settler struct {
	Store   domain.Store
	Horizon time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	// OnDeadLetter is called after a dead letter is written (metrics).
	OnDeadLetter func(dl *domain.DeadLetter)
	// MaxRetryAfter caps the snooze a 429's Retry-After asks for (default
	// outbound.DefaultMaxRetryAfter), so a vendor (or a host posing as
	// one) cannot park work past the cap.
	MaxRetryAfter time.Duration
	// DegradeAfter is the run of consecutive dead letters of one
	// installation that marks it degraded (default DefaultDegradeAfter). An
	// auth failure (401 after a refresh) degrades it at once.
	DegradeAfter int

	// Breaker holds the work of budgets whose vendor is failing
	// (outbound.LocalLimiter); nil holds nothing.
	Breaker interface {
		Held(key string) (time.Duration, bool)
	}

	mu   sync.Mutex
	runs map[string]int // consecutive dead letters by installation (this process)
}

// held reports whether err's budget is held by the Breaker, and the snooze.
// A call refused by an open circuit (no request made) always snoozes.
func (s *Settler) held(err error) (time.Duration, bool) {
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Budget == "" {
		return 0, false
	}
	wait, held := time.Duration(0), false
	if s.Breaker != nil {
		wait, held = s.Breaker.Held(oe.Budget)
	}
	if errors.Is(err, outbound.ErrCircuitOpen) {
		return max(wait, MinSnooze), true
	}
	return max(wait, MinSnooze), held
}

// DefaultDegradeAfter is Settler.DegradeAfter's default.
const DefaultDegradeAfter = 5

// Succeeded ends an installation's run of dead letters (a job of it
// succeeded).
func (s *Settler) Succeeded(installationID string) {
	s.mu.Lock()
	delete(s.runs, installationID)
	s.mu.Unlock()
}

// noteDeadLetter degrades the installation on an auth failure or when its
// run of consecutive dead letters reaches DegradeAfter.
func (s *Settler) noteDeadLetter(ctx context.Context, dl *domain.DeadLetter, err error) {
	if dl.InstallationID == "" || dl.MerchantID == "" {
		return
	}
	limit := s.DegradeAfter
	if limit <= 0 {
		limit = DefaultDegradeAfter
	}
	s.mu.Lock()
	if s.runs == nil {
		s.runs = map[string]int{}
	}
	s.runs[dl.InstallationID]++
	run := s.runs[dl.InstallationID]
	s.mu.Unlock()
	where := "a job"
	var oe *outbound.Error
	if errors.As(err, &oe) {
		where = fmt.Sprintf("%s %s (HTTP %d)", oe.Vendor, oe.Endpoint, oe.Status)
	}
	var reason string
	switch {
	case dl.Class == domain.ClassAuth:
		reason = fmt.Sprintf("auth failure: %s rejected the credentials after a refresh; fix the connection, then install again to repair", where)
	case run >= limit:
		reason = fmt.Sprintf("%d jobs in a row were dead-lettered (last: %s, %s); see the dead letters, fix the cause, then install again to repair", run, dl.Class, where)
	default:
		return
	}
	changed, derr := s.Store.DegradeInstallation(context.WithoutCancel(ctx), dl.MerchantID, dl.InstallationID, reason)
	if derr != nil {
		s.Logger.WarnContext(ctx, "could not mark the installation degraded", slog.String("installation_id", dl.InstallationID), slog.String("error", derr.Error()))
		return
	}
	if changed {
		s.Logger.WarnContext(ctx, "installation degraded", slog.String("installation_id", dl.InstallationID), slog.String("reason", reason))
	}
}

// Settle returns what a worker should return to River for err.
func (s *Settler) Settle(ctx context.Context, job *rivertype.JobRow, dl domain.DeadLetter, err error) error {
	class := Classify(err)
	switch class {
	case domain.ClassOK:
		return nil
	case domain.ClassRateLimited:
		wait := outbound.CapRetryAfter(RetryAfterOf(err), s.MaxRetryAfter)
		if wait < MinSnooze {
			wait = MinSnooze
		}
		return river.JobSnooze(wait)
	case domain.ClassCanceled:
		return err // shutting down: River retries it later
	case domain.ClassTransient:
		horizon := s.Horizon
		if horizon <= 0 {
			horizon = DefaultHorizon
		}
		age := s.Now().Sub(job.CreatedAt)
		if age < horizon {
			if wait, held := s.held(err); held {
				return river.JobSnooze(wait) // its vendor is failing: wait for the probe, not the backoff
			}
			if job.Attempt < job.MaxAttempts {
				return err
			}
		}
	}
	dl.JobKind = job.Kind
	dl.JobArgs = job.EncodedArgs
	dl.Attempts = job.Attempt
	dl.Class = class
	dl.Error = err.Error()
	if werr := s.Store.CreateDeadLetter(context.WithoutCancel(ctx), &dl); werr != nil {
		// Could not record it: let River retry rather than lose the job.
		return fmt.Errorf("error writing dead letter (job kept for retry): %w", errors.Join(werr, err))
	}
	s.Logger.WarnContext(ctx, "job dead-lettered", slog.Int64("job_id", job.ID), slog.String("kind", job.Kind),
		slog.Int64("event_id", dl.EventID), slog.String("class", string(class)), slog.Int("attempts", job.Attempt), slog.String("error", dl.Error))
	if s.OnDeadLetter != nil {
		s.OnDeadLetter(&dl)
	}
	s.noteDeadLetter(ctx, &dl, err)
	return river.JobCancel(err)
}

// ProcessEventWorker runs the connector's handler for a stored event.
type ProcessEventWorker struct {
	river.WorkerDefaults[ProcessEventArgs]
	Store    domain.Store
	Handlers map[string]EventHandler
	Settler  *Settler
	// AttemptTimeout bounds one attempt (default 2 minutes).
	AttemptTimeout time.Duration
}

// Timeout implements river.Worker.
func (w *ProcessEventWorker) Timeout(*river.Job[ProcessEventArgs]) time.Duration {
	if w.AttemptTimeout > 0 {
		return w.AttemptTimeout
	}
	return 2 * time.Minute
}

// Work implements river.Worker.
func (w *ProcessEventWorker) Work(ctx context.Context, job *river.Job[ProcessEventArgs]) error {
	ev, err := w.Store.GetEvent(ctx, job.Args.MerchantID, job.Args.EventID)
	if err != nil {
		if domain.IsNotFound(err) {
			return river.JobCancel(err)
		}
		return err
	}
	dl := domain.DeadLetter{MerchantID: ev.MerchantID, InstallationID: ev.InstallationID, EventID: ev.ID}
	in, err := w.Store.GetInstallation(ctx, ev.MerchantID, ev.InstallationID)
	if err != nil {
		return w.Settler.Settle(ctx, job.JobRow, dl, err)
	}
	if !in.State.Processes() {
		return river.JobCancel(fmt.Errorf("installation %s is %s; event %d not processed (replay it once installed)", in.ID, in.State, ev.ID))
	}
	h, ok := w.Handlers[in.Connector]
	if !ok {
		return w.Settler.Settle(ctx, job.JobRow, dl, domain.Errorf(domain.EINVALID, "connector %s has no event handler in this build", in.Connector))
	}
	ctx = outbound.WithMeta(ctx, outbound.Meta{MerchantID: ev.MerchantID, InstallationID: in.ID, EventID: ev.ID, JobID: job.ID})
	outcome, err := h.HandleEvent(ctx, in, ev)
	if err != nil {
		return w.Settler.Settle(ctx, job.JobRow, dl, err)
	}
	w.Settler.Succeeded(in.ID)
	if outcome == MarkedProcessed {
		return nil
	}
	if err := w.Store.MarkEventProcessed(ctx, ev.ID, w.Settler.Now()); err != nil {
		return fmt.Errorf("error marking event processed: %w", err)
	}
	return nil
}
