package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/jobs"
	"switchyard/internal/outbound"
)

// A run of DegradeAfter consecutive dead letters of one installation
// degrades it; a success in between starts the run again; an auth failure
// degrades it at once.
func TestSettlerDegradesOnARunOfDeadLetters(t *testing.T) {
	t.Parallel()
	var degraded []string
	st := &mock.Store{
		CreateDeadLetterFn: func(context.Context, *domain.DeadLetter) error { return nil },
		DegradeInstallationFn: func(_ context.Context, merchantID, id, reason string) (bool, error) {
			degraded = append(degraded, id+": "+reason)
			return true, nil
		},
	}
	s := &jobs.Settler{Store: st, Now: time.Now, Logger: slog.New(slog.DiscardHandler), DegradeAfter: 3}
	job := &rivertype.JobRow{ID: 1, Kind: "process_event", Attempt: 1, MaxAttempts: 10, CreatedAt: time.Now()}
	terminal := &outbound.Error{Vendor: "gorgias", Endpoint: "PUT /api/customers/{id}/data", Status: 422, Class: domain.ClassTerminal}
	dl := domain.DeadLetter{MerchantID: "m1", InstallationID: "i1"}
	settle := func(err error) {
		if out := s.Settle(context.Background(), job, dl, err); out == nil {
			t.Fatal("a dead letter settled as success")
		}
	}
	settle(terminal)
	settle(terminal)
	s.Succeeded("i1")
	settle(terminal)
	settle(terminal)
	if len(degraded) != 0 {
		t.Fatalf("degraded after runs of 2: %v", degraded)
	}
	settle(terminal)
	if len(degraded) != 1 || !strings.Contains(degraded[0], "3 jobs in a row") || !strings.Contains(degraded[0], "HTTP 422") {
		t.Fatalf("after a run of 3: %v", degraded)
	}
	// Another installation's run is its own; an auth failure degrades at once.
	dl.InstallationID = "i2"
	settle(&outbound.Error{Vendor: "klaviyo", Endpoint: "POST /api/events", Status: 401, Class: domain.ClassAuth})
	if len(degraded) != 2 || !strings.HasPrefix(degraded[1], "i2: auth failure") {
		t.Fatalf("after a 401: %v", degraded)
	}
}

type heldBreaker map[string]bool

func (h heldBreaker) Held(key string) (time.Duration, bool) { return 3 * time.Second, h[key] }

// A transient failure of a held budget snoozes (no attempt spent, no
// backoff); of any other budget it is retried with backoff; a call refused
// by the open circuit always snoozes.
func TestSettlerSnoozesHeldBudgets(t *testing.T) {
	t.Parallel()
	s := &jobs.Settler{Store: &mock.Store{}, Now: time.Now, Logger: slog.New(slog.DiscardHandler), Breaker: heldBreaker{"held": true}}
	job := &rivertype.JobRow{ID: 1, Kind: "sync", Attempt: 7, MaxAttempts: 500, CreatedAt: time.Now()}
	dl := domain.DeadLetter{MerchantID: "m1", InstallationID: "i1"}
	var snooze *river.JobSnoozeError
	out := s.Settle(context.Background(), job, dl, &outbound.Error{Vendor: "gorgias", Status: 503, Class: domain.ClassTransient, Budget: "held"})
	if !errors.As(out, &snooze) || snooze.Duration != 3*time.Second {
		t.Fatalf("held budget: %v, want a 3 s snooze", out)
	}
	out = s.Settle(context.Background(), job, dl, &outbound.Error{Vendor: "gorgias", Status: 503, Class: domain.ClassTransient, Budget: "other"})
	if errors.As(out, &snooze) || out == nil {
		t.Fatalf("budget not held: %v, want the error back (backoff)", out)
	}
	out = s.Settle(context.Background(), job, dl, &outbound.Error{Vendor: "gorgias", Class: domain.ClassTransient, Budget: "other", Err: outbound.ErrCircuitOpen})
	if !errors.As(out, &snooze) {
		t.Fatalf("refused by the circuit: %v, want a snooze", out)
	}
}

// Events of a pending or uninstalled installation are not processed: their
// job is cancelled without calling the handler (the event stays stored and
// can be replayed once installed).
func TestPendingAndUninstalledInstallationsProcessNothing(t *testing.T) {
	t.Parallel()
	for _, state := range []domain.InstallationState{domain.InstallationPending, domain.InstallationUninstalled} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			called := false
			st := &mock.Store{
				GetEventFn: func(_ context.Context, m string, id int64) (*domain.InboundEvent, error) {
					return &domain.InboundEvent{ID: id, MerchantID: m, InstallationID: "i1"}, nil
				},
				GetInstallationFn: func(_ context.Context, m, id string) (*domain.Installation, error) {
					return &domain.Installation{ID: id, MerchantID: m, Connector: "c", State: state}, nil
				},
			}
			w := &jobs.ProcessEventWorker{Store: st, Settler: &jobs.Settler{Store: st, Now: time.Now, Logger: slog.New(slog.DiscardHandler)},
				Handlers: map[string]jobs.EventHandler{"c": jobs.EventHandlerFunc(func(context.Context, *domain.Installation, *domain.InboundEvent) error {
					called = true
					return nil
				})}}
			err := w.Work(context.Background(), &river.Job[jobs.ProcessEventArgs]{JobRow: &rivertype.JobRow{ID: 1}, Args: jobs.ProcessEventArgs{EventID: 7, MerchantID: "m1"}})
			var cancel *river.JobCancelError
			if !errors.As(err, &cancel) || called {
				t.Fatalf("Work = %v, handler called %v; want a cancel without the handler", err, called)
			}
		})
	}
}
