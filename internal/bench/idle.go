package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
	whiplashemu "switchyard/internal/emulator/whiplash"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/secret"
)

// IdleResult is P5's figures.
type IdleResult struct {
	Mode            string   `json:"mode"` // "serve child process" or "in process" (/proc/self)
	Installations   int      `json:"installations"`
	Connectors      []string `json:"connectors"` // one installation of each
	Active          int      `json:"active"`     // of them, active (installed) per the admin API
	DurationS       float64  `json:"duration_s"`
	CPUS            float64  `json:"cpu_s"`
	CPUPctOfCore    float64  `json:"cpu_pct_of_one_core"`
	RSSMB           float64  `json:"rss_mb"`
	PeakRSSMB       float64  `json:"peak_rss_mb"`
	MetricFamilies  []string `json:"metric_families"` // switchyard_* families on /metrics at idle
	MissingFamilies []string `json:"missing_families,omitempty"`
}

func (r *IdleResult) lines() []string {
	return []string{
		fmt.Sprintf("%s, %d installations (%s; %d active), idle %.0f s: CPU %.2f s = %.2f%% of one core, RSS %.1f MB (peak %.1f MB)", r.Mode, r.Installations, strings.Join(r.Connectors, ", "), r.Active, r.DurationS, r.CPUS, r.CPUPctOfCore, r.RSSMB, r.PeakRSSMB),
		fmt.Sprintf("/metrics at idle: %s", strings.Join(r.MetricFamilies, ", ")),
	}
}

// runIdle is P5: a hub with five installations and no traffic; CPU and RSS
// over the window, from /proc of the `serve` child process (or of this
// process when Options.HubExe is empty).
func runIdle(ctx context.Context, opt *Options, rep *Report) error {
	rep.Params = map[string]any{"duration": opt.Duration.String(), "db": rep.Machine.DB, "hub_exe": opt.HubExe}
	e := newEnv(opt)
	defer e.close()
	g := gorgiasemu.New(gorgiasemu.Config{AutoApprove: true, Logger: opt.Logger})
	k := klaviyoemu.New(klaviyoemu.Config{Logger: opt.Logger})
	w := whiplashemu.New(whiplashemu.Config{AllowClientCredentials: true, Fixtures: &whiplashemu.SeedOptions{}, Logger: opt.Logger})
	crm := konnektiveemu.New(konnektiveemu.Config{Logger: opt.Logger})
	shop := shopifyemu.New(shopifyemu.Config{AutoApprove: true, Logger: opt.Logger})
	y := yotpoemu.New(yotpoemu.Config{Logger: opt.Logger})
	for _, s := range []struct {
		name string
		h    http.Handler
		c    func()
	}{{"gorgias", g, g.Close}, {"klaviyo", k, k.Close}, {"whiplash", w, w.Close}, {"konnektive", crm, crm.Close}, {"shopify", shop, shop.Close}, {"yotpo", y, y.Close}} {
		if err := e.serve(s.name, s.h, s.c); err != nil {
			return err
		}
	}
	e.connectorConfig = e.yotpoConfig()
	res := &IdleResult{}
	rep.Idle = res
	var pid string
	// A CPU profile needs the hub in this process.
	if err := e.launch(ctx, rep, opt.CPUProfile != ""); err != nil {
		return err
	}
	res.Mode, pid = e.mode(), e.pid
	// Five installations, one per connector: C1 and C2 for one merchant,
	// C3 and C5 for another (each through its admin API and install flow),
	// and C4 from the Gorgias app store, which creates its own merchant.
	for i, plan := range [][]string{{"whiplash-gorgias", "whiplash-klaviyo"}, {"konnektive-gorgias", "together-gorgias"}} {
		t, err := e.newTenant(ctx, fmt.Sprintf("Idle Merchant %d", i+1), 20*time.Second)
		if err != nil {
			return err
		}
		for _, c := range plan {
			var settings map[string]string
			switch c {
			case "konnektive-gorgias":
				settings = map[string]string{"hubUrl": e.hubURL}
			case "together-gorgias":
				settings = map[string]string{"hub_url": e.hubURL}
			}
			if _, err := e.install(ctx, t, c, settings); err != nil {
				return err
			}
			res.Installations++
			res.Connectors = append(res.Connectors, c)
		}
	}
	if err := e.installYotpo(ctx, gorgiasemu.DefaultAccount); err != nil {
		return err
	}
	res.Installations++
	res.Connectors = append(res.Connectors, "yotpo-gorgias")
	active, err := e.activeInstallations(ctx)
	if err != nil {
		return err
	}
	for _, c := range res.Connectors {
		if active[c] > 0 {
			res.Active++
		}
	}
	if _, err := e.waitIdle(ctx, 200*time.Millisecond); err != nil {
		return err
	}
	select { // let start-up work settle
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(min(5*time.Second, opt.Duration)):
	}
	if opt.CPUProfile != "" {
		stop, err := startProfile(opt.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	before, err := readProc(pid)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(opt.Duration):
	}
	after, err := readProc(pid)
	if err != nil {
		return err
	}
	wall := after.wall.Sub(before.wall)
	res.DurationS = round(wall.Seconds(), 1)
	res.CPUS = round((after.cpu - before.cpu).Seconds(), 2)
	res.CPUPctOfCore = round(100*(after.cpu-before.cpu).Seconds()/wall.Seconds(), 2)
	res.RSSMB, res.PeakRSSMB = mb(after.rss), mb(after.hwm)
	res.MetricFamilies, err = e.metricFamilies(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range res.MetricFamilies {
		have[f] = true
	}
	// The families /metrics must show at idle: build info, queue depth and
	// rate budgets.
	for _, f := range []string{"switchyard_build_info", "switchyard_queue_depth", "switchyard_rate_budget_tokens"} {
		if !have[f] {
			res.MissingFamilies = append(res.MissingFamilies, f)
		}
	}
	rep.Targets = []Target{
		target("P5", "idle CPU", "≤ 1 % of a core", res.CPUPctOfCore, "%", res.CPUPctOfCore <= 1),
		target("P5", "idle RSS", "≤ 100 MB", res.RSSMB, "MB", res.RSSMB <= 100),
		target("P5", "/metrics families missing at idle", "0", float64(len(res.MissingFamilies)), "", len(res.MissingFamilies) == 0),
		target("P5", "installations active (one per connector)", "5", float64(res.Active), "", res.Active == 5),
	}
	if e.child == nil {
		rep.Notes = append(rep.Notes, "measured in process: the figures include the emulators and the harness (run `switchyard bench idle` for the serve child process)")
	}
	return nil
}

// metricFamilies lists the switchyard_* families GET /metrics shows.
func (e *env) metricFamilies(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.hubURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("error reading /metrics: %w", err)
	}
	defer resp.Body.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "switchyard_") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i > 0 {
			name = line[:i]
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suf)
		}
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("error reading /metrics: %w", err)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// child is a `serve` process.
type child struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan struct{} // closed when the process has exited
	err    error         // its Wait error, once exited
}

// startChild runs `exe serve` on a free loopback port with a new secret
// key and admin token, the emulators allow-listed (the env twin of
// --allow-vendor-hosts).
func (e *env) startChild(ctx context.Context, exe, dbURL string) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("error finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	key, err := secret.GenerateKey()
	if err != nil {
		return nil, err
	}
	e.adminToken = "bench-" + randomHex(8)
	cmd := exec.Command(exe, "serve", "--addr", addr, "--db", dbURL, "--log-level", "warn")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "SWITCHYARD_SECRET_KEY="+key, "SWITCHYARD_ADMIN_TOKEN="+e.adminToken,
		"SWITCHYARD_ALLOW_VENDOR_HOSTS="+strings.Join(e.vendorHosts(), ","))
	if len(e.connectorConfig) > 0 {
		kv := make([]string, 0, len(e.connectorConfig))
		for k, v := range e.connectorConfig {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		cmd.Env = append(cmd.Env, "SWITCHYARD_CONNECTOR_CONFIG="+strings.Join(kv, ";"))
	}
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("error starting %s serve: %w", exe, err)
	}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	e.hubURL = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(e.hubURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("serve exited (%s): %w", strings.TrimSpace(c.stderr.String()), c.err)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("serve not ready after 30 s: %s", strings.TrimSpace(c.stderr.String()))
		}
	}
}

// stop sends SIGTERM and waits (kills after 30 s).
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}
