package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/metrics"
	"switchyard/internal/outbound"
)

// TestIdleFamilies: a hub that has seen no event already shows its build,
// its queue depth and its rate budgets.
func TestIdleFamilies(t *testing.T) {
	t.Parallel()
	m := metrics.New(func(context.Context) ([]domain.JobCount, error) { return nil, nil }, nil)
	m.SetBuildInfo("v1.2.3")
	m.WatchBudgets(func() []outbound.BudgetStatus {
		return []outbound.BudgetStatus{{Key: "gorgias:acme", Rate: 1.9, Burst: 36, Tokens: 36}}
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`switchyard_build_info{goversion="`, `version="v1.2.3"} 1`,
		"switchyard_queue_depth 0",
		"switchyard_rate_budgets 1",
		`switchyard_rate_budget_tokens{budget="gorgias:acme"} 36`,
		`switchyard_rate_budget_rate{budget="gorgias:acme"} 1.9`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
