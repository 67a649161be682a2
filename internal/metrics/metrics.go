// Package metrics holds switchyard's Prometheus collectors on a registry of
// their own (no package globals).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Metrics is the set of collectors.
type Metrics struct {
	Registry        *prometheus.Registry
	IngestTotal     *prometheus.CounterVec
	IngestLatency   *prometheus.HistogramVec
	DeliveriesTotal *prometheus.CounterVec
	DeliveryLatency *prometheus.HistogramVec
	DeadLetters     *prometheus.CounterVec
	Backfill        *prometheus.GaugeVec
	BuildInfo       *prometheus.GaugeVec
}

// New registers the collectors. jobCounts feeds the switchyard_jobs gauge at
// scrape time.
func New(jobCounts func(ctx context.Context) ([]domain.JobCount, error), logger *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		IngestTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_ingest_requests_total", Help: "Inbound webhook requests by vendor and result (accepted, duplicate, or an error code).",
		}, []string{"vendor", "result"}),
		IngestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_ingest_duration_seconds", Help: "Time from request to answer for inbound webhooks.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .03, .05, .1, .25, .5, 1, 2.5},
		}, []string{"vendor"}),
		DeliveriesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_deliveries_total", Help: "Outbound attempts by vendor, HTTP status (0 = no response) and class.",
		}, []string{"vendor", "status", "class"}),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_delivery_duration_seconds", Help: "Outbound attempt latency by vendor.",
			Buckets: prometheus.DefBuckets,
		}, []string{"vendor"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_dead_letters_total", Help: "Jobs dead-lettered, by job kind and class.",
		}, []string{"kind", "class"}),
		Backfill: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_backfill_progress", Help: "Backfill progress by installation and phase: items done and total.",
		}, []string{"installation", "phase", "measure"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_build_info", Help: "Always 1; labels name the build (version, commit, Go version).",
		}, []string{"version", "revision", "goversion"}),
	}
	m.SetBuildInfo("")
	reg.MustRegister(m.IngestTotal, m.IngestLatency, m.DeliveriesTotal, m.DeliveryLatency, m.DeadLetters, m.Backfill, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&jobsCollector{counts: jobCounts, logger: logger})
	return m
}

// SetBuildInfo labels switchyard_build_info with version (empty: the
// module's version), the VCS commit and the Go version.
func (m *Metrics) SetBuildInfo(version string) {
	revision, goversion := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goversion = bi.GoVersion
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "unknown"
	}
	m.BuildInfo.Reset()
	m.BuildInfo.WithLabelValues(version, revision, goversion).Set(1)
}

// WatchBudgets exports the rate budgets that status reports at scrape time:
// switchyard_rate_budgets (how many, also 0) and, per budget key, its
// tokens, rate, burst and remaining pause.
func (m *Metrics) WatchBudgets(status func() []outbound.BudgetStatus) {
	m.Registry.MustRegister(&budgetCollector{status: status})
}

// ObserveIngest records one webhook request.
func (m *Metrics) ObserveIngest(vendor, result string, d time.Duration) {
	m.IngestTotal.WithLabelValues(vendor, result).Inc()
	m.IngestLatency.WithLabelValues(vendor).Observe(d.Seconds())
}

// ObserveDelivery records one outbound attempt.
func (m *Metrics) ObserveDelivery(d *domain.Delivery) {
	m.DeliveriesTotal.WithLabelValues(d.Vendor, strconv.Itoa(d.Status), string(d.Class)).Inc()
	m.DeliveryLatency.WithLabelValues(d.Vendor).Observe(d.Latency.Seconds())
}

// ObserveDeadLetter records one dead letter.
func (m *Metrics) ObserveDeadLetter(dl *domain.DeadLetter) {
	m.DeadLetters.WithLabelValues(dl.JobKind, string(dl.Class)).Inc()
}

// ObserveBackfill records backfill progress.
func (m *Metrics) ObserveBackfill(installationID, phase string, done, total int) {
	m.Backfill.WithLabelValues(installationID, phase, "done").Set(float64(done))
	m.Backfill.WithLabelValues(installationID, phase, "total").Set(float64(total))
}

var (
	jobsDesc       = prometheus.NewDesc("switchyard_jobs", "Jobs in the queue by kind and state.", []string{"kind", "state"}, nil)
	queueDepthDesc = prometheus.NewDesc("switchyard_queue_depth", "Jobs not finished yet (available, scheduled, running, retryable or pending).", nil, nil)
)

type jobsCollector struct {
	counts func(ctx context.Context) ([]domain.JobCount, error)
	logger *slog.Logger
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc; ch <- queueDepthDesc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.counts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.counts(ctx)
	if err != nil {
		if c.logger != nil {
			c.logger.Warn("error counting jobs for metrics", slog.String("error", err.Error()))
		}
		return
	}
	depth := 0
	for _, jc := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(jc.Count), jc.Kind, jc.State)
		switch jc.State {
		case "available", "scheduled", "running", "retryable", "pending":
			depth += jc.Count
		}
	}
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(depth))
}

var (
	budgetsDesc      = prometheus.NewDesc("switchyard_rate_budgets", "Vendor rate budgets in use.", nil, nil)
	budgetTokensDesc = prometheus.NewDesc("switchyard_rate_budget_tokens", "Calls a rate budget allows at once now.", []string{"budget"}, nil)
	budgetRateDesc   = prometheus.NewDesc("switchyard_rate_budget_rate", "Sustained calls per second a rate budget allows.", []string{"budget"}, nil)
	budgetBurstDesc  = prometheus.NewDesc("switchyard_rate_budget_burst", "Size of a rate budget's bucket.", []string{"budget"}, nil)
	budgetPauseDesc  = prometheus.NewDesc("switchyard_rate_budget_paused_seconds", "Seconds a rate budget stays paused by a vendor's Retry-After (0: not paused).", []string{"budget"}, nil)
)

type budgetCollector struct {
	status func() []outbound.BudgetStatus
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{budgetsDesc, budgetTokensDesc, budgetRateDesc, budgetBurstDesc, budgetPauseDesc} {
		ch <- d
	}
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	sts := c.status()
	ch <- prometheus.MustNewConstMetric(budgetsDesc, prometheus.GaugeValue, float64(len(sts)))
	for _, st := range sts {
		paused := 0.0
		if !st.PausedUntil.IsZero() {
			paused = max(0, time.Until(st.PausedUntil).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(budgetTokensDesc, prometheus.GaugeValue, st.Tokens, st.Key)
		ch <- prometheus.MustNewConstMetric(budgetRateDesc, prometheus.GaugeValue, st.Rate, st.Key)
		ch <- prometheus.MustNewConstMetric(budgetBurstDesc, prometheus.GaugeValue, float64(st.Burst), st.Key)
		ch <- prometheus.MustNewConstMetric(budgetPauseDesc, prometheus.GaugeValue, paused, st.Key)
	}
}

// Handler serves the registry (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
