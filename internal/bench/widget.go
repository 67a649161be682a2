package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/emulator/emukit"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
	"switchyard/internal/provider/konnektive"
	"switchyard/internal/provider/shopify"
)

// WidgetPath is one stream of P3: the hub's route or the same vendor calls
// made straight to the emulator. Latencies are measured from each
// request's scheduled start (open loop).
type WidgetPath struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"` // transport errors, non-200 answers, error answers
	Shown    int     `json:"shown"`  // answers with the customer's data
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// WidgetConnector is one connector's figures: switchyard's added latency
// is the hub's percentile less the direct one.
type WidgetConnector struct {
	Connector   string     `json:"connector"`
	Route       string     `json:"route"`
	VendorCalls string     `json:"vendor_calls"` // what one answer costs at the vendor
	Hub         WidgetPath `json:"hub"`
	Direct      WidgetPath `json:"direct"`
	AddedP50Ms  float64    `json:"added_p50_ms"`
	AddedP99Ms  float64    `json:"added_p99_ms"`
	// HubVendorCalls and DirectVendorCalls count the calls each path made
	// at its emulator during the load, by route.
	HubVendorCalls    map[string]int `json:"hub_vendor_calls"`
	DirectVendorCalls map[string]int `json:"direct_vendor_calls"`
	// HubCPUPerCallMs is the hub process's CPU time per call in this
	// connector's phase (serve child only): the hub's own work, whatever
	// else the machine runs.
	HubCPUPerCallMs float64 `json:"hub_cpu_per_call_ms,omitempty"`
}

// WidgetResult is P3's figures.
type WidgetResult struct {
	RatePerS      float64           `json:"rate_per_s"`
	VendorLatency float64           `json:"vendor_latency_ms"` // the emulators' fixed fault latency
	Customers     int               `json:"customers"`
	ScheduleS     float64           `json:"schedule_s"`
	MaxLateMs     float64           `json:"max_dispatch_late_ms"` // the load generator's worst lag behind the schedule
	Connectors    []WidgetConnector `json:"connectors"`
	HubCPUS       float64           `json:"hub_cpu_s,omitempty"`
	HubCPUPct     float64           `json:"hub_cpu_pct_of_one_core,omitempty"`
	HubPeakRSSMB  float64           `json:"hub_peak_rss_mb,omitempty"`
	// BenchCPUS is this process's CPU over the load: the load generator,
	// the direct clients and the emulators (and the hub when in process).
	BenchCPUS   float64 `json:"bench_cpu_s"`
	BenchCPUPct float64 `json:"bench_cpu_pct_of_one_core"`
	CPUProfile  string  `json:"cpu_profile,omitempty"`
}

func (r *WidgetResult) lines() []string {
	out := []string{fmt.Sprintf("open loop at %.0f req/s to the hub and %.0f req/s direct, interleaved, one connector after the other (%.1f s in all), vendor latency %.0f ms, %d customers; load generator at most %.1f ms behind schedule",
		r.RatePerS, r.RatePerS, r.ScheduleS, r.VendorLatency, r.Customers, r.MaxLateMs)}
	for _, c := range r.Connectors {
		out = append(out, fmt.Sprintf("%s (%s; %s): hub p50 %.2f / p90 %.2f / p99 %.2f / max %.1f ms, direct p50 %.2f / p90 %.2f / p99 %.2f / max %.1f ms; added p50 %.2f ms, p99 %.2f ms; hub CPU %.3f ms per call; hub %d requests, %d errors, %d shown; direct %d, %d errors; vendor calls hub %v, direct %v",
			c.Connector, c.Route, c.VendorCalls, c.Hub.P50Ms, c.Hub.P90Ms, c.Hub.P99Ms, c.Hub.MaxMs, c.Direct.P50Ms, c.Direct.P90Ms, c.Direct.P99Ms, c.Direct.MaxMs,
			c.AddedP50Ms, c.AddedP99Ms, c.HubCPUPerCallMs, c.Hub.Requests, c.Hub.Errors, c.Hub.Shown, c.Direct.Requests, c.Direct.Errors, c.HubVendorCalls, c.DirectVendorCalls))
	}
	if r.HubCPUS > 0 {
		out = append(out, fmt.Sprintf("hub process over the load: CPU %.2f s = %.1f%% of one core, peak RSS %.1f MB", r.HubCPUS, r.HubCPUPct, r.HubPeakRSSMB))
	}
	out = append(out, fmt.Sprintf("bench process (load generator, direct clients, emulators): CPU %.2f s = %.1f%% of one core", r.BenchCPUS, r.BenchCPUPct))
	return out
}

// stream is one of P3's request kinds: call makes one request and reports
// whether the answer showed the customer's data.
type stream struct {
	name string
	call func(ctx context.Context, i int) (shown bool, err error)
	lat  []time.Duration
	errs int
	shwn int
}

// runWidget is P3: Gorgias' HTTP-integration calls to C3 (GET pull) and C5
// (POST event) through the hub's real routes at a fixed rate, open loop,
// with the CRM (Konnektive) and Shopify emulators at a fixed latency, and
// the same vendor calls made straight to the emulators in the same run.
func runWidget(ctx context.Context, opt *Options, rep *Report) error {
	rate, latency, n := opt.WidgetRate, opt.WidgetLatency, opt.WidgetRequests
	// 100 customers: a customer recurs every 0.5 s, so C3's per-customer
	// single flight merges none of the hub's pulls unless they take that
	// long (the vendor calls of both paths are counted). More would slow
	// the Konnektive emulator, which sorts its whole dataset per query.
	const customers = 100
	rep.Params = map[string]any{"rate_per_s": rate, "vendor_latency": latency.String(), "requests_per_stream": n, "customers": customers, "db": rep.Machine.DB}
	e := newEnv(opt)
	defer e.close()
	emails := make([]string, customers)
	for i := range emails {
		emails[i] = fmt.Sprintf("widget.customer%03d@example.org", i)
	}
	g := gorgiasemu.New(gorgiasemu.Config{Logger: opt.Logger, Window: 2 * time.Second})
	// The hub's calls and the direct ones go to two instances of each
	// vendor emulator with the same fixtures (same seed and emails), so
	// neither path queues behind the other's calls in an emulator (the
	// Shopify emulator executes GraphQL under one lock). The points bucket
	// is lifted: P3 measures latency, not Shopify's cost limit (200
	// queries/s would need a Plus shop's 1,000 points/s).
	kcfg := konnektiveemu.Config{Logger: opt.Logger, Seed: 16, Customers: customers, Emails: emails, CallLog: -1}
	scfg := shopifyemu.Config{Logger: opt.Logger, Seed: 16, AutoApprove: true, Emails: emails, BucketSize: 1e9, RestoreRate: 1e6}
	k, kd := konnektiveemu.New(kcfg), konnektiveemu.New(kcfg)
	s, sd := shopifyemu.New(scfg), shopifyemu.New(scfg)
	for _, sv := range []struct {
		name string
		h    http.Handler
		c    func()
	}{{"gorgias", g, g.Close}, {"konnektive", k, k.Close}, {"shopify", s, s.Close}, {"konnektive-direct", kd, kd.Close}, {"shopify-direct", sd, sd.Close}} {
		if err := e.serve(sv.name, sv.h, sv.c); err != nil {
			return err
		}
	}
	if err := e.launch(ctx, rep, opt.CPUProfile != ""); err != nil {
		return err
	}
	t, err := e.newTenant(ctx, "Bench Widget", 2*time.Second)
	if err != nil {
		return err
	}
	// The answer cache is off: every pull reaches the CRM.
	c3, err := e.install(ctx, t, "konnektive-gorgias", map[string]string{"hubUrl": e.hubURL, "cacheTtl": "0s", "pullTimeout": "5s"})
	if err != nil {
		return err
	}
	c5, err := e.install(ctx, t, "together-gorgias", map[string]string{"hub_url": e.hubURL})
	if err != nil {
		return err
	}
	i3, err := integrationOf(g, gorgiasemu.DefaultAccount, c3)
	if err != nil {
		return err
	}
	i5, err := integrationOf(g, gorgiasemu.DefaultAccount, c5)
	if err != nil {
		return err
	}

	// The load generator's clients: one to the hub (as Gorgias), and the
	// direct vendor clients with the hub's outbound pool sizes.
	hubClient := &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute, DisableCompression: true}, Timeout: 30 * time.Second}
	vendorHTTP := &http.Client{Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}, Timeout: 30 * time.Second}
	crm, err := konnektive.New(konnektive.Config{BaseURL: e.urls["konnektive-direct"], LoginID: konnektiveemu.DefaultLoginID, Password: konnektiveemu.DefaultPassword, HTTPClient: vendorHTTP})
	if err != nil {
		return err
	}
	shop, err := shopify.New(shopify.Config{Shop: shopifyemu.DefaultShop, AccessToken: sd.IssueToken(shopifyemu.DefaultShop, "read_orders", "read_customers"),
		BaseURL: e.urls["shopify-direct"], HTTPClient: vendorHTTP})
	if err != nil {
		return err
	}
	hubCall := func(it integration, shown func([]byte) (bool, error)) func(ctx context.Context, i int) (bool, error) {
		return func(ctx context.Context, i int) (bool, error) {
			req, err := it.request(ctx, emails[i%customers], fmt.Sprint(1000+i), gorgiasemu.DefaultAccount)
			if err != nil {
				return false, err
			}
			resp, err := hubClient.Do(req)
			if err != nil {
				return false, err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return false, err
			}
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Errorf("%s answered %d: %.200s", it.HTTP.URL, resp.StatusCode, body)
			}
			return shown(body)
		}
	}
	// C3 answers 200 whatever happens; an error answer (the CRM did not
	// answer within the time box, …) counts as an error.
	var errAnswer atomic.Value
	c3Shown := func(b []byte) (bool, error) {
		var a struct {
			Customer *json.RawMessage `json:"customer"`
			Error    *json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return false, fmt.Errorf("C3 answer: %w", err)
		}
		if a.Error != nil {
			errAnswer.CompareAndSwap(nil, string(b))
			return false, fmt.Errorf("C3 error answer: %s", *a.Error)
		}
		return a.Customer != nil, nil
	}
	c5Shown := func(b []byte) (bool, error) {
		var a struct {
			Together *struct {
				Orders []json.RawMessage `json:"orders"`
			} `json:"together"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return false, fmt.Errorf("C5 answer: %w", err)
		}
		return a.Together != nil && len(a.Together.Orders) > 0, nil
	}
	streams := []*stream{
		{name: "c3-hub", call: hubCall(i3, c3Shown)},
		{name: "c3-direct", call: func(ctx context.Context, i int) (bool, error) { return crmPull(ctx, crm, emails[i%customers]) }},
		{name: "c5-hub", call: hubCall(i5, c5Shown)},
		{name: "c5-direct", call: func(ctx context.Context, i int) (bool, error) {
			o, err := shop.FinalSaleOrders(ctx, emails[i%customers], time.Now())
			return len(o) > 0, err
		}},
	}
	// Warm both paths (connections, the hub's client caches) before the
	// latency is set and the clock starts.
	for i := range 2 * len(streams) {
		for _, st := range streams {
			if _, err := st.call(ctx, i); err != nil {
				return fmt.Errorf("warm-up of %s: %w", st.name, err)
			}
		}
	}
	for _, kit := range []*emukit.Kit{k.Kit(), s.Kit(), kd.Kit(), sd.Kit()} {
		kit.SetFaults(emukit.Faults{Latency: latency})
	}
	for _, c := range e.count {
		c.reset()
	}

	var before, after, selfBefore, selfAfter procStat
	if e.pid != "self" {
		if before, err = readProc(e.pid); err != nil {
			return err
		}
	}
	if selfBefore, err = readProc("self"); err != nil {
		return err
	}
	if opt.CPUProfile != "" {
		stop, err := startProfile(opt.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	// One phase per connector: the hub's stream at the rate and the direct
	// stream at the same rate, interleaved request by request (direct
	// request i half an interval after hub request i, for the same
	// customer), so both see the same machine at every moment.
	var mu sync.Mutex // guards the streams' samples
	var late time.Duration
	start := time.Now()
	var phaseCPU [2]time.Duration // the hub process's CPU in each connector's phase
	for j := range 2 {
		pair := streams[2*j : 2*j+2]
		var p0 procStat
		if e.pid != "self" {
			if p0, err = readProc(e.pid); err != nil {
				return err
			}
		}
		l, err := openLoop(ctx, 2*n, 2*rate, func(ctx context.Context, i int, scheduled time.Time) {
			st := pair[i%2]
			shown, err := st.call(ctx, i/2)
			d := time.Since(scheduled)
			mu.Lock()
			defer mu.Unlock()
			st.lat = append(st.lat, d)
			if err != nil {
				st.errs++
				if st.errs == 1 {
					opt.Logger.Warn("widget request failed", "stream", st.name, "error", err.Error())
				}
			} else if shown {
				st.shwn++
			}
		})
		if err != nil {
			return err
		}
		late = max(late, l)
		if e.pid != "self" {
			p1, err := readProc(e.pid)
			if err != nil {
				return err
			}
			phaseCPU[j] = p1.cpu - p0.cpu
		}
	}
	schedule := time.Since(start)
	if selfAfter, err = readProc("self"); err != nil {
		return err
	}
	res := &WidgetResult{RatePerS: rate, VendorLatency: float64(latency) / float64(time.Millisecond), Customers: customers,
		ScheduleS: round(schedule.Seconds(), 2), MaxLateMs: round(float64(late)/float64(time.Millisecond), 2),
		BenchCPUS: round((selfAfter.cpu - selfBefore.cpu).Seconds(), 2), CPUProfile: opt.CPUProfile}
	res.BenchCPUPct = round(100*res.BenchCPUS/selfAfter.wall.Sub(selfBefore.wall).Seconds(), 1)
	rep.Widget = res
	if e.pid != "self" {
		if after, err = readProc(e.pid); err != nil {
			return err
		}
		wall := after.wall.Sub(before.wall).Seconds()
		res.HubCPUS = round((after.cpu - before.cpu).Seconds(), 2)
		res.HubCPUPct = round(100*(after.cpu-before.cpu).Seconds()/wall, 1)
		res.HubPeakRSSMB = mb(after.hwm)
	}
	path := func(st *stream) WidgetPath {
		sort.Slice(st.lat, func(a, b int) bool { return st.lat[a] < st.lat[b] })
		return WidgetPath{Requests: len(st.lat), Errors: st.errs, Shown: st.shwn, P50Ms: msAt(st.lat, .50), P90Ms: msAt(st.lat, .90), P99Ms: msAt(st.lat, .99), MaxMs: msAt(st.lat, 1)}
	}
	for j, c := range []struct{ name, route, calls, vendor string }{
		{"konnektive-gorgias (C3)", "GET " + i3.HTTP.URL, "4 CRM calls: customer, order and purchase queries side by side, then transactions", "konnektive"},
		{"together-gorgias (C5)", "POST " + i5.HTTP.URL, "1 Shopify GraphQL query (orders by email, 60 days)", "shopify"},
	} {
		hub, direct := path(streams[2*j]), path(streams[2*j+1])
		res.Connectors = append(res.Connectors, WidgetConnector{Connector: c.name, Route: c.route, VendorCalls: c.calls, Hub: hub, Direct: direct,
			AddedP50Ms: round(hub.P50Ms-direct.P50Ms, 2), AddedP99Ms: round(hub.P99Ms-direct.P99Ms, 2),
			HubVendorCalls: e.count[c.vendor].routes(), DirectVendorCalls: e.count[c.vendor+"-direct"].routes(),
			HubCPUPerCallMs: round(float64(phaseCPU[j])/float64(time.Millisecond)/float64(max(1, hub.Requests)), 3)})
	}
	if v := errAnswer.Load(); v != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("a C3 error answer: %.300s", v))
	}
	// The figures measure the hub only if the load generator kept its
	// schedule (on a machine other work saturates it falls seconds
	// behind, and the vendor emulators beside it queue).
	kept := res.MaxLateMs <= maxLateMs
	if !kept {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the load generator fell %.0f ms behind its schedule (more than %d ms): the machine could not run the load, so the added latency is not a measurement of the hub (targets not met)", res.MaxLateMs, maxLateMs))
	}
	for _, c := range res.Connectors {
		rep.Targets = append(rep.Targets,
			target("P3", c.Connector+": added latency p99", "≤ 5 ms", c.AddedP99Ms, "ms", kept && c.AddedP99Ms <= 5 && c.Hub.Errors == 0),
			target("P3", c.Connector+": added latency p50", "(figure)", c.AddedP50Ms, "ms", true),
			target("P3", c.Connector+": errors, hub + direct", "0", float64(c.Hub.Errors+c.Direct.Errors), "", c.Hub.Errors+c.Direct.Errors == 0))
	}
	if e.child == nil {
		rep.Notes = append(rep.Notes, "hub in process: it shares the CPU with the load generator and the emulators")
	}
	return nil
}

// maxLateMs is how far behind its schedule the load generator may fall
// for P3's figures to count.
const maxLateMs = 20

// msAt is the p-quantile (nearest rank) of sorted, in milliseconds.
func msAt(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return round(float64(sorted[i])/float64(time.Millisecond), 3)
}

// openLoop starts n calls at rate per second, request i at start + i/rate
// whatever the previous ones are doing (a stall shows as latency, measured
// from the scheduled start, instead of delaying the next requests). It
// waits for every call and returns the dispatcher's worst lag behind the
// schedule.
func openLoop(ctx context.Context, n int, rate float64, fn func(ctx context.Context, i int, scheduled time.Time)) (time.Duration, error) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now().Add(10 * time.Millisecond)
	var wg sync.WaitGroup
	var late time.Duration
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return late, ctx.Err()
			case <-time.After(d):
			}
		}
		late = max(late, time.Since(at))
		wg.Go(func() { fn(ctx, i, at) })
	}
	wg.Wait()
	return late, ctx.Err()
}

// crmPull makes the CRM calls one C3 pull makes, straight to the
// emulator: customers, orders and purchases by email side by side, then
// each customer's transactions.
func crmPull(ctx context.Context, k *konnektive.Client, email string) (bool, error) {
	var wg sync.WaitGroup
	var custs []konnektive.Customer
	errs := make([]error, 3)
	wg.Go(func() { custs, errs[0] = k.QueryCustomers(ctx, konnektive.CustomerQuery{Email: email}) })
	wg.Go(func() { _, errs[1] = k.QueryOrders(ctx, konnektive.OrderQuery{Email: email, NewestFirst: true}) })
	wg.Go(func() { _, errs[2] = k.QueryPurchases(ctx, konnektive.PurchaseQuery{Email: email}) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	for _, c := range custs {
		if _, err := k.QueryTransactions(ctx, konnektive.TransactionQuery{CustomerID: string(c.CustomerID)}); err != nil {
			return false, err
		}
	}
	return len(custs) > 0, nil
}
