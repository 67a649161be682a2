package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/apitest"
)

// Environment of the suite.
const (
	// envBin names a prebuilt switchyard binary; TestMain sets it to the one
	// it builds when it is empty.
	envBin = "SWITCHYARD_RELIABILITY_BIN"
	// envMode is "full" for the full form (docs/reliability.md).
	envMode = "SWITCHYARD_RELIABILITY"
	// envSeed fixes the random choices (kill points); default: random, logged.
	envSeed = "SWITCHYARD_RELIABILITY_SEED"
	// envRescue, a duration, is passed to serve as --rescue-stuck-after by
	// the crash scenario; empty: the product default.
	envRescue = "SWITCHYARD_RELIABILITY_RESCUE_STUCK_AFTER"
)

const (
	operatorToken = "reliability-operator-token"
	whiplashKey   = "whiplash-app-secret"
	// secretKey is a fixed 32-byte key (base64) for --secret-key-file.
	secretKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	// grace is serve's shutdown timeout (app.Config.ShutdownTimeout's
	// default; serve has no flag for it).
	grace = 30 * time.Second
)

// TestMain builds the binary once for every test of the package (unless
// SWITCHYARD_RELIABILITY_BIN names one) and hands its path to the tests
// through that variable.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Getenv(envBin) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "switchyard-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "switchyard")
	build := exec.Command("go", "build", "-o", bin, "switchyard/cmd/switchyard")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	os.Setenv(envBin, bin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// full reports whether the full form was asked for.
func full() bool { return os.Getenv(envMode) == "full" }

// pick returns short or, in the full form, long.
func pick[T any](short, long T) T {
	if full() {
		return long
	}
	return short
}

// needBinary skips under -short and returns the binary's path.
func needBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the switchyard binary")
	}
	bin := os.Getenv(envBin)
	if bin == "" {
		t.Fatal(envBin + " is empty: TestMain did not build the binary")
	}
	return bin
}

// seeded returns the scenario's random source and logs its seed.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", envSeed, err)
		}
		seed = n
	}
	t.Logf("seed %d (%s=%d reproduces the random choices)", seed, envSeed, seed)
	return rand.New(rand.NewPCG(seed, 17))
}

// ---- the serve process

// serve is the hub as a child process: one database, one address, any
// number of starts.
type serve struct {
	t         *testing.T
	bin, db   string
	key, addr string
	logPath   string
	extra     []string
	// argv and env, when argv is set, replace the command line and the
	// environment start builds (a replica started from deploy/Procfile).
	argv, env []string
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	mu        sync.Mutex // cmd, exited, exitErr, starts: a crash scenario restarts serve from its own goroutine
	starts    int
	log       *os.File
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newServe prepares a hub on a fresh SQLite database; extra are more serve
// flags.
func newServe(t *testing.T, extra ...string) *serve {
	t.Helper()
	dir := t.TempDir()
	s := &serve{t: t, bin: needBinary(t), db: "sqlite://" + filepath.Join(dir, "hub.db"), key: filepath.Join(dir, "key"),
		addr: freeAddr(t), logPath: filepath.Join(dir, "serve.log"), extra: extra}
	if err := os.WriteFile(s.key, []byte(secretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.log = f
	t.Cleanup(func() {
		if s.running() {
			_ = s.tryKill()
		}
		f.Close()
		if t.Failed() {
			t.Logf("serve log (last 4 KiB):\n%s", s.logTail(4096))
		}
	})
	return s
}

func (s *serve) url() string { return "http://" + s.addr }

// childEnv is the test's environment without SWITCHYARD_* variables, so
// serve runs with the product defaults plus the flags the scenario names.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			env = append(env, kv)
		}
	}
	return env
}

// start runs serve and waits until /readyz answers 200.
func (s *serve) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

// tryStart is start for goroutines other than the test's: it returns the
// failure instead of failing the test.
func (s *serve) tryStart() error {
	if s.running() {
		return errors.New("serve is already running")
	}
	args := append([]string{"serve", "--db", s.db, "--secret-key-file", s.key, "--addr", s.addr, "--admin-token", operatorToken, "--log-level", "warn"}, s.extra...)
	env := childEnv()
	if s.argv != nil {
		args, env = s.argv, s.env
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("error starting serve: %w", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.exitErr = cmd, exited, nil
	s.starts++
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("serve exited before it was ready: %w", s.exitError())
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("serve was not ready within 60 s")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *serve) exitError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitErr
}

func (s *serve) running() bool {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *serve) kill() {
	s.t.Helper()
	if err := s.tryKill(); err != nil {
		s.t.Fatal(err)
	}
}

// tryKill is kill for goroutines other than the test's.
func (s *serve) tryKill() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("error sending SIGKILL: %w", err)
	}
	<-exited
	return nil
}

// terminate sends SIGTERM and waits up to limit; it returns how long the
// exit took and the exit error (nil for status 0).
func (s *serve) terminate(limit time.Duration) (time.Duration, error) {
	s.t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
		return time.Since(start), s.exitError()
	case <-time.After(limit):
		s.kill()
		return time.Since(start), fmt.Errorf("serve did not exit within %v of SIGTERM", limit)
	}
}

func (s *serve) logTail(n int64) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// ---- the rig: emulators, serve and a merchant with C1 and C2 installed

// rig is a hub with its emulators and a merchant whose whiplash-gorgias
// (c1) and whiplash-klaviyo (c2) installations are installed. The Whiplash
// emulator sends every simulated event to both, retrying until a 2xx.
type rig struct {
	t        *testing.T
	serve    *serve
	gorgias  *gorgiasemu.Emulator
	klaviyo  *klaviyoemu.Emulator
	whiplash *whiplashemu.Emulator
	gURL     string
	kURL     string
	wURL     string
	merchant string
	c1, c2   string
	acks     *ackLog
}

// rigOptions adjust a rig.
type rigOptions struct {
	// serveFlags are more serve flags (e.g. --retry-horizon).
	serveFlags []string
	// gorgiasWindow is the emulated Gorgias rate window (default 250 ms:
	// 40 calls a quarter second, so runs are bounded by the hub, not the
	// vendor).
	gorgiasWindow time.Duration
	// wrapGorgias, when set, wraps the Gorgias emulator's handler (to
	// record the calls it answers).
	wrapGorgias func(http.Handler) http.Handler
	// startServe, when set, starts the hub instead of one serve on a fresh
	// SQLite database; vendorHosts is the --allow-vendor-hosts value.
	startServe func(r *rig, vendorHosts string) *serve
}

func newRig(t *testing.T, opt rigOptions) *rig {
	t.Helper()
	if opt.gorgiasWindow <= 0 {
		opt.gorgiasWindow = 250 * time.Millisecond
	}
	r := &rig{t: t, acks: &ackLog{ids: map[int64]bool{}}}
	r.gorgias = gorgiasemu.New(gorgiasemu.Config{Window: opt.gorgiasWindow})
	r.klaviyo = klaviyoemu.New(klaviyoemu.Config{DisableRateLimits: true})
	// Whiplash retries a webhook until it gets a 2xx (every 100 ms here, so
	// a restart is bridged quickly; the real service backs off longer).
	r.whiplash = whiplashemu.New(whiplashemu.Config{Seed: 3, AllowClientCredentials: true, MaxAttempts: 1 << 20,
		RetryBackoff: func(int) time.Duration { return 100 * time.Millisecond },
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: r.acks}})
	for _, e := range []struct {
		h     http.Handler
		url   *string
		close func()
	}{{gorgiasHandler(r.gorgias, opt.wrapGorgias), &r.gURL, r.gorgias.Close}, {r.klaviyo, &r.kURL, r.klaviyo.Close}, {r.whiplash, &r.wURL, r.whiplash.Close}} {
		srv := httptest.NewServer(e.h) // 127.0.0.1
		*e.url = srv.URL
		t.Cleanup(func() { srv.Close(); e.close() })
	}
	hosts := strings.Join([]string{hostOf(r.gURL), hostOf(r.kURL), hostOf(r.wURL)}, ",")
	if opt.startServe != nil {
		r.serve = opt.startServe(r, hosts)
	} else {
		r.serve = newServe(t, append([]string{"--allow-vendor-hosts", hosts}, opt.serveFlags...)...)
		r.serve.start()
	}

	var m, wl, gg, kl, c1, c2 struct{ ID string }
	r.api("POST", "/api/v1/merchants", `{"name":"Reliability"}`, 201, &m)
	r.merchant = m.ID
	mp := "/api/v1/merchants/" + m.ID
	r.api("POST", mp+"/connections", fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":%q}}`, r.wURL, whiplashKey), 201, &wl)
	r.api("POST", mp+"/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":%q},"secrets":{"api_key":%q}}`,
		r.gURL, gorgiasemu.DefaultUserEmail, opt.gorgiasWindow.String(), gorgiasemu.DefaultAPIKey), 201, &gg)
	r.api("POST", mp+"/connections", fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_demo"}}`, r.kURL), 201, &kl)
	r.api("POST", mp+"/installations", fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	r.api("POST", mp+"/installations", fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kl.ID), 201, &c2)
	r.c1, r.c2 = c1.ID, c2.ID
	r.api("POST", mp+"/installations/"+c1.ID+"/install", "", 200, nil)
	r.api("POST", mp+"/installations/"+c2.ID+"/install", "", 200, nil)
	r.whiplash.SetWebhookTarget(r.hookURL(r.c2), whiplashKey)
	return r
}

func gorgiasHandler(e *gorgiasemu.Emulator, wrap func(http.Handler) http.Handler) http.Handler {
	if wrap == nil {
		return e
	}
	return wrap(e)
}

func hostOf(u string) string {
	return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
}

func (r *rig) hookURL(inst string) string { return r.serve.url() + "/hooks/whiplash/" + inst }

// api calls the admin API with the operator token and checks the status.
func (r *rig) api(method, path, body string, want int, out any) {
	r.t.Helper()
	code, raw := r.as(operatorToken, method, path, body)
	apitest.Expect(r.t, method, path, code, raw, want, out)
}

// as calls the hub with a bearer token ("" sends none).
func (r *rig) as(token, method, path, body string) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.serve.url()+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// simulate runs a Whiplash simulation into c1 (and, through the catch-all
// target, c2) and fails the test unless every delivery was acknowledged.
func (r *rig) simulate(ctx context.Context, opt whiplashemu.SimOptions) whiplashemu.SimReport {
	r.t.Helper()
	if opt.Stores == nil {
		opt.Stores = []int64{1, 2, 3}
	}
	if opt.Duration == 0 {
		opt.Duration = 24 * time.Hour
	}
	opt.FullLifecycle = true
	opt.TargetURL, opt.TargetSecret = r.hookURL(r.c1), whiplashKey
	rep, err := r.whiplash.Simulate(ctx, opt)
	if err != nil {
		r.t.Fatalf("simulation: %v (%d sent, %d acknowledged)", err, rep.Sent, rep.Acknowledged)
	}
	if rep.Failed != 0 {
		r.t.Fatalf("simulation: %d deliveries given up", rep.Failed)
	}
	return rep
}

// busyJobs counts jobs that are not finished (GET /api/v1/jobs).
func (r *rig) busyJobs() (int, string) {
	r.t.Helper()
	var out struct{ Jobs []domain.JobCount }
	r.api("GET", "/api/v1/jobs", "", 200, &out)
	busy := 0
	var parts []string
	for _, c := range out.Jobs {
		switch c.State {
		case "available", "scheduled", "running", "retryable", "pending":
			busy += c.Count
			parts = append(parts, fmt.Sprintf("%s/%s=%d", c.Kind, c.State, c.Count))
		}
	}
	return busy, strings.Join(parts, " ")
}

// idle waits until no job is queued, scheduled, retrying or running (three
// polls in a row) and returns when that began; it fails the test after
// limit, naming what was still busy.
func (r *rig) idle(limit time.Duration) time.Time {
	r.t.Helper()
	since, busy, ok := r.waitIdle(limit)
	if !ok {
		r.t.Fatalf("jobs still busy %v later: %s", limit, busy)
	}
	return since
}

// waitIdle is idle without failing: ok is false after limit, with what was
// still busy.
func (r *rig) waitIdle(limit time.Duration) (since time.Time, busy string, ok bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	quiet := 0
	for {
		n, what := r.busyJobs()
		if n == 0 {
			if quiet == 0 {
				since = time.Now()
			}
			quiet++
			if quiet == 3 {
				return since, "", true
			}
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return time.Time{}, what, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ackLog is the Whiplash sender's transport: it records the event id of
// every webhook the hub acknowledged (202 accepted, 200 duplicate).
type ackLog struct {
	mu    sync.Mutex
	ids   map[int64]bool
	count int
}

func (a *ackLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 || !strings.Contains(req.URL.Path, "/hooks/") {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return resp, nil // the sender sees a 2xx either way
	}
	var out struct {
		EventID int64 `json:"event_id"`
	}
	if json.Unmarshal(raw, &out) == nil && out.EventID != 0 {
		a.mu.Lock()
		a.ids[out.EventID] = true
		a.count++
		a.mu.Unlock()
	}
	return resp, nil
}

func (a *ackLog) snapshot() (map[int64]bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make(map[int64]bool, len(a.ids))
	for id := range a.ids {
		ids[id] = true
	}
	return ids, a.count
}

func (a *ackLog) acknowledged() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}

// ---- what the vendors should hold

// figures are what a scenario measured; every field but the first three
// must be zero.
type figures struct {
	Events       int // distinct events sent (both installations)
	Acknowledged int // distinct event ids the hub acknowledged
	Customers    int
	// Lost: events sent (or ids acknowledged) that the hub does not have.
	Lost int
	// StoredTwice: one sent event stored more than once.
	StoredTwice int
	// Unprocessed: stored events never processed.
	Unprocessed int
	// KlaviyoDuplicates: an order's metric stored more than once.
	KlaviyoDuplicates int
	// KlaviyoMissing: a bucket an order reached with no event; a bucket
	// stored after a higher one counts in KlaviyoOutOfOrder.
	KlaviyoMissing    int
	KlaviyoOutOfOrder int
	// WrongData, WrongName, WrongAddress: Gorgias customers whose widget
	// data (orders, Customer section), top-level name, or Address section
	// is not the newest order's.
	WrongData, WrongName, WrongAddress int
	// GorgiasDuplicates: a second Gorgias customer with one email.
	GorgiasDuplicates int
	// DeadLetters not yet replayed.
	DeadLetters int
	// KlaviyoResends: events Klaviyo dropped as repeats of a unique_id
	// (informational: a retry after a crash resends, by design).
	KlaviyoResends int
}

func (f figures) String() string {
	return fmt.Sprintf("events %d, acknowledged ids %d, customers %d; lost %d, stored twice %d, unprocessed %d; Klaviyo duplicates %d, missing %d, out of order %d (resends dropped by unique_id %d); Gorgias wrong data %d, wrong name %d, wrong address %d, duplicate customers %d; pending dead letters %d",
		f.Events, f.Acknowledged, f.Customers, f.Lost, f.StoredTwice, f.Unprocessed, f.KlaviyoDuplicates, f.KlaviyoMissing, f.KlaviyoOutOfOrder, f.KlaviyoResends,
		f.WrongData, f.WrongName, f.WrongAddress, f.GorgiasDuplicates, f.DeadLetters)
}

// failures lists the non-zero failure counts.
func (f figures) failures() []string {
	var out []string
	for name, n := range map[string]int{"lost": f.Lost, "stored twice": f.StoredTwice, "unprocessed": f.Unprocessed,
		"Klaviyo duplicates": f.KlaviyoDuplicates, "Klaviyo missing": f.KlaviyoMissing, "Klaviyo out of order": f.KlaviyoOutOfOrder,
		"Gorgias wrong data": f.WrongData, "Gorgias wrong name": f.WrongName, "Gorgias wrong address": f.WrongAddress,
		"Gorgias duplicate customers": f.GorgiasDuplicates, "pending dead letters": f.DeadLetters} {
		if n != 0 {
			out = append(out, fmt.Sprintf("%s %d", name, n))
		}
	}
	sort.Strings(out)
	return out
}

// check fails the test for every non-zero failure count.
func (f figures) check(t *testing.T) {
	t.Helper()
	if fs := f.failures(); len(fs) > 0 {
		t.Errorf("reliability failures: %s", strings.Join(fs, ", "))
	}
}

// verify compares the hub and the vendors with the truth: the Whiplash
// emulator's orders and the simulations' events. Details of the first few
// failures are logged.
func (r *rig) verify(reps ...whiplashemu.SimReport) figures {
	r.t.Helper()
	var f figures
	logged := 0
	detail := func(format string, args ...any) {
		if logged < 10 {
			r.t.Logf(format, args...)
		}
		logged++
	}
	// The truth: every order's final state, newest first per email.
	orders := map[string][]whiplash.Order{}
	seen := map[int64]bool{}
	want := map[string]bool{} // installation + sim event id
	for _, rep := range reps {
		for _, ev := range rep.Events {
			want[r.c1+" "+ev.ID], want[r.c2+" "+ev.ID] = true, true
			if seen[ev.OrderID] {
				continue
			}
			seen[ev.OrderID] = true
			var o whiplash.Order
			if ok, err := r.whiplash.DecodeOrder(ev.OrderID, &o); !ok || err != nil {
				r.t.Fatalf("order %d missing from the emulator (%v)", ev.OrderID, err)
			}
			e := domain.NormalizeEmail(o.Email)
			orders[e] = append(orders[e], o)
		}
	}
	for _, os := range orders {
		sort.SliceStable(os, func(i, j int) bool { return os[i].UpdatedAt.After(os[j].UpdatedAt.Time) })
	}
	f.Events, f.Customers = len(want), len(orders)

	// The hub: every stored event, by email (the API's page is 1,000).
	acked, _ := r.acks.snapshot()
	f.Acknowledged = len(acked)
	stored := map[string]int{}
	found := map[int64]bool{}
	for email := range orders {
		var evs struct{ Events []domain.InboundEvent }
		r.api("GET", "/api/v1/merchants/"+r.merchant+"/events?limit=1000&email="+email, "", 200, &evs)
		if len(evs.Events) >= 1000 {
			r.t.Fatalf("%s has 1,000 events or more: raise the page", email)
		}
		for _, ev := range evs.Events {
			found[ev.ID] = true
			if ev.ProcessedAt == nil {
				f.Unprocessed++
				detail("event %d (%s %s) not processed", ev.ID, ev.InstallationID, ev.EventType)
			}
			w, err := whiplash.DecodeWebhook(ev.Payload)
			if err != nil || w.Order == nil {
				r.t.Fatalf("stored event %d is not a Whiplash order webhook: %v", ev.ID, err)
			}
			o := w.Order
			id := whiplashemu.EventID(w.EventName, whiplashemu.TransitionID(o.StoreID(), int64(o.ID), int(o.Status), o.UpdatedAt.Time))
			stored[ev.InstallationID+" "+id]++
		}
	}
	for k := range want {
		switch n := stored[k]; {
		case n == 0:
			f.Lost++
			detail("event %s sent, not stored", k)
		case n > 1:
			f.StoredTwice += n - 1
			detail("event %s stored %d times", k, n)
		}
	}
	for id := range acked {
		if !found[id] {
			f.Lost++
			detail("event %d acknowledged, not stored", id)
		}
	}

	// Gorgias: one customer per email with the newest order's data and name.
	raw, _ := json.Marshal(r.gorgias.Snapshot())
	var st struct {
		Accounts map[string]struct {
			Customers []struct {
				Email string `json:"email"`
				Name  string `json:"name"`
				Data  struct {
					Whiplash *whiplashgorgias.Data `json:"whiplash"`
				} `json:"data"`
			} `json:"customers"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		r.t.Fatal(err)
	}
	customers := map[string]int{}
	for i, c := range st.Accounts["acme"].Customers {
		e := domain.NormalizeEmail(c.Email)
		if _, dup := customers[e]; dup {
			f.GorgiasDuplicates++
			detail("two Gorgias customers with email %s", e)
		}
		customers[e] = i
	}
	for email, os := range orders {
		i, ok := customers[email]
		if !ok || st.Accounts["acme"].Customers[i].Data.Whiplash == nil {
			f.WrongData++
			detail("%s: no Gorgias customer with Whiplash data", email)
			continue
		}
		c := st.Accounts["acme"].Customers[i]
		d, latest := c.Data.Whiplash, os[0]
		if c.Name != latest.DisplayName() {
			f.WrongName++
			detail("%s: Gorgias name %q, newest order's %q", email, c.Name, latest.DisplayName())
		}
		wantAddr := whiplashgorgias.AddressData{Address1: latest.ShippingAddress1, Address2: latest.ShippingAddress2, City: latest.ShippingCity,
			State: latest.ShippingState, Zip: latest.ShippingZip, Country: latest.ShippingCountry}
		if d.Address != wantAddr {
			f.WrongAddress++
			detail("%s: Address %+v, want %+v", email, d.Address, wantAddr)
		}
		ok = d.Customer.FullName == latest.DisplayName() && d.Customer.Email == email && d.Customer.Phone == latest.ShippingPhone && len(d.Orders) == len(os)
		for j := 0; ok && j < len(os); j++ {
			got, o := d.Orders[j], os[j]
			ok = got.OrderNumber == o.HumanizeID && got.Status == whiplashgorgias.StatusName(&o) && got.StatusCode == int(o.Status) && len(got.Products) == len(o.OrderItems)
		}
		if !ok {
			f.WrongData++
			detail("%s: widget data %+v is not the newest (%d orders, newest status %d)", email, d, len(os), int64(latest.Status))
		}
	}

	// Klaviyo: per order, one event per bucket reached, in order.
	kst := r.klaviyo.State()
	if len(kst.Accounts) == 0 {
		r.t.Fatal("the Klaviyo emulator has no account")
	}
	acct := kst.Accounts[0]
	f.KlaviyoResends = acct.DuplicateEvents
	byOrder := map[string][]klaviyoemu.EventState{}
	for _, ev := range acct.Events {
		parts := strings.Split(ev.UniqueID, ":")
		if len(parts) != 4 {
			r.t.Fatalf("unexpected Klaviyo unique_id %q", ev.UniqueID)
		}
		byOrder[parts[2]] = append(byOrder[parts[2]], ev)
	}
	rank := map[string]int{"Processing order": 1, "Order shipped": 2, "Order delivered": 3, "Order cancelled": 4}
	for _, os := range orders {
		for _, o := range os {
			evs := byOrder[strconv.FormatInt(int64(o.ID), 10)]
			sort.SliceStable(evs, func(i, j int) bool { return evs[i].Received.Before(evs[j].Received) })
			count := map[string]int{}
			for i, ev := range evs {
				count[ev.Metric]++
				if i > 0 && rank[ev.Metric] < rank[evs[i-1].Metric] {
					f.KlaviyoOutOfOrder++
					detail("order %d: %s after %s", int64(o.ID), ev.Metric, evs[i-1].Metric)
				}
			}
			for m, n := range count {
				if n > 1 {
					f.KlaviyoDuplicates += n - 1
					detail("order %d: %s stored %d times", int64(o.ID), m, n)
				}
			}
			for _, b := range whiplashklaviyo.Reached(&o) {
				if count[b.Metric()] == 0 {
					f.KlaviyoMissing++
					detail("order %d (status %d): no %s event", int64(o.ID), int64(o.Status), b.Metric())
				}
			}
		}
	}

	var dls struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	r.api("GET", "/api/v1/merchants/"+r.merchant+"/dead-letters?pending=true&limit=1000", "", 200, &dls)
	f.DeadLetters = len(dls.DeadLetters)
	for _, dl := range dls.DeadLetters {
		detail("dead letter %d (%s, %s): %s", dl.ID, dl.JobKind, dl.Class, dl.Error)
	}
	return f
}

// deadLetters lists the merchant's dead letters (pending only or all).
func (r *rig) deadLetters(pending bool) []domain.DeadLetter {
	r.t.Helper()
	var dls struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	r.api("GET", fmt.Sprintf("/api/v1/merchants/%s/dead-letters?limit=1000&pending=%t", r.merchant, pending), "", 200, &dls)
	return dls.DeadLetters
}

// waitFor polls cond every 100 ms until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postHook posts a signed (or unsigned: sig "") Whiplash webhook.
func postHook(url string, body []byte, sig string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(whiplash.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, nil
}

// errRefused reports whether err is a refused connection.
func errRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
