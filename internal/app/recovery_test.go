package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	gorgiasemu "switchyard/internal/emulator/gorgias"
)

// drainGorgias fills the emulator's bucket of the default API key, as the
// calls of a process that just died would have.
func drainGorgias(t *testing.T, h *hub) {
	t.Helper()
	for i := 0; i < 60; i++ {
		req, _ := http.NewRequest("GET", h.gURL+"/api/customers?limit=1", nil)
		req.SetBasicAuth(gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return
		}
	}
	t.Fatal("the Gorgias bucket never filled")
}

// TestRestartWithDrainedGorgiasBucketCausesNo429: the hub starts while the
// vendor's bucket is still full of a previous process's calls; a burst of
// syncs right away gets no 429, because the hub's buckets start empty.
func TestRestartWithDrainedGorgiasBucketCausesNo429(t *testing.T) {
	t.Parallel()
	const customers = 10
	var drainedThrottles int64
	h := startHubAfter(t, 10*time.Second, func(h *hub) {
		drainGorgias(t, h)
		_, drainedThrottles = h.gorgiasCalls()
	})
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for c := 0; c < customers; c++ {
		if err := h.post(h.c1, orderBody(t, int64(2000+c), 1, fmt.Sprintf("restart%d@example.com", c), fmt.Sprintf("Customer %d", c), 100, base)); err != nil {
			t.Fatal(err)
		}
	}
	h.idle(2 * time.Minute)
	calls, throttled := h.gorgiasCalls()
	t.Logf("after the restart: %d Gorgias calls, %d answered 429", calls, throttled-drainedThrottles)
	if throttled != drainedThrottles {
		t.Errorf("Gorgias answered 429 %d times after the restart", throttled-drainedThrottles)
	}
	if n := len(h.gorgiasCustomers()); n != customers {
		t.Errorf("%d customers in Gorgias, want %d", n, customers)
	}
}

// TestRateLimitsOmitsPauseOfUnpausedBudgets: GET /api/v1/rate-limits shows
// paused_until only for a paused budget (it read "0001-01-01" for all).
func TestRateLimitsOmitsPauseOfUnpausedBudgets(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	var out struct {
		Budgets []map[string]json.RawMessage `json:"budgets"`
	}
	h.api("GET", "/api/v1/rate-limits", "", 200, &out)
	if len(out.Budgets) == 0 {
		t.Fatal("no budget after an install call")
	}
	for _, b := range out.Budgets {
		if p, ok := b["paused_until"]; ok {
			t.Errorf("budget %s is not paused but shows paused_until %s", b["key"], p)
		}
	}
}
