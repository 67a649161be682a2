// Command switchyard is the integration hub: serve, migrate, emulate, demo,
// bench and version. Every flag has a SWITCHYARD_* environment twin.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"switchyard/internal/app"
	"switchyard/internal/secret"
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

type globals struct {
	LogFormat string `name:"log-format" env:"SWITCHYARD_LOG_FORMAT" enum:"text,json" default:"text" help:"Log format: text or json."`
	LogLevel  string `name:"log-level" env:"SWITCHYARD_LOG_LEVEL" enum:"debug,info,warn,error" default:"info" help:"Minimum log level."`
}

func (g *globals) logger(w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(g.LogLevel))
	opts := &slog.HandlerOptions{Level: lv}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

type dbFlags struct {
	DB string `name:"db" env:"SWITCHYARD_DB" default:"sqlite://./switchyard.db" help:"Database URL: sqlite://PATH (embedded default) or postgres://USER:PASS@HOST/DB."`
}

type serveCmd struct {
	dbFlags
	Addr          string        `name:"addr" env:"SWITCHYARD_ADDR" default:"127.0.0.1:8080" help:"Listen address."`
	SecretKey     string        `name:"secret-key" env:"SWITCHYARD_SECRET_KEY" help:"Key that encrypts stored credentials: 32 bytes, base64 or hex."`
	SecretKeyFile string        `name:"secret-key-file" env:"SWITCHYARD_SECRET_KEY_FILE" type:"path" help:"File holding the secret key (see 'switchyard keygen')."`
	AdminToken    string        `name:"admin-token" env:"SWITCHYARD_ADMIN_TOKEN" help:"Bearer token for the admin API (/api/v1); empty disables it."`
	Workers       int           `name:"workers" env:"SWITCHYARD_WORKERS" default:"100" help:"Concurrent job workers."`
	RetryHorizon  time.Duration `name:"retry-horizon" env:"SWITCHYARD_RETRY_HORIZON" default:"24h" help:"How long failing deliveries are retried before they become dead letters."`
	RescueAfter   time.Duration `name:"rescue-stuck-after" env:"SWITCHYARD_RESCUE_STUCK_AFTER" default:"10m" help:"Postgres: retry jobs left running by a crashed replica after this long; must exceed --job-timeout (serve refuses otherwise). SQLite releases them at start-up."`
	JobTimeout    time.Duration `name:"job-timeout" env:"SWITCHYARD_JOB_TIMEOUT" default:"2m" help:"Longest one attempt of a job may run."`

	AllowVendorHosts []string          `name:"allow-vendor-hosts" env:"SWITCHYARD_ALLOW_VENDOR_HOSTS" sep:"," help:"Hosts beyond the vendors' own (host or host:port, comma-separated) that connections may name in base_url and vendor calls may reach even at non-public addresses: emulators, sandboxes, a proxy. Default: none."`
	PublicURL        string            `name:"public-url" env:"SWITCHYARD_PUBLIC_URL" help:"The hub's external base URL (https://hub.example.com), which Gorgias and the OAuth providers call back. Empty: connectors use their installation's setting or the request's origin."`
	ConnectorConfig  map[string]string `name:"connector-config" env:"SWITCHYARD_CONNECTOR_CONFIG" mapsep:";" help:"Operator configuration of connectors as NAME.KEY=VALUE (repeat the flag, or separate with ; in the env variable), e.g. yotpo-gorgias.gorgias_client_id=… for the hub's Gorgias app. Secrets are better given in the env variable than on the command line."`
	MaxRetryAfter    time.Duration     `name:"max-retry-after" env:"SWITCHYARD_MAX_RETRY_AFTER" default:"5m" help:"Longest a vendor's Retry-After may pause a rate budget or delay a job."`
}

func (c *serveCmd) Run(g *globals) error {
	logger := g.logger(os.Stderr)
	key, err := secret.LoadKey(c.SecretKey, c.SecretKeyFile)
	if err != nil {
		return fmt.Errorf("serve refuses to start: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, app.Config{Addr: c.Addr, DB: c.DB, SecretKey: key, AdminToken: c.AdminToken, Workers: c.Workers, RetryHorizon: c.RetryHorizon, RescueStuckAfter: c.RescueAfter, JobTimeout: c.JobTimeout, Version: version,
		AllowVendorHosts: c.AllowVendorHosts, MaxRetryAfter: c.MaxRetryAfter, ConnectorConfig: c.ConnectorConfig, PublicURL: c.PublicURL}, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

type migrateCmd struct {
	dbFlags
}

func (c *migrateCmd) Run(g *globals) error {
	logger := g.logger(os.Stderr)
	// Migrations do not need the real key: nothing is decrypted.
	a, err := app.New(context.Background(), app.Config{DB: c.DB, SecretKey: make([]byte, secret.KeySize)}, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Store().Ready(context.Background()); err != nil {
		return err
	}
	logger.Info("migrations applied")
	return nil
}

type versionCmd struct{}

func (versionCmd) Run() error {
	commit := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	fmt.Printf("switchyard %s\ncommit %s\n%s %s/%s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

type keygenCmd struct{}

func (keygenCmd) Run() error {
	k, err := secret.GenerateKey()
	if err != nil {
		return err
	}
	fmt.Println(k)
	return nil
}

type cli struct {
	globals
	Serve   serveCmd   `cmd:"" help:"Run the hub: HTTP server and job workers."`
	Migrate migrateCmd `cmd:"" help:"Apply schema and River migrations, then exit."`
	Demo    demoCmd    `cmd:"" help:"Run everything offline: all emulators, the hub, a demo merchant with its five connectors installed through their install flows, and a stream of orders, tickets and escalations."`
	Emulate emulateCmd `cmd:"" help:"Run one vendor emulator standalone."`
	Bench   benchCmd   `cmd:"" help:"Run a benchmark of SPEC §6 (P1–P5): print a table, write bench/results/<name>.json."`
	Keygen  keygenCmd  `cmd:"" help:"Print a new random secret key (base64)."`
	Version versionCmd `cmd:"" help:"Print version, commit and Go version."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c,
		kong.Name("switchyard"),
		kong.Description("Self-hosted integration hub: Whiplash, Konnektive, Yotpo and Shopify into Gorgias and Klaviyo."),
		kong.UsageOnError(),
	)
	if err := ctx.Run(&c.globals); err != nil {
		msg := err.Error()
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		fmt.Fprintln(os.Stderr, "switchyard:", msg)
		os.Exit(1)
	}
}
