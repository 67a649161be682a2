// Package bench runs switchyard's performance benchmarks (SPEC §6): P1
// ingest, P2 gorgias-burst, P3 widget, P4 backfill and P5 idle. Each starts the vendor
// emulators on 127.0.0.1, the hub (in process, or a child `serve` process for
// the idle figures), drives a bounded load that stops by itself, prints a
// table and writes a JSON report with the machine it ran on (cores, an fsync
// rate measured in the same run) and ratios against a baseline taken in the
// same run.
//
// Nothing here asserts timings: the targets are reported as met or not.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// Names returns the benchmark names (`all` runs each in this order).
func Names() []string { return []string{"ingest", "gorgias-burst", "widget", "backfill", "idle"} }

// Options configures a run. Zero sizes take the SPEC §6 / issue 16 figures
// (or the smoke sizes when Smoke is set).
type Options struct {
	// ResultsDir receives <name>.json (default bench/results).
	ResultsDir string
	// DB is "" (a fresh SQLite file in a temporary directory) or a
	// postgres:// admin URL: a fresh database is created on that server for
	// the run and dropped after it.
	DB string
	// TempDir holds the SQLite files and the fsync probe (default: a new
	// directory under os.TempDir()).
	TempDir string

	// P1 ingest.
	Events    int    // webhooks sent (default 20,000)
	Clients   int    // keep-alive HTTP clients (default 64)
	Customers int    // distinct emails the events spread over (default 2,000)
	Route     string // "c1" (default): every webhook to the C1 installation; "both": alternate C1 and C2
	BatchSize int    // rows per multi-row INSERT in the baseline (default 128)

	// P2 gorgias-burst.
	Updates          int           // order updates in the burst (default 10,000)
	GorgiasCustomers int           // customers they spread over (default 2,000)
	GorgiasWindow    time.Duration // leaky-bucket window of the measured burst (default 2 s: 10× the real 20 s)

	// P3 widget.
	WidgetRate     float64       // requests per second, open loop (default 200)
	WidgetLatency  time.Duration // the CRM and Shopify emulators' fixed latency (default 50 ms)
	WidgetRequests int           // requests per stream (hub and direct, C3 and C5; default 3,000)

	// P4 backfill.
	Orders int // generated Whiplash orders over 14 days (default 100,000)

	// P5 idle.
	Duration time.Duration // idle window (default 60 s)

	// HubExe runs the hub as a child process, `HubExe serve`, whose /proc
	// entry gives its own CPU and RSS. Empty: the hub runs in this process
	// (the smoke test does this) and P5 reports /proc/self.
	HubExe string

	// Workers is the hub's job workers (default 100, as `serve`).
	Workers int
	// CPUProfile, when set, receives a CPU profile of P1's or P3's load
	// phase or of P5's idle window (the hub then runs in this process).
	CPUProfile string
	// Timeout bounds each benchmark (default 30 min; smoke 2 min).
	Timeout time.Duration
	// Smoke uses tiny sizes so every benchmark finishes in seconds.
	Smoke bool

	Out    io.Writer
	Logger *slog.Logger
}

func (o *Options) defaults() {
	def := func(p *int, full, smoke int) {
		if *p <= 0 {
			*p = full
			if o.Smoke {
				*p = smoke
			}
		}
	}
	def(&o.Events, 20000, 400)
	def(&o.Clients, 64, 8)
	def(&o.Customers, 2000, 50)
	def(&o.BatchSize, 128, 128)
	def(&o.Updates, 10000, 200)
	def(&o.GorgiasCustomers, 2000, 40)
	def(&o.Orders, 100000, 600)
	def(&o.Workers, 100, 100)
	def(&o.WidgetRequests, 3000, 100)
	if o.WidgetRate <= 0 {
		o.WidgetRate = 200
	}
	if o.WidgetLatency <= 0 {
		o.WidgetLatency = 50 * time.Millisecond
		if o.Smoke {
			o.WidgetLatency = 20 * time.Millisecond
		}
	}
	if o.Route == "" {
		o.Route = "c1"
	}
	if o.GorgiasWindow <= 0 {
		o.GorgiasWindow = 2 * time.Second
		if o.Smoke {
			o.GorgiasWindow = 200 * time.Millisecond
		}
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
		if o.Smoke {
			o.Duration = 2 * time.Second
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
		if o.Smoke {
			o.Timeout = 2 * time.Minute
		}
	}
	if o.ResultsDir == "" {
		o.ResultsDir = filepath.Join("bench", "results")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Machine describes where a report was measured.
type Machine struct {
	Cores      int     `json:"cores"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	CPU        string  `json:"cpu,omitempty"`
	OS         string  `json:"os"`
	GoVersion  string  `json:"go_version"`
	Commit     string  `json:"commit,omitempty"`
	FsyncPerS  float64 `json:"fsync_per_s"` // small write+fsync loops in the database directory, this run
	FsyncDir   string  `json:"fsync_dir"`
	DB         string  `json:"db"`                // sqlite or postgres
	LoadAvg    string  `json:"loadavg,omitempty"` // /proc/loadavg at the start: other work on the machine
}

// Target is one SPEC §6 target with the figure measured against it.
type Target struct {
	ID       string  `json:"id"`
	Metric   string  `json:"metric"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit,omitempty"`
	Met      bool    `json:"met"`
}

// Report is what a benchmark writes to bench/results/<name>.json.
type Report struct {
	Name       string          `json:"name"`
	StartedAt  time.Time       `json:"started_at"`
	WallS      float64         `json:"wall_s"`
	Smoke      bool            `json:"smoke"`
	Machine    Machine         `json:"machine"`
	Params     map[string]any  `json:"params"`
	Targets    []Target        `json:"targets"`
	Notes      []string        `json:"notes,omitempty"`
	Ingest     *IngestResult   `json:"ingest,omitempty"`
	Gorgias    *GorgiasResult  `json:"gorgias_burst,omitempty"`
	Widget     *WidgetResult   `json:"widget,omitempty"`
	Backfill   *BackfillResult `json:"backfill,omitempty"`
	Idle       *IdleResult     `json:"idle,omitempty"`
	ResultFile string          `json:"-"`
}

// Run runs one benchmark by name ("all" runs every one) and returns the
// reports, each already printed and written.
func Run(ctx context.Context, name string, opt Options) ([]*Report, error) {
	opt.defaults()
	todo := []string{name}
	if name == "all" {
		todo = Names()
	}
	var out []*Report
	for _, n := range todo {
		r, err := runOne(ctx, n, opt)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, fmt.Errorf("error running bench %s: %w", n, err)
		}
	}
	return out, nil
}

func runOne(ctx context.Context, name string, opt Options) (*Report, error) {
	fn, ok := map[string]func(context.Context, *Options, *Report) error{
		"ingest":        runIngest,
		"gorgias-burst": runGorgiasBurst,
		"widget":        runWidget,
		"backfill":      runBackfill,
		"idle":          runIdle,
	}[name]
	if !ok {
		return nil, fmt.Errorf("unknown benchmark %q (want one of %s, all)", name, strings.Join(Names(), ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	dir := opt.TempDir
	if dir != "" {
		dir = filepath.Join(dir, name) // a fresh database per benchmark
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("error creating the bench directory: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "switchyard-bench-")
		if err != nil {
			return nil, fmt.Errorf("error creating the bench directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	o := opt
	o.TempDir = dir
	r := &Report{Name: name, StartedAt: time.Now().UTC(), Smoke: opt.Smoke, Params: map[string]any{}}
	r.Machine = machine(dir, o.DB)
	start := time.Now()
	err := fn(ctx, &o, r)
	r.WallS = round(time.Since(start).Seconds(), 2)
	if err != nil {
		return r, err
	}
	if err := r.write(o.ResultsDir); err != nil {
		return r, err
	}
	r.Print(o.Out)
	return r, nil
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("error creating %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("error encoding the %s report: %w", r.Name, err)
	}
	r.ResultFile = filepath.Join(dir, r.Name+".json")
	if err := os.WriteFile(r.ResultFile, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("error writing %s: %w", r.ResultFile, err)
	}
	return nil
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\n== bench %s (%s%s) ==\n", r.Name, r.StartedAt.Format(time.RFC3339), map[bool]string{true: ", smoke sizes"}[r.Smoke])
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s, %s, fsync %.0f/s in %s, db %s, load average %s\n", m.Cores, m.GOMAXPROCS, m.CPU, m.GoVersion, m.FsyncPerS, m.FsyncDir, m.DB, m.LoadAvg)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tmetric\tmeasured\ttarget\tmet")
	for _, t := range r.Targets {
		met := map[bool]string{true: "yes", false: "NO"}[t.Met]
		if strings.HasPrefix(t.Want, "(") {
			met = "-" // a figure reported, not a target
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\n", t.ID, t.Metric, fmtNum(t.Measured), t.Unit, t.Want, met)
	}
	_ = tw.Flush()
	for _, line := range r.detail() {
		fmt.Fprintln(w, "  "+line)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  note: "+n)
	}
	if r.ResultFile != "" {
		fmt.Fprintf(w, "  written: %s (wall %.1f s)\n", r.ResultFile, r.WallS)
	}
}

func (r *Report) detail() []string {
	switch {
	case r.Ingest != nil:
		return r.Ingest.lines()
	case r.Gorgias != nil:
		return r.Gorgias.lines()
	case r.Widget != nil:
		return r.Widget.lines()
	case r.Backfill != nil:
		return r.Backfill.lines()
	case r.Idle != nil:
		return r.Idle.lines()
	}
	return nil
}

func fmtNum(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e9 && v > -1e9:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

func target(id, metric, want string, measured float64, unit string, met bool) Target {
	return Target{ID: id, Metric: metric, Want: want, Measured: round(measured, 4), Unit: unit, Met: met}
}

// machine describes this machine and measures the fsync rate in dir.
func machine(dir, db string) Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), FsyncDir: dir, DB: "sqlite"}
	if strings.HasPrefix(db, "postgres") {
		m.DB = "postgres"
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				m.Commit = s.Value
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	if m.Commit == "" { // built without VCS stamping: ask git in the working directory
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			m.Commit = strings.TrimSpace(string(out))
		}
	}
	if rate, err := fsyncRate(dir, 300, 2*time.Second); err == nil {
		m.FsyncPerS = round(rate, 0)
	}
	return m
}

// fsyncRate writes 512 bytes and fsyncs, n times or until limit, in a temp
// file in dir, and returns fsyncs per second.
func fsyncRate(dir string, n int, limit time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, fmt.Errorf("error creating the fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 512)
	start := time.Now()
	done := 0
	for done < n && time.Since(start) < limit {
		if _, err := f.WriteAt(buf, int64(done%64)*512); err != nil {
			return 0, fmt.Errorf("error writing the fsync probe: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("error syncing the fsync probe: %w", err)
		}
		done++
	}
	el := time.Since(start).Seconds()
	if el <= 0 || done == 0 {
		return 0, errors.New("no fsync measured")
	}
	return float64(done) / el, nil
}
