// Package connector holds what the five connectors share: the interface a
// connector implements and the optional capabilities it may declare, the
// Set that checks a registry of them and derives the tables the rest of the
// hub runs from (event handlers, syncers, webhook sources, HTTP routes), a
// factory that builds vendor clients from a merchant's stored connections,
// and the Whiplash order snapshot logic used by both Whiplash connectors.
//
// The connectors themselves are listed in one place,
// internal/connector/registry; nothing else names a concrete connector.
package connector

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
)

// Connector is one connector kind.
type Connector interface {
	// Name is the connector's name, e.g. "whiplash-gorgias".
	Name() string
	// Roles are the vendor connections an installation links, by vendor
	// name (domain.Vendor*).
	Roles() []string
	// Install creates (or finds, on re-install) everything the connector
	// needs in the vendor accounts, records the ids in in.RemoteIDs and makes
	// the installation active. It is safe to run again (repair).
	Install(ctx context.Context, in *domain.Installation) error
}

// The optional capabilities below are discovered with a type assertion: a
// connector declares what it has by implementing them.

// WebhookReceiver receives vendor webhooks (POST /hooks/{vendor}/{installation}):
// ingest verifies and stores them, and HandleEvent processes each one later.
type WebhookReceiver interface {
	jobs.EventHandler
	// Sources are the webhook contracts by vendor; each vendor is one of
	// the connector's roles.
	Sources() map[string]ingest.Source
}

// IngestApplier is a WebhookReceiver whose events are applied inside the
// transaction that stores them (ingest's group commit) rather than by a
// process_event job each. ApplyOnIngest must do what HandleEvent does with
// the stored event (a replay runs HandleEvent); it returns nil for an event
// that needs its job. It runs on the request, before the event is queued
// for the commit, and must not touch the store.
type IngestApplier interface {
	ApplyOnIngest(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply
}

// SyncRunner runs coalesced syncs; sync kinds are unique across connectors.
type SyncRunner interface {
	Syncers() map[string]jobs.Syncer
}

// Route is a synchronous HTTP endpoint of a connector (HTTP-integration
// pulls, macro actions, install flows), answered inline rather than stored
// and acknowledged. Pattern is a net/http pattern ("GET /hooks/gorgias/NAME/…"),
// under /hooks/{vendor}/NAME/, /install/NAME or /oauth/callback/NAME.
type Route struct {
	Pattern string
	Handler http.Handler
}

// RouteProvider serves its own routes.
type RouteProvider interface {
	Routes() []Route
}

// AdminRoute is an admin API endpoint of a connector about one of its
// installations (audit rows, a link approval, a rename). The server mounts
// it at /api/v1/merchants/{merchant}/installations/{installation}/<Path>,
// authorizes the caller (the operator token, or that merchant's own token
// unless Operator is set), loads the installation within the merchant and
// answers 404 when it belongs to another connector; Handle gets it loaded.
// Several connectors may declare the same Method and Path: the
// installation's connector answers.
type AdminRoute struct {
	Method string // GET, POST, PUT, PATCH or DELETE
	// Path is relative to the installation: lower-case segments of
	// letters, digits and dashes, e.g. "audit" or "link/approve".
	Path string
	// Operator restricts the route to the operator token.
	Operator bool
	// Handle answers with a status and a JSON body, or an error whose
	// domain code gives the status (connector.CallerError is applied).
	Handle func(r *http.Request, in *domain.Installation) (status int, body any, err error)
}

// AdminRouteProvider declares admin API routes about its installations.
type AdminRouteProvider interface {
	AdminRoutes() []AdminRoute
}

// Backfiller copies history before a launch date (POST/GET
// …/installations/{i}/backfill).
type Backfiller interface {
	StartBackfill(ctx context.Context, in *domain.Installation) error
	// BackfillStatus is the progress an operator sees; ENOTFOUND when none
	// was started.
	BackfillStatus(ctx context.Context, in *domain.Installation) (any, error)
}

// Uninstaller removes what Install created (POST …/installations/{i}/uninstall,
// after which the installation is uninstalled). It must be safe to run
// again: objects already gone are not an error.
type Uninstaller interface {
	Uninstall(ctx context.Context, in *domain.Installation) error
}

// SettingsValidator checks an installation's settings before they are
// saved (EINVALID with a message the merchant can act on).
type SettingsValidator interface {
	ValidateSettings(ctx context.Context, in *domain.Installation) error
}

// Configurable takes operator configuration that belongs to the hub rather
// than to a merchant (an app's OAuth client of a vendor, the hub's public
// URL): `serve --connector-config NAME.KEY=VALUE` (env
// SWITCHYARD_CONNECTOR_CONFIG="NAME.KEY=VALUE;…"). The app calls
// ConfigureFrom once at start with every key of ConfigKeys (get answers ""
// for an unset one) and refuses to start on an error or a key the
// connector does not list.
type Configurable interface {
	ConfigKeys() []string
	ConfigureFrom(get func(key string) string) error
}

// ClientBuilder is declared by a connector that builds, with ClientFor in
// its own package, the clients of roles whose vendor no other connector
// uses (Clients has methods only for the shared ones).
type ClientBuilder interface {
	BuildsClients() []string
}

// Deps are the dependencies every connector gets.
type Deps struct {
	Store   domain.Store
	Clients *Clients
	// Coalesce delays the first run of a sync so bursts collapse into one
	// write (default 500 ms).
	Coalesce time.Duration
	// SyncSlice bounds one attempt of a long sync (a backfill) before it
	// saves progress and continues in the next slice (default 30 s).
	SyncSlice time.Duration
	// Progress is told about long-running work (backfill phases; metrics).
	// May be nil.
	Progress func(installationID, phase string, done, total int)
	// PublicURL is the hub's external base URL (serve --public-url), which
	// vendors call back (HTTP integrations, macro actions, OAuth redirects);
	// connectors may let an installation override it. May be empty.
	PublicURL string
	Now       func() time.Time
	Logger    *slog.Logger
}

// WithDefaults fills unset fields.
func (d Deps) WithDefaults() Deps {
	if d.Coalesce <= 0 {
		d.Coalesce = 500 * time.Millisecond
	}
	if d.SyncSlice <= 0 {
		d.SyncSlice = 30 * time.Second
	}
	arch := baseservice.New(d.Logger, d.Now)
	d.Logger, d.Now = arch.Logger, arch.Now
	return d
}

// Factory builds a connector from its dependencies.
type Factory func(Deps) Connector

// Of adapts a connector package's constructor to a Factory.
func Of[C Connector](newC func(Deps) C) Factory {
	return func(d Deps) Connector { return newC(d) }
}
