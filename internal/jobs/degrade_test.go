package jobs_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
