package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"switchyard/internal/bench"
)

// TestSmoke runs every benchmark at smoke sizes (seconds) and checks the
// JSON reports: the fields are there and the counts add up (every webhook
// accepted, nothing lost, the backfill done, the idle families present).
// No timing is asserted: the targets are reported, not tested.
func TestSmoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	reports, err := bench.Run(context.Background(), "all", bench.Options{Smoke: true, ResultsDir: dir, Out: &out})
	if err != nil {
		t.Fatalf("bench all --smoke: %v\n%s", err, out.String())
	}
	if len(reports) != len(bench.Names()) {
		t.Fatalf("%d reports, want %d", len(reports), len(bench.Names()))
	}
	read := func(name string) bench.Report {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var r bench.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		if r.Name != name || !r.Smoke || r.Machine.Cores < 1 || r.Machine.FsyncPerS <= 0 || len(r.Targets) == 0 {
			t.Errorf("%s.json header = %+v", name, r)
		}
		return r
	}

	in := read("ingest").Ingest
	if in == nil || in.Sent != in.Events || in.Accepted != in.Events || in.Failed != 0 || in.Lost != 0 || in.Unprocessed != 0 ||
		in.Stored != in.Accepted || in.Processed != in.Stored || in.PayloadBytes < 1500 {
		t.Errorf("ingest = %+v", in)
	}
	if in != nil && (in.BaselinePerS <= 0 || in.BurstPerS <= 0 || in.SustainedPerS <= 0 || in.AckP99Ms <= 0 || in.BurstRatio <= 0 || in.VendorCalls["gorgias"] == 0) {
		t.Errorf("ingest figures missing: %+v", in)
	}

	g := read("gorgias-burst").Gorgias
	if g == nil || g.Accepted != g.Updates || g.Updates == 0 || g.Calls == 0 || g.WarmupCalls == 0 || g.Stale != 0 || !g.NewestEverywhere || g.Allowed <= 0 {
		t.Errorf("gorgias-burst = %+v", g)
	}

	w := read("widget").Widget
	if w == nil || len(w.Connectors) != 2 || w.RatePerS != 200 {
		t.Fatalf("widget = %+v", w)
	}
	for _, c := range w.Connectors {
		// Every request of every stream answered, with the customer's
		// data (the fixtures give every customer records in both vendors).
		for _, p := range []bench.WidgetPath{c.Hub, c.Direct} {
			if p.Requests != 100 || p.Errors != 0 || p.Shown != p.Requests || p.P50Ms <= 0 || p.P99Ms < p.P50Ms || p.MaxMs < p.P99Ms {
				t.Errorf("widget %s: %+v", c.Connector, p)
			}
		}
		// Latency is measured from the scheduled start, so no answer
		// is faster than the emulator's fixed latency.
		if c.Direct.P50Ms < w.VendorLatency || c.Hub.P50Ms < w.VendorLatency {
			t.Errorf("widget %s: p50 below the vendor latency %v ms: %+v", c.Connector, w.VendorLatency, c)
		}
	}

	b := read("backfill").Backfill
	if b == nil || b.Phase != "done" || b.Fetched != b.Orders || b.Profiles == 0 || b.Events == 0 || b.ProfileCalls < 1 || b.Floor.TotalS <= 0 || b.WallS <= 0 {
		t.Errorf("backfill = %+v", b)
	}

	idle := read("idle").Idle
	if idle == nil || idle.Installations != 5 || idle.Active != 5 || len(idle.MissingFamilies) != 0 || idle.RSSMB <= 0 {
		t.Errorf("idle = %+v", idle)
	}
	if testing.Verbose() {
		t.Log(out.String())
	}
}

func TestUnknown(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if _, err := bench.Run(context.Background(), "nope", bench.Options{Smoke: true, ResultsDir: t.TempDir(), Out: &out}); err == nil {
		t.Error("unknown benchmark: no error")
	}
}
