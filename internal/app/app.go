// Package app wires switchyard together. App has Run and Close and is used
// both by the serve command and by end-to-end tests (temp-dir database,
// 127.0.0.1:0 listener).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"switchyard/internal/adminui"
	"switchyard/internal/baseservice"
	"switchyard/internal/connector"
	"switchyard/internal/connector/registry"
	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
	"switchyard/internal/metrics"
	"switchyard/internal/outbound"
	"switchyard/internal/secret"
	"switchyard/internal/server"
	"switchyard/internal/store/pgstore"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// Config configures the hub.
type Config struct {
	// Addr is the listen address (default 127.0.0.1:8080).
	Addr string
	// DB is sqlite://path or postgres://… (default sqlite://./switchyard.db).
	DB string
	// SecretKey encrypts connection secrets (32 bytes). Required.
	SecretKey []byte
	// AdminToken guards the admin API; empty disables it.
	AdminToken string
	// Workers is the number of concurrent job workers (default 100).
	Workers int
	// RetryHorizon is how long a failing job is retried before it is
	// dead-lettered (default 24 h).
	RetryHorizon time.Duration
	// ShutdownTimeout bounds graceful shutdown (default 30 s).
	ShutdownTimeout time.Duration
	// Handlers replace the connectors' event handlers (tests).
	Handlers map[string]jobs.EventHandler
	// HTTPClient makes vendor calls (default: 30 s timeout, dials through
	// an outbound.DialGuard, no redirects).
	HTTPClient *http.Client
	// AllowVendorHosts lists the hosts ("host" or "host:port") beyond the
	// vendors' own that connections may name in base_url and that vendor
	// calls may reach even at non-public addresses (emulators, sandboxes, a
	// proxy). Empty: only the vendors' own hosts, at public addresses.
	AllowVendorHosts []string
	// Resolver resolves vendor hosts for the dial guard (default DNS; tests).
	Resolver outbound.Resolver
	// MaxRetryAfter caps how long a vendor's Retry-After pauses a budget or
	// snoozes a job (default outbound.DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Coalesce delays syncs so bursts collapse into one write (default 500 ms).
	Coalesce time.Duration
	// RescueStuckAfter is when River's rescuer retries a job left running by
	// a crashed process on Postgres (default 10 min). It must exceed
	// JobTimeout, or a job could be rescued while it still runs; New refuses
	// a config where it does not. On SQLite one process owns the database
	// and releases its predecessor's running jobs at start-up instead.
	RescueStuckAfter time.Duration
	// JobTimeout bounds one attempt of a job (default 2 min).
	JobTimeout time.Duration
	// BackoffBase and BackoffCap tune retry backoff (defaults 2 s and 10 min).
	BackoffBase, BackoffCap time.Duration
	// PublicURL is the hub's external base URL, which vendors call back
	// (HTTP integrations, macro actions, OAuth redirects). Empty: each
	// connector falls back to its own setting or the request's origin.
	PublicURL string
	// ConnectorConfig is operator configuration of connectors, "NAME.KEY"
	// → value (connector.Configurable); New refuses unknown keys.
	ConnectorConfig map[string]string
	Version         string
	Now             func() time.Time
}

// Defaults of Config.
const (
	DefaultRescueStuckAfter = 10 * time.Minute
	DefaultJobTimeout       = 2 * time.Minute
)

// App is a running hub.
type App struct {
	cfg        Config
	logger     *slog.Logger
	backend    interface{ Migrate(context.Context) error }
	store      *sqlstore.Store
	metrics    *metrics.Metrics
	limiter    *outbound.SharedLimiter
	recorder   *outbound.BatchRecorder
	ingest     *ingest.Handler
	connectors *connector.Set
	river      *river.Config
	writers    int
	ui         *adminui.UI
	http       *http.Server
	ln         net.Listener
}

// New opens the database, applies migrations and builds the hub. It does not
// listen or start workers; Run does.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	if len(cfg.SecretKey) == 0 {
		return nil, errors.New("no secret key: " + secret.HowToMakeKey)
	}
	box, err := secret.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DB == "" {
		cfg.DB = "sqlite://./switchyard.db"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 100
	}
	if cfg.RetryHorizon <= 0 {
		cfg.RetryHorizon = jobs.DefaultHorizon
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.RescueStuckAfter <= 0 {
		cfg.RescueStuckAfter = DefaultRescueStuckAfter
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.RescueStuckAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("the stuck-job rescue interval (%s) must exceed the job timeout (%s): a job still running could be rescued and run twice; raise --rescue-stuck-after or lower --job-timeout",
			cfg.RescueStuckAfter, cfg.JobTimeout)
	}
	arch := baseservice.New(logger, cfg.Now)
	logger, cfg.Now = arch.Logger, arch.Now
	allow, err := outbound.ParseAllowList(cfg.AllowVendorHosts)
	if err != nil {
		return nil, err
	}
	fingerprintKey, err := connector.FingerprintKeyFrom(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: logger}
	local := outbound.NewLocalLimiter(cfg.Now)
	local.MaxPause = cfg.MaxRetryAfter
	local.Cold = true // a budget the database has never seen may still be spent at the vendor: see LocalLimiter.Cold
	riverLogger := slog.New(levelFilter{logger.Handler(), slog.LevelWarn})

	// Built in order: store → connectors over it → River workers that call
	// them → ingest and server over all of it.
	if err := a.openStore(ctx, box, riverLogger); err != nil {
		return nil, err
	}
	// Rate budgets live in the database: replicas on one Postgres share one
	// budget per vendor account, and a restart continues the budget the
	// last process left (outbound.SharedLimiter).
	a.limiter = outbound.NewSharedLimiter(a.store, local, cfg.Now, logger)
	a.limiter.PaceLocally = a.store.Backend().Name() == "sqlite" // one process: no other replica's sends to space
	a.metrics = metrics.New(a.store.JobCounts, logger)
	a.metrics.SetBuildInfo(cfg.Version)
	a.metrics.WatchBudgets(a.limiter.Status)
	a.recorder = outbound.NewBatchRecorder(a.store.RecordDeliveries, a.metrics.ObserveDelivery, logger, 256, 250*time.Millisecond)
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = outbound.NewHTTPClient(outbound.NewDialGuard(allow, cfg.Resolver), outbound.DefaultTimeout)
	}
	clients := &connector.Clients{Store: a.store, Limiter: a.limiter, Recorder: a.recorder, HTTP: httpClient, Now: cfg.Now, Logger: logger,
		Allow: allow, FingerprintKey: fingerprintKey}
	set, err := registry.Build(connector.Deps{Store: a.store, PublicURL: cfg.PublicURL, Coalesce: cfg.Coalesce, Now: cfg.Now, Logger: logger,
		SyncSlice: min(30*time.Second, cfg.JobTimeout/4), Progress: a.metrics.ObserveBackfill, Clients: clients})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	if err := set.Configure(cfg.ConnectorConfig); err != nil {
		a.store.Close()
		return nil, err
	}
	a.connectors = set
	a.river = a.riverConfig(riverLogger)
	a.ingest = ingest.New(ingest.Config{
		Store:    a.store,
		Sources:  set.Sources(),
		Receives: set.Receives,
		Job:      jobs.EventJob,
		Apply:    a.applyOnIngest,
		Writers:  a.writers,
		Observe:  a.metrics.ObserveIngest,
		Now:      cfg.Now,
		Logger:   logger,
	})
	srv := server.New(server.Config{Store: a.store, Ingest: a.ingest, Metrics: a.metrics.Handler(), Limiter: a.limiter, Connectors: set, AdminToken: cfg.AdminToken, Version: cfg.Version, Logger: logger,
		AllowVendorHosts: allow})
	// The admin UI (/ui/) calls the admin API in process through srv.
	a.ui, err = adminui.New(adminui.Config{API: srv, Store: a.store, Connectors: set, Clients: clients, Now: cfg.Now, Logger: logger})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	root := http.NewServeMux()
	root.Handle("/ui/", a.ui)
	root.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	root.Handle("/", srv)
	a.http = &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	return a, nil
}

// openStore opens the configured database and applies migrations.
func (a *App) openStore(ctx context.Context, box *secret.Box, riverLogger *slog.Logger) error {
	cfg := a.cfg
	var backend sqlstore.Backend
	switch {
	case strings.HasPrefix(cfg.DB, "sqlite:"):
		path, err := sqlitestore.ParseURL(cfg.DB)
		if err != nil {
			return err
		}
		b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path, Logger: riverLogger})
		if err != nil {
			return err
		}
		backend, a.backend, a.writers = b, b, 1
	case strings.HasPrefix(cfg.DB, "postgres://"), strings.HasPrefix(cfg.DB, "postgresql://"):
		b, err := pgstore.Open(ctx, pgstore.Config{URL: cfg.DB, Logger: riverLogger})
		if err != nil {
			return err
		}
		backend, a.backend, a.writers = b, b, 4
	default:
		return fmt.Errorf("--db must start with sqlite:// or postgres://, got %q", redactURL(cfg.DB))
	}
	a.store = sqlstore.New(backend, box, cfg.Now)
	if err := a.backend.Migrate(ctx); err != nil {
		backend.Close()
		return err
	}
	return nil
}

// riverConfig builds the River workers over the store and the connectors.
func (a *App) riverConfig(riverLogger *slog.Logger) *river.Config {
	cfg := a.cfg
	settler := &jobs.Settler{Store: a.store, Horizon: cfg.RetryHorizon, Now: cfg.Now, Logger: a.logger, OnDeadLetter: a.metrics.ObserveDeadLetter, MaxRetryAfter: cfg.MaxRetryAfter,
		Breaker: a.limiter}
	attempt := cfg.JobTimeout
	handlers := maps.Clone(a.connectors.Handlers())
	maps.Copy(handlers, cfg.Handlers)
	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.ProcessEventWorker{Store: a.store, Handlers: handlers, Settler: settler, AttemptTimeout: attempt})
	river.AddWorker(workers, &jobs.SyncWorker{Store: a.store, Syncers: a.connectors.Syncers(), Settler: settler})
	return &river.Config{
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			jobs.QueueSync:     {MaxWorkers: cfg.Workers},
		},
		Workers:              workers,
		RetryPolicy:          jobs.RetryPolicy{Base: cfg.BackoffBase, Cap: cfg.BackoffCap, Now: cfg.Now},
		MaxAttempts:          jobs.DefaultMaxAttempts,
		Logger:               riverLogger,
		RescueStuckJobsAfter: cfg.RescueStuckAfter,
		JobTimeout:           attempt,
	}
}

// applyOnIngest lets a connector apply an event in its ingest transaction
// (connector.IngestApplier), unless a test replaced its event handler.
func (a *App) applyOnIngest(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply {
	if _, replaced := a.cfg.Handlers[in.Connector]; replaced {
		return nil
	}
	return a.connectors.ApplyOnIngest(in, ev)
}

// Store returns the store (tests, other subsystems).
func (a *App) Store() *sqlstore.Store { return a.store }

// Recorder returns the delivery recorder vendor clients use.
func (a *App) Recorder() outbound.Recorder { return a.recorder }

// Connector returns a connector by name (nil when unknown).
func (a *App) Connector(name string) connector.Connector {
	c, _ := a.connectors.Get(name)
	return c
}

// UI returns the admin UI (LoginLink makes a one-time login link).
func (a *App) UI() *adminui.UI { return a.ui }

// Limiter returns the rate limiter (budgets shared through the database).
func (a *App) Limiter() *outbound.SharedLimiter { return a.limiter }

// Listen binds the address (so Addr is known before Run).
func (a *App) Listen() error {
	if a.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", a.cfg.Addr, err)
	}
	a.ln = ln
	return nil
}

// Addr is the bound address ("" before Listen).
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// URL is the base URL of the bound address.
func (a *App) URL() string { return "http://" + a.Addr() }

// Run listens (if not yet), starts the job workers and serves until ctx ends,
// then shuts down gracefully: stop accepting, drain ingest, finish or release
// in-flight jobs, flush delivery logs.
func (a *App) Run(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return err
	}
	if err := a.store.StartJobs(ctx, a.river); err != nil {
		return fmt.Errorf("error starting job workers: %w", err)
	}
	a.logger.Info("switchyard serving", slog.String("addr", a.Addr()), slog.String("admin_ui", a.URL()+"/ui/"), slog.String("db", redactURL(a.cfg.DB)), slog.Int("workers", a.cfg.Workers))
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(a.ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.logger.Info("switchyard shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.http.Shutdown(sctx); err != nil {
		a.logger.Warn("http shutdown", slog.String("error", err.Error()))
	}
	a.ingest.Close()
	if err := a.store.StopJobs(sctx); err != nil {
		a.logger.Warn("job workers did not stop cleanly", slog.String("error", err.Error()))
	}
	a.recorder.Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// Close releases the database. Call after Run returns (or instead of Run).
func (a *App) Close() error {
	if a.ln != nil {
		a.ln.Close()
	}
	a.ingest.Close()
	a.recorder.Close()
	return a.store.Close()
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	creds := u[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return u[:scheme+3] + user + ":xxxxx" + u[at:]
	}
	return u
}

// levelFilter raises the minimum level of a handler (River is chatty at info).
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}
func (l levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{l.Handler.WithAttrs(as), l.min}
}
func (l levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{l.Handler.WithGroup(n), l.min}
}
