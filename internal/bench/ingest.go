package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
)

// IngestResult is P1's figures.
type IngestResult struct {
	Events         int              `json:"events"`
	Clients        int              `json:"clients"`
	Customers      int              `json:"customers"`
	Route          string           `json:"route"`
	PayloadBytes   int              `json:"payload_bytes_avg"`
	Sent           int              `json:"sent"`
	Accepted       int              `json:"accepted"`
	Duplicates     int              `json:"duplicates"`
	Failed         int              `json:"failed"`
	Stored         int              `json:"stored"`
	Processed      int              `json:"processed"`
	Lost           int              `json:"lost"`        // acknowledged but not stored
	Unprocessed    int              `json:"unprocessed"` // stored but not processed when the run ended
	BurstS         float64          `json:"burst_s"`
	BurstPerS      float64          `json:"burst_per_s"`
	AckP50Ms       float64          `json:"ack_p50_ms"`
	AckP99Ms       float64          `json:"ack_p99_ms"`
	AckMaxMs       float64          `json:"ack_max_ms"`
	JobsAtBurstEnd int              `json:"jobs_busy_at_burst_end"`
	SustainedS     float64          `json:"sustained_s"`
	SustainedPerS  float64          `json:"sustained_per_s"`
	BaselinePerS   float64          `json:"baseline_per_s"`
	BaselineBatch  int              `json:"baseline_batch"`
	BurstRatio     float64          `json:"burst_ratio"`     // burst / baseline
	SustainedRatio float64          `json:"sustained_ratio"` // sustained / baseline
	VendorCalls    map[string]int64 `json:"vendor_calls"`
	Vendor429      int64            `json:"vendor_429"`
	Mode           string           `json:"mode"`      // the hub: "serve child process" or "in process" (with the load generator and emulators)
	HubCPUS        float64          `json:"hub_cpu_s"` // the hub's process from the first webhook to the drain
	HubCPUPct      float64          `json:"hub_cpu_pct_of_one_core"`
	HubPeakRSSMB   float64          `json:"hub_peak_rss_mb"`
	BenchCPUS      float64          `json:"bench_cpu_s,omitempty"` // the load generator and emulators, when the hub is a child
	CPUProfile     string           `json:"cpu_profile,omitempty"`
}

func (r *IngestResult) lines() []string {
	return []string{
		fmt.Sprintf("%d webhooks (%d B avg) over %d customers, %d keep-alive clients, route %s", r.Events, r.PayloadBytes, r.Customers, r.Clients, r.Route),
		fmt.Sprintf("burst: %d accepted in %.2f s = %.0f/s, ack p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d jobs busy at the end)", r.Accepted, r.BurstS, r.BurstPerS, r.AckP50Ms, r.AckP99Ms, r.AckMaxMs, r.JobsAtBurstEnd),
		fmt.Sprintf("sustained (until no job is left): %.2f s = %.0f events/s", r.SustainedS, r.SustainedPerS),
		fmt.Sprintf("baseline (bare batched INSERT, batch %d, same pragmas and unique index): %.0f rows/s; ratios burst %.3f, sustained %.3f", r.BaselineBatch, r.BaselinePerS, r.BurstRatio, r.SustainedRatio),
		fmt.Sprintf("stored %d, processed %d, lost %d, unprocessed %d, failed %d; vendor calls %v, 429s %d", r.Stored, r.Processed, r.Lost, r.Unprocessed, r.Failed, r.VendorCalls, r.Vendor429),
		fmt.Sprintf("hub (%s): CPU %.1f s (%.0f%% of one core), peak RSS %.0f MB; load generator and emulators: CPU %.1f s", r.Mode, r.HubCPUS, r.HubCPUPct, r.HubPeakRSSMB, r.BenchCPUS),
	}
}

// runIngest is P1: signed Whiplash webhooks over loopback HTTP into the hub
// (SQLite, or Postgres with --db), C1 and C2 installed, vendors unthrottled;
// burst (accept only, while the workers process) and sustained (until no job
// is left), both against a bare batched-insert baseline of the same
// payloads measured in the same run.
func runIngest(ctx context.Context, opt *Options, rep *Report) error {
	rep.Params = map[string]any{"events": opt.Events, "clients": opt.Clients, "customers": opt.Customers, "route": opt.Route, "workers": opt.Workers,
		"baseline_batch": opt.BatchSize, "db": rep.Machine.DB}
	e := newEnv(opt)
	defer e.close()
	// Vendors are not the limit: Gorgias drains its bucket every 10 ms, and
	// Klaviyo's windows are off.
	const window = 10 * time.Millisecond
	g := gorgiasemu.New(gorgiasemu.Config{Window: window, Logger: opt.Logger})
	k := klaviyoemu.New(klaviyoemu.Config{DisableRateLimits: true, SkipSchemaValidation: true, Logger: opt.Logger})
	w := whiplashemu.New(whiplashemu.Config{AllowClientCredentials: true, Fixtures: &whiplashemu.SeedOptions{}, Logger: opt.Logger})
	if err := e.serve("gorgias", g, g.Close); err != nil {
		return err
	}
	if err := e.serve("klaviyo", k, k.Close); err != nil {
		return err
	}
	if err := e.serve("whiplash", w, w.Close); err != nil {
		return err
	}

	// The payloads, shared by the baseline and the hub.
	gen := newOrderGen(opt.Customers, 16)
	hooks := make([]signed, opt.Events)
	rows := make([]baselineRow, opt.Events)
	total := 0
	for i := range hooks {
		body := gen.webhook(i%opt.Customers, int64(1000+i), i%len(gen.steps))
		inst := 0
		if opt.Route == "both" {
			inst = i % 2
		}
		hooks[i] = signed{body: body, sig: sign(body), inst: inst}
		wh, err := whiplash.DecodeWebhook(body)
		if err != nil {
			return fmt.Errorf("error decoding a generated webhook: %w", err)
		}
		rows[i] = baselineRow{dedup: wh.DedupKey(body), email: domain.NormalizeEmail(gen.email(i % opt.Customers)), payload: body}
		total += len(body)
	}
	res := &IngestResult{Events: opt.Events, Clients: opt.Clients, Customers: opt.Customers, Route: opt.Route, PayloadBytes: total / max(1, opt.Events), BaselineBatch: opt.BatchSize}
	rep.Ingest = res

	// Baseline first, on a quiet machine.
	var err error
	if strings.HasPrefix(opt.DB, "postgres") {
		res.BaselinePerS, err = baselinePostgres(ctx, opt.DB, rows, opt.BatchSize)
	} else {
		res.BaselinePerS, err = baselineSQLite(ctx, opt.TempDir, rows, opt.BatchSize)
	}
	if err != nil {
		return err
	}
	res.BaselinePerS = round(res.BaselinePerS, 0)

	// A CPU profile needs the hub in this process.
	if err := e.launch(ctx, rep, opt.CPUProfile != ""); err != nil {
		return err
	}
	t, err := e.newTenant(ctx, "Bench Ingest", window)
	if err != nil {
		return err
	}
	c1, err := e.install(ctx, t, "whiplash-gorgias", nil)
	if err != nil {
		return err
	}
	c2, err := e.install(ctx, t, "whiplash-klaviyo", nil)
	if err != nil {
		return err
	}
	if _, err := e.waitIdle(ctx, 100*time.Millisecond); err != nil {
		return err
	}
	for _, c := range e.count {
		c.reset()
	}
	urls := []string{e.hubURL + "/hooks/whiplash/" + c1, e.hubURL + "/hooks/whiplash/" + c2}

	stopProfile := func() {}
	if opt.CPUProfile != "" {
		if stopProfile, err = startProfile(opt.CPUProfile); err != nil {
			return err
		}
		defer stopProfile()
		res.CPUProfile = opt.CPUProfile
	}
	before, _ := readProc(e.pid)
	benchBefore, _ := readProc("self")
	client := httpClient(opt.Clients)
	fr := fire(ctx, client, urls, hooks, opt.Clients)
	if fr.failed > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d webhooks failed; first: %s", fr.failed, fr.firstErr))
	}
	if n, err := e.busy(ctx); err == nil {
		res.JobsAtBurstEnd = n
	}
	res.Sent, res.Accepted, res.Duplicates, res.Failed = fr.sent, fr.accepted, fr.duplicate, fr.failed
	burst := fr.lastAck.Sub(fr.start)
	res.BurstS = round(burst.Seconds(), 3)
	res.BurstPerS = round(float64(fr.accepted)/burst.Seconds(), 0)
	res.AckP50Ms, res.AckP99Ms, res.AckMaxMs = percentile(fr.latencies, 50), percentile(fr.latencies, 99), percentile(fr.latencies, 100)

	// Sustained: until every event is processed and no job is left. The
	// drain gets the time left but 15 s, so a pipeline that does not finish
	// still yields a report (burst figures, what is left and why).
	drainCtx, cancel := context.WithCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		drainCtx, cancel = context.WithDeadline(ctx, dl.Add(-15*time.Second))
	}
	end, drainErr := e.drain(drainCtx)
	cancel()
	if drainErr != nil && ctx.Err() == nil && drainCtx.Err() == nil {
		return drainErr
	}
	ctx = context.WithoutCancel(ctx)
	stopProfile()
	after, _ := readProc(e.pid)
	benchAfter, _ := readProc("self")
	if drainErr != nil {
		rep.Notes = append(rep.Notes, "sustained not reached: "+drainErr.Error())
	} else {
		sus := end.Sub(fr.start)
		res.SustainedS = round(sus.Seconds(), 3)
		res.SustainedPerS = round(float64(fr.accepted)/sus.Seconds(), 0)
	}
	res.Mode = e.mode()
	res.HubCPUS = round((after.cpu - before.cpu).Seconds(), 1)
	res.HubCPUPct = round(100*(after.cpu-before.cpu).Seconds()/after.wall.Sub(before.wall).Seconds(), 0)
	res.HubPeakRSSMB = mb(after.hwm)
	if e.child != nil {
		res.BenchCPUS = round((benchAfter.cpu - benchBefore.cpu).Seconds(), 1)
	}
	if res.BaselinePerS > 0 {
		res.BurstRatio = round(res.BurstPerS/res.BaselinePerS, 3)
		res.SustainedRatio = round(res.SustainedPerS/res.BaselinePerS, 3)
	}
	res.Stored, res.Processed, err = e.eventCounts(ctx)
	if err != nil {
		return err
	}
	res.Lost, res.Unprocessed = res.Accepted-res.Stored, res.Stored-res.Processed
	res.VendorCalls = map[string]int64{}
	for name, c := range e.count {
		res.VendorCalls[name] = c.calls.Load()
		res.Vendor429 += c.limited.Load()
	}
	rep.Targets = []Target{
		target("P1", "burst accepted/s while workers process", "≥ 5000", res.BurstPerS, "/s", res.BurstPerS >= 5000),
		target("P1", "burst ack p99", "≤ 30 ms", res.AckP99Ms, "ms", res.AckP99Ms <= 30),
		target("P1", "sustained end to end", "≥ 3000", res.SustainedPerS, "/s", res.SustainedPerS >= 3000),
		target("P1", "burst / bare-insert baseline", "(ratio)", res.BurstRatio, "", true),
		target("P1", "sustained / bare-insert baseline", "(ratio)", res.SustainedRatio, "", true),
		target("P1", "events lost or refused", "0", float64(res.Lost+res.Failed), "", res.Lost == 0 && res.Failed == 0),
		target("P1", "events unprocessed at the end", "0", float64(res.Unprocessed), "", res.Unprocessed == 0),
	}
	return nil
}

// drain waits until no job is left (every event's job is done, and every
// sync it caused) and returns when that was first seen; the events are then
// all processed (the callers check it with eventCounts). When ctx ends first,
// the error says what was still busy and why.
func (e *env) drain(ctx context.Context) (time.Time, error) {
	end, err := e.waitIdle(ctx, 100*time.Millisecond)
	if err == nil || ctx.Err() == nil {
		return end, err
	}
	bg := context.WithoutCancel(ctx)
	stored, processed, _ := e.eventCounts(bg)
	counts, _ := e.jobCounts(bg)
	var lastErr string
	_ = e.queryRow(bg, `SELECT CAST(errors AS TEXT) FROM river_job WHERE state = 'retryable' LIMIT 1`, &lastErr)
	return time.Time{}, fmt.Errorf("events still unprocessed (%d of %d; jobs %+v; a retryable job's errors: %.600s) when the bench timed out: %w",
		stored-processed, stored, counts, lastErr, ctx.Err())
}

// startProfile starts a CPU profile of this process into path; the
// returned function stops it (once).
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("error creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("error starting the CPU profile: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// eventCounts counts stored and processed inbound events in the hub's
// database.
func (e *env) eventCounts(ctx context.Context) (stored, processed int, err error) {
	if err := e.queryRow(ctx, `SELECT COUNT(*), COUNT(processed_at) FROM inbound_events`, &stored, &processed); err != nil {
		return 0, 0, fmt.Errorf("error counting events: %w", err)
	}
	return stored, processed, nil
}
