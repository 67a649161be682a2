package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/provider/whiplash"
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

// TestInstallationLifecycle: pending until an install succeeds (webhooks
// refused 409, nothing stored), active, degraded with a reason when the
// vendor rejects the credentials, active again after a repair.
func TestInstallationLifecycle(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	insts := "/api/v1/merchants/" + h.merchant + "/installations/"
	get := func() domain.Installation {
		var in domain.Installation
		h.api("GET", insts+h.c1, "", 200, &in)
		return in
	}
	events := func() int {
		var evs struct{ Events []domain.InboundEvent }
		h.api("GET", "/api/v1/merchants/"+h.merchant+"/events", "", 200, &evs)
		return len(evs.Events)
	}
	if in := get(); in.State != domain.InstallationPending {
		t.Fatalf("new installation is %s, want pending", in.State)
	}
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if code := h.postCode(h.c1, orderBody(t, 1, 1, "life@example.com", "Lee", 100, at)); code != http.StatusConflict {
		t.Fatalf("webhook to a pending installation = %d, want 409", code)
	}
	if n := events(); n != 0 {
		t.Fatalf("%d events stored for a pending installation", n)
	}

	// A failed install leaves it pending, with the reason.
	gconn := get().Connections["gorgias"]
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+gconn, `{"secrets":{"api_key":"wrong"}}`, 200, nil)
	code, raw := h.as(adminToken, "POST", insts+h.c1+"/install", "")
	if code == 200 {
		t.Fatalf("install with a wrong key succeeded: %s", raw)
	}
	if in := get(); in.State != domain.InstallationPending || !strings.Contains(in.StateReason, "install failed") {
		t.Fatalf("after a failed install: %s %q, want pending with the reason", in.State, in.StateReason)
	}

	// Installed: active, webhooks taken and processed.
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+gconn, fmt.Sprintf(`{"secrets":{"api_key":%q}}`, gorgiasemu.DefaultAPIKey), 200, nil)
	h.api("POST", insts+h.c1+"/install", "", 200, nil)
	if in := get(); in.State != domain.InstallationActive || in.StateReason != "" {
		t.Fatalf("after install: %s %q, want active", in.State, in.StateReason)
	}
	if err := h.post(h.c1, orderBody(t, 1, 1, "life@example.com", "Lee", 100, at)); err != nil {
		t.Fatal(err)
	}
	h.idle(time.Minute)
	if _, ok := h.gorgiasCustomers()["life@example.com"]; !ok {
		t.Fatal("the active installation's event never reached Gorgias")
	}

	// The vendor rejects the credentials: degraded, with the reason.
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+gconn, `{"secrets":{"api_key":"revoked"}}`, 200, nil)
	if err := h.post(h.c1, orderBody(t, 1, 1, "life@example.com", "Lee", 150, at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	h.idle(time.Minute)
	in := get()
	if in.State != domain.InstallationDegraded || !strings.Contains(in.StateReason, "auth failure") || !strings.Contains(in.StateReason, "401") {
		t.Fatalf("after a 401: %s %q, want degraded with the auth failure", in.State, in.StateReason)
	}
	// Degraded still takes webhooks (they dead-letter until the repair).
	if err := h.post(h.c1, orderBody(t, 2, 1, "life2@example.com", "Lou", 100, at)); err != nil {
		t.Fatalf("degraded installation refused a webhook: %v", err)
	}
	h.idle(time.Minute)

	// Repair: the right key and an install make it active again.
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+gconn, fmt.Sprintf(`{"secrets":{"api_key":%q}}`, gorgiasemu.DefaultAPIKey), 200, nil)
	h.api("POST", insts+h.c1+"/install", "", 200, nil)
	if in := get(); in.State != domain.InstallationActive || in.StateReason != "" {
		t.Fatalf("after the repair: %s %q, want active", in.State, in.StateReason)
	}
}

// postCode posts an order webhook and returns the status.
func (h *hub) postCode(inst string, body []byte) int {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/hooks/whiplash/"+inst, bytes.NewReader(body))
	req.Header.Set(whiplash.SignatureHeader, whiplash.Sign("whiplash-app-secret", body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestVendorRecoveryReleasesHeldWork: during a Gorgias outage (the
// emulator's outage fault, 503s) the syncs of that account are held after a
// few failures while one probe call every 2 s tests the vendor; when the
// outage ends the first successful probe releases them, and everything is
// delivered within seconds, with the default backoff (2 s doubling to a
// 10 min cap) that would otherwise leave jobs waiting tens of seconds.
func TestVendorRecoveryReleasesHeldWork(t *testing.T) {
	t.Parallel()
	const customers = 20
	const outage = 30 * time.Second
	h := startHub(t, time.Second, func(c *app.Config) { c.BackoffBase, c.BackoffCap = 0, 0 }) // the defaults
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	faults := func(body string) {
		resp, err := http.Post(h.gURL+"/_emulator/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("faults %s = %d", body, resp.StatusCode)
		}
	}
	faults(`{"outage":true}`)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	email := func(c int) string { return fmt.Sprintf("outage%d@example.com", c) }
	for c := 0; c < customers; c++ {
		if err := h.post(h.c1, orderBody(t, int64(3000+c), 1, email(c), fmt.Sprintf("Customer %d", c), 100, at)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(outage) // the outage itself
	faults(`{}`)
	ended := time.Now()
	deadline := ended.Add(15 * time.Second) // liveness bound: the backoff would leave some jobs ~30 s or more
	for {
		got := h.gorgiasCustomers()
		n := 0
		for c := 0; c < customers; c++ {
			if d := got[email(c)].Data.Whiplash; d != nil && len(d.Orders) == 1 {
				n++
			}
		}
		if n == customers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d customers delivered %v after the outage ended", n, customers, time.Since(ended).Round(100*time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d customers delivered %v after a %v outage ended",
		customers, time.Since(ended).Round(100*time.Millisecond), outage)
}
