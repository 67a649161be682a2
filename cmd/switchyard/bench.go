package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"switchyard/internal/bench"
)

type benchCmd struct {
	Name       string        `arg:"" enum:"ingest,gorgias-burst,backfill,idle,widget,all" help:"Benchmark: ingest (P1), gorgias-burst (P2), widget (P3), backfill (P4), idle (P5) or all."`
	DB         string        `name:"db" env:"SWITCHYARD_BENCH_DB" help:"Postgres admin URL (postgres://…): the hub runs on a fresh database created there; default a fresh SQLite file."`
	Results    string        `name:"results" env:"SWITCHYARD_BENCH_RESULTS" default:"bench/results" help:"Directory receiving <name>.json."`
	Smoke      bool          `name:"smoke" help:"Tiny sizes: every benchmark in seconds (CI)."`
	Events     int           `name:"events" help:"P1: webhooks sent (default 20000)."`
	Clients    int           `name:"clients" help:"P1: keep-alive HTTP clients (default 64)."`
	Customers  int           `name:"customers" help:"P1: customers the webhooks spread over (default 2000)."`
	Route      string        `name:"route" enum:"c1,both" default:"c1" help:"P1: send every webhook to the C1 installation (c1), or alternate C1 and C2 (both; C2 is then bounded by Klaviyo's published limits, which the hub's client keeps)."`
	Batch      int           `name:"batch" help:"P1: rows per INSERT in the bare-insert baseline (default 128)."`
	Updates    int           `name:"updates" help:"P2: order updates in the burst (default 10000)."`
	GCustomers int           `name:"gorgias-customers" help:"P2: customers the updates spread over (default 2000)."`
	Window     time.Duration `name:"gorgias-window" help:"P2: Gorgias leaky-bucket window of the burst (default 2s, 10x the real 20s; 20s runs at the real rate, ~20 min)."`
	Rate       float64       `name:"rate" help:"P3: requests per second, open loop (default 200)."`
	Latency    time.Duration `name:"vendor-latency" help:"P3: fixed latency of the Konnektive and Shopify emulators (default 50ms)."`
	Requests   int           `name:"requests" help:"P3: requests per stream: hub and direct, for C3 and for C5 (default 3000)."`
	Orders     int           `name:"orders" help:"P4: generated Whiplash orders over 14 days (default 100000)."`
	Duration   time.Duration `name:"duration" help:"P5: idle window (default 60s)."`
	InProcess  bool          `name:"in-process" help:"Run the hub in this process instead of as a 'serve' child process (P5 then measures /proc/self, emulators included)."`
	Workers    int           `name:"workers" help:"Hub job workers (default 100, as serve)."`
	CPUProfile string        `name:"cpuprofile" type:"path" help:"P1, P3 and P5: write a CPU profile of the load phase or the idle window (runs the hub in this process, beside the load generator and emulators)."`
	Timeout    time.Duration `name:"timeout" help:"Bound on each benchmark (default 30m; smoke 2m)."`
}

func (c *benchCmd) Run(g *globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := bench.Options{ResultsDir: c.Results, DB: c.DB, Smoke: c.Smoke, Events: c.Events, Clients: c.Clients, Customers: c.Customers,
		Route: c.Route, BatchSize: c.Batch, Updates: c.Updates, GorgiasCustomers: c.GCustomers, GorgiasWindow: c.Window, Orders: c.Orders,
		WidgetRate: c.Rate, WidgetLatency: c.Latency, WidgetRequests: c.Requests,
		Duration: c.Duration, Workers: c.Workers, CPUProfile: c.CPUProfile, Timeout: c.Timeout, Out: os.Stdout, Logger: g.logger(os.Stderr)}
	if !c.InProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		opt.HubExe = exe
	}
	_, err := bench.Run(ctx, c.Name, opt)
	return err
}
