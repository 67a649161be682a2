package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"switchyard/internal/connector/whiplashklaviyo"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	"switchyard/internal/emulator/klaviyo/contract"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
)

// BackfillResult is P4's figures.
type BackfillResult struct {
	Orders          int                `json:"orders"`
	Fetched         int                `json:"fetched"`
	Profiles        int                `json:"profiles"` // distinct emails imported
	Events          int                `json:"events"`   // events Klaviyo holds after the run
	Phase           string             `json:"phase"`
	WallS           float64            `json:"wall_s"` // install call → backfill done
	PhaseS          map[string]float64 `json:"phase_s"`
	CallsByEndpoint map[string]int     `json:"calls_by_endpoint"`
	WhiplashCalls   int64              `json:"whiplash_calls"`
	KlaviyoCalls    int64              `json:"klaviyo_calls"`
	ProfileCalls    int                `json:"profile_calls"` // profile-import + profile-bulk-import-jobs POSTs, less the install's default profile
	ProfileCallsMax float64            `json:"profile_calls_max"`
	Throttled       int64              `json:"throttled_429"`
	Floor           Floor              `json:"floor"`
	FloorRatio      float64            `json:"floor_ratio"`
}

// Floor is the least time the vendors' rate limits allow, phase by phase.
type Floor struct {
	WhiplashCalls int     `json:"whiplash_calls"`
	WhiplashRate  float64 `json:"whiplash_rate_per_s"`
	WhiplashBurst int     `json:"whiplash_burst"`
	FetchS        float64 `json:"fetch_s"`
	ImportCalls   int     `json:"import_calls"`
	ImportLimit   string  `json:"import_limit"`
	ImportS       float64 `json:"import_s"` // calls + the emulator's job processing (2 steps)
	EventCalls    int     `json:"event_calls"`
	EventLimit    string  `json:"event_limit"`
	EventsS       float64 `json:"events_s"`
	TotalS        float64 `json:"total_s"`
}

func (r *BackfillResult) lines() []string {
	f := r.Floor
	return []string{
		fmt.Sprintf("%d orders over 14 days → %d fetched, %d profiles, %d events; phase %s", r.Orders, r.Fetched, r.Profiles, r.Events, r.Phase),
		fmt.Sprintf("wall %.1f s (phases %v) vs floor %.1f s = %.2f×", r.WallS, r.PhaseS, f.TotalS, r.FloorRatio),
		fmt.Sprintf("floor: fetch %d calls at %.0f/s (burst %d) %.1f s + import %d calls (%s) and 2 job steps %.1f s + events %d calls (%s) %.1f s",
			f.WhiplashCalls, f.WhiplashRate, f.WhiplashBurst, f.FetchS, f.ImportCalls, f.ImportLimit, f.ImportS, f.EventCalls, f.EventLimit, f.EventsS),
		fmt.Sprintf("profile calls %d (max %.0f); whiplash calls %d, klaviyo calls %d, 429s %d", r.ProfileCalls, r.ProfileCallsMax, r.WhiplashCalls, r.KlaviyoCalls, r.Throttled),
		fmt.Sprintf("calls by endpoint: %v", r.CallsByEndpoint),
	}
}

// runBackfill is P4: generated Whiplash orders over 14 days, backfilled by
// C2 into the Klaviyo emulator at its real (contract) limits.
func runBackfill(ctx context.Context, opt *Options, rep *Report) error {
	rep.Params = map[string]any{"orders": opt.Orders, "workers": opt.Workers, "db": rep.Machine.DB}
	e := newEnv(opt)
	defer e.close()
	k := klaviyoemu.New(klaviyoemu.Config{SkipSchemaValidation: true, Logger: opt.Logger})
	w := whiplashemu.New(whiplashemu.Config{AllowClientCredentials: true, Fixtures: &whiplashemu.SeedOptions{}, Logger: opt.Logger})
	if err := e.serve("klaviyo", k, k.Close); err != nil {
		return err
	}
	if err := e.serve("whiplash", w, w.Close); err != nil {
		return err
	}
	// The backfill reaches 14 days before the launch date: orders are
	// created over those 14 days.
	launch := time.Now().UTC().Truncate(24 * time.Hour)
	from := launch.Add(-whiplashklaviyo.BackfillWindow)
	if _, err := w.Seed(whiplashemu.SeedOptions{Orders: opt.Orders, From: from.Add(6 * time.Hour), Days: 14, Seed: 41}); err != nil {
		return fmt.Errorf("error seeding orders: %w", err)
	}
	if err := e.launch(ctx, rep, false); err != nil {
		return err
	}
	t, err := e.newTenant(ctx, "Bench Backfill", 0)
	if err != nil {
		return err
	}
	res := &BackfillResult{Orders: opt.Orders, PhaseS: map[string]float64{}}
	rep.Backfill = res
	for _, c := range e.count {
		c.reset()
	}
	start := time.Now()
	inst, err := e.install(ctx, t, "whiplash-klaviyo", map[string]string{"launch_date": launch.Format(time.DateOnly)})
	if err != nil {
		return err
	}
	path := "/api/v1/merchants/" + t.merchant + "/installations/" + inst + "/backfill"
	var st map[string]string
	last, lastAt := "", start
	for {
		st = nil
		var raw struct {
			Backfill map[string]any `json:"backfill"`
		}
		if err := e.api(ctx, "GET", path, nil, &raw); err == nil && raw.Backfill != nil {
			st = map[string]string{}
			for kk, v := range raw.Backfill {
				st[kk] = fmt.Sprint(v)
			}
		}
		if st != nil && st["phase"] != last {
			if last != "" {
				res.PhaseS[last] = round(time.Since(lastAt).Seconds(), 1)
			}
			last, lastAt = st["phase"], time.Now()
		}
		if st != nil && (st["phase"] == whiplashklaviyo.PhaseDone || (st["error"] != "" && st["error"] != "<nil>")) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("backfill not done (%v) when the bench timed out: %w", st, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.WallS = round(time.Since(start).Seconds(), 2)
	res.Phase = st["phase"]
	if res.Phase != whiplashklaviyo.PhaseDone {
		rep.Notes = append(rep.Notes, "backfill stopped with an error: "+st["error"])
	}
	fmt.Sscan(st["fetched"], &res.Fetched)
	fmt.Sscan(st["profiles_total"], &res.Profiles)
	if acct := k.State().Accounts; len(acct) > 0 {
		res.Events = len(acct[0].Events)
	}
	res.CallsByEndpoint = map[string]int{}
	for name, c := range e.count {
		for route, n := range c.routes() {
			res.CallsByEndpoint[name+" "+route] = n
		}
		res.Throttled += c.limited.Load()
	}
	res.WhiplashCalls, res.KlaviyoCalls = e.count["whiplash"].calls.Load(), e.count["klaviyo"].calls.Load()
	kr := e.count["klaviyo"].routes()
	// The install's one upsert of the default profile is not the backfill's.
	res.ProfileCalls = max(0, kr["POST /api/profile-import"]-1) + kr["POST /api/profile-bulk-import-jobs"]
	res.ProfileCallsMax = float64(opt.Orders)/10000 + 1

	fl, err := backfillFloor(opt.Orders, res.Profiles, res.Events)
	if err != nil {
		return err
	}
	res.Floor = fl
	if fl.TotalS > 0 {
		res.FloorRatio = round(res.WallS/fl.TotalS, 3)
	}
	rep.Targets = []Target{
		target("P4", "profile calls", fmt.Sprintf("≤ %.0f (orders/10,000 + 1)", res.ProfileCallsMax), float64(res.ProfileCalls), "", float64(res.ProfileCalls) <= res.ProfileCallsMax),
		target("P4", "wall time / rate-limit floor", "≤ 1.2", res.FloorRatio, "×", res.FloorRatio > 0 && res.FloorRatio <= 1.2),
		target("P4", "backfill finished, 429s", "done, 0", float64(res.Throttled), "", res.Phase == whiplashklaviyo.PhaseDone && res.Throttled == 0),
	}
	return nil
}

// backfillFloor is the least time the rate limits allow for the backfill's
// three sequential phases: the Whiplash pages at the client's own rate
// (Whiplash V2 publishes none), the bulk profile imports under their
// contract limit plus the emulator's two job steps, and the bulk events
// under theirs.
func backfillFloor(orders, profiles, events int) (Floor, error) {
	spec, err := contract.Load()
	if err != nil {
		return Floor{}, fmt.Errorf("error loading the Klaviyo contract: %w", err)
	}
	imp := spec.FindLabel("POST /api/profile-bulk-import-jobs")
	evs := spec.FindLabel("POST /api/event-bulk-create-jobs")
	if imp == nil || evs == nil {
		return Floor{}, fmt.Errorf("the Klaviyo contract has no bulk import or bulk event operation")
	}
	per := min(whiplashklaviyo.BackfillPerPage, 250)
	f := Floor{WhiplashRate: whiplash.DefaultRate, WhiplashBurst: max(1, int(whiplash.DefaultRate))}
	f.WhiplashCalls = 1 + orders/per + 1 // count, full pages, the short last page
	f.FetchS = math.Max(0, float64(f.WhiplashCalls-f.WhiplashBurst)/f.WhiplashRate)
	f.ImportCalls = (profiles + whiplashklaviyo.BackfillProfileChunk - 1) / whiplashklaviyo.BackfillProfileChunk
	f.ImportLimit = fmt.Sprintf("%d/s, %d/min", imp.Limit.Burst, imp.Limit.Steady)
	f.ImportS = windowFloor(f.ImportCalls, imp.Limit.Burst, imp.Limit.Steady) + 2*klaviyoemu.DefaultBulkJobStep.Seconds()
	f.EventCalls = (events + klaviyoemu.MaxBulkEvents - 1) / klaviyoemu.MaxBulkEvents
	f.EventLimit = fmt.Sprintf("%d/s, %d/min", evs.Limit.Burst, evs.Limit.Steady)
	f.EventsS = windowFloor(f.EventCalls, evs.Limit.Burst, evs.Limit.Steady)
	f.TotalS = round(f.FetchS+f.ImportS+f.EventsS, 2)
	return f, nil
}

// windowFloor is the earliest time (seconds from the first call) the n-th
// call can be made under fixed windows of burst calls per second and steady
// calls per minute, starting at a window boundary.
func windowFloor(n, burst, steady int) float64 {
	if n <= 0 {
		return 0
	}
	if burst <= 0 {
		burst = n
	}
	if steady <= 0 {
		steady = n
	}
	done, sec, inMinute := 0, 0, 0
	for {
		if sec%60 == 0 {
			inMinute = 0
		}
		k := min(burst, steady-inMinute, n-done)
		done += k
		inMinute += k
		if done >= n {
			return float64(sec)
		}
		sec++
	}
}
