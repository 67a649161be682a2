package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/testutil/pgtest"
)

// procfile is deploy/Procfile, the replicas' configuration that
// docs/deploy.md describes and this suite runs.
func procfile(t *testing.T) []procEntry {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "deploy", "Procfile")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []procEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: not a Procfile line: %q", path, line)
		}
		out = append(out, procEntry{name: strings.TrimSpace(name), cmd: strings.TrimSpace(cmd)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type procEntry struct{ name, cmd string }

// argv expands ${VAR}, ${VAR:-default} and $VAR from vars (as a shell
// would, for the plain words a Procfile line holds) and splits the words.
func (p procEntry) argv(vars map[string]string) []string {
	expanded := os.Expand(p.cmd, func(name string) string {
		name, def, hasDef := strings.Cut(name, ":-")
		if v, ok := vars[name]; ok && v != "" {
			return v
		}
		if hasDef {
			return def
		}
		return ""
	})
	return strings.Fields(expanded)
}

// roundRobin is the test's load balancer: each request goes to the next
// replica; a replica that is down answers 502 through it, and the sender
// retries (as Whiplash does), reaching the next one.
type roundRobin struct {
	next    atomic.Uint64
	proxies []*httputil.ReverseProxy
	served  []atomic.Int64
}

func newRoundRobin(backends []string) *roundRobin {
	rr := &roundRobin{served: make([]atomic.Int64, len(backends))}
	for _, b := range backends {
		u, _ := url.Parse(b)
		p := httputil.NewSingleHostReverseProxy(u)
		p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
		rr.proxies = append(rr.proxies, p)
	}
	return rr
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rr.next.Add(1) % uint64(len(rr.proxies)))
	rr.served[i].Add(1)
	rr.proxies[i].ServeHTTP(w, r)
}

// vendorCalls records when the Gorgias emulator answered each API call,
// and how.
type vendorCalls struct {
	mu    sync.Mutex
	since time.Time
	at    []time.Time
	ok    []bool // answered, not 429
	n429  int
}

func (v *vendorCalls) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			return
		}
		now := time.Now()
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.since.IsZero() || now.Before(v.since) {
			return
		}
		v.at = append(v.at, now)
		v.ok = append(v.ok, rec.status != http.StatusTooManyRequests)
		if rec.status == http.StatusTooManyRequests {
			v.n429++
		}
	})
}

// start counts calls from now on (the install's calls are not the burst).
func (v *vendorCalls) start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.since, v.at, v.ok, v.n429 = time.Now(), nil, nil, 0
}

// burst returns the calls and 429s since start, and the burst phase: the
// longest run of calls with no pause of gap or more between two of them
// (the first syncs trickling in, and the killed replica's work rescued
// later, are not part of it), with the calls answered (not 429) in it.
func (v *vendorCalls) burst(gap time.Duration) (calls, throttled, inBurst int, phase time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	idx := make([]int, len(v.at))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return v.at[a].Compare(v.at[b]) })
	if len(idx) == 0 {
		return 0, v.n429, 0, 0
	}
	// The runs between pauses; the longest (most calls) is the burst.
	bestFrom, bestTo, from := 0, 0, 0
	for i := 1; i <= len(idx); i++ {
		if i < len(idx) && v.at[idx[i]].Sub(v.at[idx[i-1]]) < gap {
			continue
		}
		if i-1-from > bestTo-bestFrom {
			bestFrom, bestTo = from, i-1
		}
		from = i
	}
	for _, i := range idx[bestFrom : bestTo+1] {
		if v.ok[i] {
			inBurst++
		}
	}
	return len(idx), v.n429, inBurst, v.at[idx[bestTo]].Sub(v.at[idx[bestFrom]])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// TestScaleOutThreeReplicas: three serve replicas from deploy/Procfile on
// one Postgres, behind the test's round-robin balancer. A burst of Whiplash
// orders through the three: the Gorgias emulator answers no 429 (the
// replicas share one rate budget per vendor account in the database), and
// the burst still uses at least 90 % of the Gorgias budget. One replica is
// killed with SIGKILL mid-burst and not restarted: nothing is lost, every
// figure is zero, and the jobs it held are rescued by the other two
// (River's stuck-job rescuer, --rescue-stuck-after above --job-timeout).
func TestScaleOutThreeReplicas(t *testing.T) {
	t.Parallel()
	needBinary(t)
	dbURL := pgtest.NewDatabase(t)
	rnd := seeded(t)
	// Gorgias: 40 calls per 2 s window (the hub's budget: 19 calls/s, a
	// bucket of 36), so the burst is bounded by the vendor's budget.
	const window = 2 * time.Second
	vendorLimit := 40.0 / window.Seconds()
	calls := &vendorCalls{}
	var replicas []*serve
	var lbURL string
	var balancer *roundRobin
	// Short form: a job timeout and rescue interval that fit CI (the rescue
	// above the timeout, as serve enforces); full form: the defaults
	// (2 min, 10 min).
	timing := map[string]string{"SWITCHYARD_JOB_TIMEOUT": "45s", "SWITCHYARD_RESCUE_STUCK_AFTER": "60s"}
	if full() {
		timing = nil
	}
	startReplicas := func(r *rig, hosts string) *serve {
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "key")
		if err := os.WriteFile(keyFile, []byte(secretKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(childEnv(), "SWITCHYARD_DB="+dbURL, "SWITCHYARD_SECRET_KEY_FILE="+keyFile, "SWITCHYARD_ADMIN_TOKEN="+operatorToken,
			"SWITCHYARD_ALLOW_VENDOR_HOSTS="+hosts, "SWITCHYARD_LOG_LEVEL=warn")
		for k, v := range timing {
			env = append(env, k+"="+v)
		}
		vars := map[string]string{}
		var entries []procEntry
		for _, e := range procfile(t) {
			if strings.HasPrefix(e.name, "replica") {
				entries = append(entries, e)
				vars[strings.ToUpper(e.name)+"_ADDR"] = freeAddr(t)
			}
		}
		if len(entries) != 3 {
			t.Fatalf("deploy/Procfile has %d replicas, want 3", len(entries))
		}
		var backends []string
		for _, e := range entries {
			argv := e.argv(vars)
			if len(argv) < 2 || argv[0] != "switchyard" {
				t.Fatalf("Procfile %s: %q does not run switchyard", e.name, e.cmd)
			}
			s := newServe(t)
			s.addr = vars[strings.ToUpper(e.name)+"_ADDR"]
			s.argv, s.env = argv[1:], env
			replicas = append(replicas, s)
			backends = append(backends, s.url())
		}
		// All three at once: migrations run under the advisory lock.
		errs := make(chan error, len(replicas))
		for _, s := range replicas {
			go func() { errs <- s.tryStart() }()
		}
		for range replicas {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		balancer = newRoundRobin(backends)
		lb := httptest.NewServer(balancer)
		t.Cleanup(lb.Close)
		lbURL = lb.URL
		return replicas[0]
	}
	r := newRig(t, rigOptions{gorgiasWindow: window, wrapGorgias: calls.wrap, startServe: startReplicas})
	// Replica 1 answers the test's admin calls and the verification; the
	// victim is replica 2 or 3.
	victim := replicas[1+rnd.IntN(2)]
	r.whiplash.SetWebhookTarget(lbURL+"/hooks/whiplash/"+r.c2, whiplashKey)

	orders := pick(250, 1500)
	ctx, cancel := context.WithTimeout(context.Background(), pick(5*time.Minute, 30*time.Minute))
	defer cancel()
	type result struct {
		rep whiplashemu.SimReport
		err error
	}
	done := make(chan result, 1)
	calls.start()
	began := time.Now()
	go func() {
		rep, err := r.whiplash.Simulate(ctx, whiplashemu.SimOptions{Stores: []int64{1, 2, 3}, Orders: orders, Duration: 24 * time.Hour, FullLifecycle: true,
			DuplicateRate: 0.05, ReorderRate: 0.05, RepeatRate: 0.2, Concurrency: 16, Seed: 17, TargetURL: lbURL + "/hooks/whiplash/" + r.c1, TargetSecret: whiplashKey})
		done <- result{rep, err}
	}()
	// Mid-burst: a third to two thirds of the deliveries acknowledged.
	killAt := orders * 19 * (1 + rnd.IntN(2)) / 3
	waitFor(t, "the burst under way", 2*time.Minute, func() bool { return r.acks.acknowledged() >= killAt })
	busy, what := r.busyJobs()
	victim.kill()
	killed := time.Now()
	res := <-done
	if res.err != nil || res.rep.Failed != 0 {
		t.Fatalf("simulation: %v (%d given up)", res.err, res.rep.Failed)
	}
	sent := time.Now()
	rescue := pick(60*time.Second, 10*time.Minute)
	idleAt := r.idle(rescue + pick(2*time.Minute, 5*time.Minute))
	f := r.verify(res.rep)
	total, throttled, inBurst, phase := calls.burst(3 * time.Second)
	use := 0.0
	if phase > 0 {
		use = float64(inBurst) / (vendorLimit * phase.Seconds())
	}
	var served []string
	for i := range replicas {
		served = append(served, fmt.Sprint(balancer.served[i].Load()))
	}
	calls.mu.Lock()
	for i, at := range calls.at {
		if !calls.ok[i] {
			t.Logf("a 429 %v after the burst began (the kill was at %v)", at.Sub(began).Round(time.Millisecond), killed.Sub(began).Round(time.Millisecond))
		}
	}
	calls.mu.Unlock()
	t.Logf("3 replicas on one Postgres; %s; webhooks through the balancer per replica %s; kill -9 of replica %d after %d acknowledged deliveries (%v into the burst, %d jobs busy: %s); load sent in %v; idle %v after the kill; Gorgias: %d calls, %d answered 429; burst %d calls answered in %v = %.1f %% of the vendor's %.0f calls/s; %s",
		describeTiming(timing), strings.Join(served, "/"), slices.Index(replicas, victim)+1, killAt, killed.Sub(began).Round(time.Millisecond), busy, what, sent.Sub(began).Round(time.Millisecond),
		idleAt.Sub(killed).Round(time.Millisecond), total, throttled, inBurst, phase.Round(time.Millisecond), 100*use, vendorLimit, f)
	f.check(t)
	if throttled != 0 {
		t.Errorf("the Gorgias emulator answered 429 %d times: the replicas did not share one budget", throttled)
	}
	if use < 0.90 {
		t.Errorf("the burst used %.1f %% of the Gorgias budget, want at least 90 %%", 100*use)
	}
	if inBurst < 200 {
		t.Errorf("the burst made %d Gorgias calls: too few to measure the budget's use", inBurst)
	}
}

func describeTiming(timing map[string]string) string {
	if timing == nil {
		return "default --job-timeout and --rescue-stuck-after"
	}
	return fmt.Sprintf("--job-timeout %s, --rescue-stuck-after %s", timing["SWITCHYARD_JOB_TIMEOUT"], timing["SWITCHYARD_RESCUE_STUCK_AFTER"])
}
