// Package connector holds what the five connectors share: the interface the
// app wires (install, event handler, syncers), a factory that builds vendor
// clients from a merchant's stored connections, and the Whiplash order
// snapshot logic used by both Whiplash connectors.
package connector

import (
	"context"
	"log/slog"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
)

// Connector is one connector kind (domain.Connector* names).
type Connector interface {
	// Name is the connector's name, e.g. "whiplash-gorgias".
	Name() string
	// Install creates (or finds, on re-install) everything the connector
	// needs in the vendor accounts, records the ids in in.RemoteIDs and makes
	// the installation active. It is safe to run again (repair).
	Install(ctx context.Context, in *domain.Installation) error
	// HandleEvent processes one stored inbound event.
	jobs.EventHandler
	// Syncers returns the sync kinds the connector runs.
	Syncers() map[string]jobs.Syncer
}

// Deps are the dependencies every connector gets.
type Deps struct {
	Store   domain.Store
	Clients *Clients
	// Coalesce delays the first run of a sync so bursts collapse into one
	// write (default 500 ms).
	Coalesce time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

func (d *Deps) defaults() {
	if d.Coalesce <= 0 {
		d.Coalesce = 500 * time.Millisecond
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
}

// WithDefaults fills unset fields.
func (d Deps) WithDefaults() Deps {
	d.defaults()
	return d
}
