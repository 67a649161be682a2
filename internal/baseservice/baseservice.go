// Package baseservice gives every long-lived service of the hub the same two
// injected dependencies, a logger and a clock, with their defaults written
// once (River's rivershared/baseservice.Archetype). A service embeds an
// Archetype built by New from its config's Logger and Now, and calls
// s.Logger and s.Now() from then on.
package baseservice

import (
	"log/slog"
	"time"
)

// Archetype is what every service gets.
type Archetype struct {
	// Logger is never nil (a discarding logger by default).
	Logger *slog.Logger
	// Now is the clock, stubbable in tests (time.Now by default).
	Now func() time.Time
}

// New returns an Archetype with logger and now, or their defaults when nil.
func New(logger *slog.Logger, now func() time.Time) Archetype {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return Archetype{Logger: logger, Now: now}
}
