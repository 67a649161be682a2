package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver: reads of a child hub's Postgres database

	"switchyard/internal/app"
	"switchyard/internal/domain"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
)

// counter wraps an emulator and counts the API calls reaching it (control
// routes under /_emulator excluded): by route, 429 answers, and the time of
// the last call.
type counter struct {
	h  http.Handler
	id *regexp.Regexp // a path segment that is an id

	mu      sync.Mutex
	byRoute map[string]int
	calls   atomic.Int64
	limited atomic.Int64
	last    atomic.Int64 // unix nanoseconds
}

func newCounter(h http.Handler) *counter {
	return &counter{h: h, id: regexp.MustCompile(`/[0-9][^/]*`), byRoute: map[string]int{}}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator") {
		c.h.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	c.h.ServeHTTP(sw, r)
	route := r.Method + " " + c.id.ReplaceAllString(r.URL.Path, "/{id}")
	c.mu.Lock()
	c.byRoute[route]++
	c.mu.Unlock()
	c.calls.Add(1)
	if sw.status == http.StatusTooManyRequests {
		c.limited.Add(1)
	}
	c.last.Store(time.Now().UnixNano())
}

// reset zeroes the counts.
func (c *counter) reset() {
	c.mu.Lock()
	c.byRoute = map[string]int{}
	c.mu.Unlock()
	c.calls.Store(0)
	c.limited.Store(0)
	c.last.Store(0)
}

func (c *counter) routes() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byRoute))
	for k, v := range c.byRoute {
		out[k] = v
	}
	return out
}

func (c *counter) lastCall() time.Time {
	n := c.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// env is one benchmark's world: emulators on 127.0.0.1 and the hub.
type env struct {
	opt     *Options
	servers []*http.Server
	closers []func()
	urls    map[string]string
	count   map[string]*counter

	app        *app.App // the in-process hub, or nil
	appCancel  context.CancelFunc
	appDone    chan error
	child      *child  // the serve child process, or nil
	pid        string  // the hub's /proc entry: "self" or the child's pid
	rdb        *sql.DB // read-only view of a child's database
	hubURL     string
	adminToken string
	dbURL      string
	dropDB     func()
	// connectorConfig is the operator's connector configuration
	// ("NAME.KEY" → value): app.Config.ConnectorConfig in process, the
	// env twin of `serve --connector-config` for the child.
	connectorConfig map[string]string
}

func newEnv(opt *Options) *env {
	return &env{opt: opt, urls: map[string]string{}, count: map[string]*counter{}}
}

// serve starts an emulator (wrapped in a call counter) on 127.0.0.1:0.
func (e *env) serve(name string, h http.Handler, closeFn func()) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("error listening for the %s emulator: %w", name, err)
	}
	c := newCounter(h)
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	e.servers = append(e.servers, srv)
	if closeFn != nil {
		e.closers = append(e.closers, closeFn)
	}
	e.urls[name] = "http://" + ln.Addr().String()
	e.count[name] = c
	return nil
}

// vendorHosts lists the emulators' host:port, which the operator
// allow-lists for vendor calls (tenant isolation: `serve
// --allow-vendor-hosts`, env SWITCHYARD_ALLOW_VENDOR_HOSTS).
func (e *env) vendorHosts() []string {
	var hosts []string
	for _, u := range e.urls {
		hosts = append(hosts, strings.TrimPrefix(u, "http://"))
	}
	sort.Strings(hosts)
	return hosts
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// database returns the hub's database URL: a fresh SQLite file, or a fresh
// database on the given Postgres server (dropped by close).
func (e *env) database(ctx context.Context, file string) (string, error) {
	if !strings.HasPrefix(e.opt.DB, "postgres") {
		e.dbURL = "sqlite://" + filepath.Join(e.opt.TempDir, file)
		return e.dbURL, nil
	}
	u, err := freshPostgres(ctx, e.opt.DB)
	if err != nil {
		return "", err
	}
	e.dbURL, e.dropDB = u.url, u.drop
	return e.dbURL, nil
}

type pgDB struct {
	url  string
	drop func()
}

// freshPostgres creates a database with a random name on the server of
// admin and returns its URL and a drop function.
func freshPostgres(ctx context.Context, admin string) (pgDB, error) {
	name := "swbench_" + randomHex(6)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return pgDB{}, fmt.Errorf("error connecting to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return pgDB{}, fmt.Errorf("error creating database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return pgDB{}, fmt.Errorf("error parsing the postgres URL: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return pgDB{url: u.String(), drop: drop}, nil
}

// hubConfig is the in-process hub's configuration: what `serve` would run
// with, on dbURL, the emulators allow-listed as vendor hosts.
func (e *env) hubConfig(dbURL string) app.Config {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.adminToken = "bench-" + randomHex(8)
	return app.Config{Addr: "127.0.0.1:0", DB: dbURL, SecretKey: key, AdminToken: e.adminToken, Workers: e.opt.Workers, Version: "bench",
		AllowVendorHosts: e.vendorHosts(), ConnectorConfig: e.connectorConfig}
}

// launch runs the hub on a fresh database (start) and records where it
// runs in the report.
func (e *env) launch(ctx context.Context, rep *Report, inProcess bool) error {
	dbURL, err := e.database(ctx, "hub.db")
	if err != nil {
		return err
	}
	if err := e.start(ctx, dbURL, inProcess); err != nil {
		return err
	}
	rep.Params["hub"] = e.mode()
	return nil
}

// start runs the hub on dbURL: a `serve` child process when the options
// name the binary (and inProcess is false), else in this process.
func (e *env) start(ctx context.Context, dbURL string, inProcess bool) error {
	if e.opt.HubExe == "" || inProcess {
		e.pid = "self"
		return e.startHub(ctx, e.hubConfig(dbURL))
	}
	c, err := e.startChild(ctx, e.opt.HubExe, dbURL)
	if err != nil {
		return err
	}
	e.child, e.pid = c, strconv.Itoa(c.cmd.Process.Pid)
	// The bench reads the child's database on its own connection, so its
	// polling never waits on (or delays) the hub's.
	if path, ok := strings.CutPrefix(dbURL, "sqlite://"); ok {
		e.rdb, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	} else {
		e.rdb, err = sql.Open("pgx", dbURL)
	}
	if err != nil {
		return fmt.Errorf("error opening the hub's database for reading: %w", err)
	}
	e.rdb.SetMaxOpenConns(1)
	return nil
}

// mode names where the hub runs.
func (e *env) mode() string {
	if e.child != nil {
		return "serve child process"
	}
	return "in process"
}

// queryRow runs a read on the hub's database.
func (e *env) queryRow(ctx context.Context, q string, dest ...any) error {
	if e.app != nil {
		return e.app.Store().Backend().Read().QueryRow(ctx, q).Scan(dest...)
	}
	if e.rdb == nil {
		return errors.New("no hub database to read")
	}
	return e.rdb.QueryRowContext(ctx, q).Scan(dest...)
}

// startHub runs the hub in this process.
func (e *env) startHub(ctx context.Context, cfg app.Config) error {
	a, err := app.New(ctx, cfg, e.opt.Logger)
	if err != nil {
		return fmt.Errorf("error starting the hub: %w", err)
	}
	if err := a.Listen(); err != nil {
		_ = a.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.app, e.appCancel, e.appDone = a, cancel, make(chan error, 1)
	go func() { e.appDone <- a.Run(runCtx) }()
	e.hubURL = a.URL()
	return nil
}

// stopHub shuts the in-process hub down.
func (e *env) stopHub() {
	if e.app == nil {
		return
	}
	e.appCancel()
	<-e.appDone
	_ = e.app.Close()
	e.app = nil
}

func (e *env) close() {
	e.stopHub()
	if e.child != nil {
		e.child.stop()
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	for _, s := range e.servers {
		_ = s.Close()
	}
	for _, c := range e.closers {
		c()
	}
	if e.dropDB != nil {
		e.dropDB()
	}
}

// httpClient is a keep-alive client for n concurrent callers.
func httpClient(n int) *http.Client {
	tr := &http.Transport{MaxIdleConns: n + 8, MaxIdleConnsPerHost: n + 8, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// api calls the hub's admin API.
func (e *env) api(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("error encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.hubURL+path, rd)
	if err != nil {
		return fmt.Errorf("error building %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+e.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("error calling %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("error decoding %s %s: %w", method, path, err)
		}
	}
	return nil
}

// tenant is a merchant with its connections.
type tenant struct {
	merchant                   string
	whiplash, gorgias, klaviyo string
	konnektive, shopify        string
}

// newTenant creates a merchant and its Whiplash, Gorgias, Klaviyo,
// Konnektive and Shopify connections to the emulators (those that are
// running; after launch, as the Shopify redirect URL is the hub's).
func (e *env) newTenant(ctx context.Context, name string, gorgiasWindow time.Duration) (*tenant, error) {
	var m domain.Merchant
	if err := e.api(ctx, "POST", "/api/v1/merchants", map[string]string{"name": name}, &m); err != nil {
		return nil, err
	}
	t := &tenant{merchant: m.ID}
	conn := func(body map[string]any) (string, error) {
		var c struct{ ID string }
		err := e.api(ctx, "POST", "/api/v1/merchants/"+m.ID+"/connections", body, &c)
		return c.ID, err
	}
	var err error
	if u := e.urls["whiplash"]; u != "" {
		if t.whiplash, err = conn(map[string]any{"vendor": "whiplash", "account": "1", "config": map[string]string{"base_url": u, "client_id": "switchyard", "grant": "client_credentials"},
			"secrets": map[string]string{"client_secret": "whiplash-app-secret"}}); err != nil {
			return nil, err
		}
	}
	if u := e.urls["gorgias"]; u != "" {
		if t.gorgias, err = conn(map[string]any{"vendor": "gorgias", "account": "acme", "config": map[string]string{"base_url": u, "email": "admin@acme.test", "rate_window": gorgiasWindow.String()},
			"secrets": map[string]string{"api_key": "gorgias-key"}}); err != nil {
			return nil, err
		}
	}
	if u := e.urls["klaviyo"]; u != "" {
		if t.klaviyo, err = conn(map[string]any{"vendor": "klaviyo", "account": "demo", "config": map[string]string{"base_url": u}, "secrets": map[string]string{"private_key": "pk_demo"}}); err != nil {
			return nil, err
		}
	}
	if u := e.urls["konnektive"]; u != "" {
		if t.konnektive, err = conn(map[string]any{"vendor": "konnektive", "account": konnektiveemu.DefaultLoginID, "config": map[string]string{"base_url": u},
			"secrets": map[string]string{"password": konnektiveemu.DefaultPassword}}); err != nil {
			return nil, err
		}
	}
	if u := e.urls["shopify"]; u != "" {
		// max_rps lifts the connection's default cap of 10 requests/s (the
		// emulator's points bucket is sized by the benchmark).
		if t.shopify, err = conn(map[string]any{"vendor": "shopify", "account": shopifyemu.DefaultShop,
			"config":  map[string]string{"base_url": u, "client_id": shopifyemu.DefaultClientID, "redirect_url": e.hubURL + "/oauth/callback/together-gorgias/shopify", "max_rps": "1000"},
			"secrets": map[string]string{"client_secret": shopifyemu.DefaultClientSecret}}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// install creates and installs a connector for the tenant (C5 after its
// link approval and OAuth, see linkTogether).
func (e *env) install(ctx context.Context, t *tenant, connector string, settings map[string]string) (string, error) {
	conns := map[string]string{}
	switch connector {
	case "whiplash-gorgias":
		conns["whiplash"], conns["gorgias"] = t.whiplash, t.gorgias
	case "whiplash-klaviyo":
		conns["whiplash"], conns["klaviyo"] = t.whiplash, t.klaviyo
	case "konnektive-gorgias":
		conns["konnektive"], conns["gorgias"] = t.konnektive, t.gorgias
	case "together-gorgias":
		conns["shopify"], conns["gorgias"] = t.shopify, t.gorgias
	}
	body := map[string]any{"connector": connector, "connections": conns}
	if settings != nil {
		body["settings"] = settings
	}
	var in domain.Installation
	if err := e.api(ctx, "POST", "/api/v1/merchants/"+t.merchant+"/installations", body, &in); err != nil {
		return "", err
	}
	if connector == "together-gorgias" {
		if err := e.linkTogether(ctx, t, in.ID); err != nil {
			return "", err
		}
	}
	if err := e.api(ctx, "POST", "/api/v1/merchants/"+t.merchant+"/installations/"+in.ID+"/install", nil, nil); err != nil {
		return "", fmt.Errorf("error installing %s: %w", connector, err)
	}
	return in.ID, nil
}

// jobCounts reads GET /api/v1/jobs.
func (e *env) jobCounts(ctx context.Context) ([]domain.JobCount, error) {
	var out struct {
		Jobs []domain.JobCount `json:"jobs"`
	}
	err := e.api(ctx, "GET", "/api/v1/jobs", nil, &out)
	return out.Jobs, err
}

// busy counts the jobs not finished, through River's state index (cheap
// enough to poll while the hub works).
func (e *env) busy(ctx context.Context) (int, error) {
	var n int
	err := e.queryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN ('available', 'scheduled', 'running', 'retryable', 'pending')`, &n)
	if err != nil {
		return 0, fmt.Errorf("error counting busy jobs: %w", err)
	}
	return n, nil
}

// waitIdle polls until no job is left (three quiet polls in a row) and
// returns when the first of them was seen.
func (e *env) waitIdle(ctx context.Context, every time.Duration) (time.Time, error) {
	quiet, first := 0, time.Time{}
	for {
		n, err := e.busy(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if n == 0 {
			if quiet == 0 {
				first = time.Now()
			}
			quiet++
			if quiet >= 3 {
				return first, nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d jobs still busy when the bench timed out: %w", n, ctx.Err())
		case <-time.After(every):
		}
	}
}
