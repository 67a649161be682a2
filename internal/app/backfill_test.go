package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
)

// TestBackfillRerunIsIdempotent: running the backfill twice leaves Klaviyo
// as after the first run (same profiles, same events); the second run sends
// no event again (a bulk request repeating a unique_id would fail whole).
func TestBackfillRerunIsIdempotent(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	launch := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if _, err := h.whiplash.Seed(whiplashemu.SeedOptions{Seed: 9, Orders: 1500, From: launch.Add(-13 * 24 * time.Hour), Days: 13}); err != nil {
		t.Fatal(err)
	}
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/backfill", "", 400, nil) // no launch date yet
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2, `{"settings":{"launch_date":"not a date"}}`, 400, nil)
	var in domain.Installation
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2, fmt.Sprintf(`{"settings":{"launch_date":%q}}`, launch.Format(time.DateOnly)), 200, &in)
	if in.Settings["launch_date"] != "2026-11-20" {
		t.Fatalf("settings = %v", in.Settings)
	}
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/install", "", 200, nil)
	first := h.waitBackfill(h.merchant, h.c2)
	st := h.klaviyo.State().Accounts[0]
	profiles, events := len(st.Profiles), len(st.Events)
	if events == 0 || profiles < 1000 || first.EventsSent != events {
		t.Fatalf("after the first run: %d profiles, %d events, %d sent (%+v)", profiles, events, first.EventsSent, first)
	}
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/backfill", "", 202, nil)
	second := h.waitBackfill(h.merchant, h.c2)
	st = h.klaviyo.State().Accounts[0]
	if len(st.Profiles) != profiles || len(st.Events) != events {
		t.Fatalf("re-run changed Klaviyo: %d→%d profiles, %d→%d events", profiles, len(st.Profiles), events, len(st.Events))
	}
	if second.EventsSent != 0 || second.EventsSkipped != events || second.Fetched != 1500 || second.Run == first.Run {
		t.Errorf("second run sent %d, skipped %d of %d events, fetched %d (%+v)", second.EventsSent, second.EventsSkipped, events, second.Fetched, second)
	}
	if failed := failedEventJobs(st); failed != 0 {
		t.Errorf("%d bulk event jobs failed", failed)
	}
	t.Logf("1500 orders: %d profiles, %d events; re-run skipped %d, sent %d", profiles, events, second.EventsSkipped, second.EventsSent)
}

// TestBackfillAfterLiveEventsLosesNone: orders that already had live events
// (some before the backfill, some while it runs) are backfilled without a
// bulk request repeating their unique ids, which Klaviyo would refuse whole:
// every (order, bucket) of the window ends in Klaviyo exactly once.
func TestBackfillAfterLiveEventsLosesNone(t *testing.T) {
	t.Parallel()
	const orders, liveBefore, liveDuring = 600, 150, 150
	h := startHub(t, time.Second)
	launch := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if _, err := h.whiplash.Seed(whiplashemu.SeedOptions{Seed: 11, Orders: orders, From: launch.Add(-13 * 24 * time.Hour), Days: 13}); err != nil {
		t.Fatal(err)
	}
	all := seededOrders(t, h.whiplash, orders)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/install", "", 200, nil)
	postOrders(t, h, all[:liveBefore])
	h.idle(2 * time.Minute)
	live := len(h.klaviyo.State().Accounts[0].Events)
	if live == 0 {
		t.Fatal("no live events: the test proves nothing")
	}

	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2, fmt.Sprintf(`{"settings":{"launch_date":%q}}`, launch.Format(time.DateOnly)), 200, nil)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/backfill", "", 202, nil)
	postOrders(t, h, all[liveBefore:liveBefore+liveDuring]) // while the backfill runs
	progress := h.waitBackfill(h.merchant, h.c2)
	h.idle(2 * time.Minute)

	want := map[string]bool{}
	for _, o := range all {
		for _, b := range whiplashklaviyo.Reached(&o) {
			want[whiplashklaviyo.UniqueID(strconv.FormatInt(o.StoreID(), 10), strconv.FormatInt(int64(o.ID), 10), b)] = true
		}
	}
	st := h.klaviyo.State().Accounts[0]
	got := map[string]int{}
	backfilled := 0
	for _, ev := range st.Events {
		got[ev.UniqueID]++
		if ev.Backfill {
			backfilled++
		}
	}
	missing := 0
	for id := range want {
		if got[id] != 1 {
			missing++
		}
	}
	if missing > 0 || len(st.Events) != len(want) {
		t.Errorf("Klaviyo has %d events (%d distinct), want %d; %d missing or repeated", len(st.Events), len(got), len(want), missing)
	}
	if failed := failedEventJobs(st); failed != 0 {
		t.Errorf("%d bulk event jobs failed (a repeated unique_id loses the whole job)", failed)
	}
	if progress.EventsSent != backfilled || progress.EventsSkipped == 0 || progress.Error != "" {
		t.Errorf("progress: sent %d (Klaviyo has %d backfilled), skipped %d, error %q", progress.EventsSent, backfilled, progress.EventsSkipped, progress.Error)
	}
	t.Logf("%d orders: %d events expected, %d live before the backfill; backfill sent %d, skipped %d; %d single events refused as duplicates",
		orders, len(want), live, progress.EventsSent, progress.EventsSkipped, st.DuplicateEvents)
}

// TestBackfillReadsEveryPageWhenServerCapsPerPage: a Whiplash that answers
// at most 37 orders a page, whatever per_page asks, is read to the end (a
// short page is not the end until /orders/count is reached).
func TestBackfillReadsEveryPageWhenServerCapsPerPage(t *testing.T) {
	t.Parallel()
	const orders, capped = 400, 37
	var h *hub // set below: the capping proxy must be allow-listed when the hub starts
	var pages atomic.Int64
	var asked sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/orders" {
			q := r.URL.Query()
			asked.Store(q.Get("per_page"), true)
			if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > capped {
				q.Set("per_page", strconv.Itoa(capped))
				r.URL.RawQuery = q.Encode()
			}
			pages.Add(1)
		}
		h.whiplash.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	h = startHub(t, time.Second, func(c *app.Config) { c.AllowVendorHosts = append(c.AllowVendorHosts, hostsOf(srv.URL)...) })
	launch := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	if _, err := h.whiplash.Seed(whiplashemu.SeedOptions{Seed: 12, Orders: orders, From: launch.Add(-13 * 24 * time.Hour), Days: 13}); err != nil {
		t.Fatal(err)
	}
	var m, wl, kl, in struct{ ID string }
	h.api("POST", "/api/v1/merchants", `{"name":"Capped"}`, 201, &m)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"whiplash-app-secret"}}`, srv.URL), 201, &wl)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"klaviyo","account":"capped","config":{"base_url":%q},"secrets":{"private_key":"pk_demo"}}`, h.kURL), 201, &kl)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q},"settings":{"launch_date":%q}}`, wl.ID, kl.ID, launch.Format(time.DateOnly)), 201, &in)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/installations/"+in.ID+"/install", "", 200, nil)
	p := h.waitBackfill(m.ID, in.ID)
	if p.Fetched != orders || p.Total == nil || *p.Total != orders {
		t.Errorf("fetched %d of %v orders, want %d", p.Fetched, p.Total, orders)
	}
	if _, ok := asked.Load(strconv.Itoa(whiplashklaviyo.BackfillPerPage)); !ok || whiplashklaviyo.BackfillPerPage != 50 {
		t.Errorf("per_page asked is not 50")
	}
	minPages := int64(orders/capped + 1)
	if n := pages.Load(); n < minPages || n > minPages+1 {
		t.Errorf("%d pages read, want %d (+1 empty)", n, minPages)
	}
	t.Logf("%d orders read in %d pages of ≤ %d", p.Fetched, pages.Load(), capped)
}

// seededOrders returns the emulator's first n orders.
func seededOrders(t *testing.T, wl *whiplashemu.Emulator, n int) []whiplash.Order {
	t.Helper()
	var out []whiplash.Order
	for id := int64(1); len(out) < n && id < 100000; id++ {
		var o whiplash.Order
		ok, err := wl.DecodeOrder(id, &o)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, o)
		}
	}
	if len(out) != n {
		t.Fatalf("found %d of %d seeded orders", len(out), n)
	}
	return out
}

// postOrders sends each order's current state as a signed webhook to C2.
func postOrders(t *testing.T, h *hub, orders []whiplash.Order) {
	t.Helper()
	for _, o := range orders {
		b, err := json.Marshal(map[string]any{"event_name": "order.status_changed", "order": o})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.post(h.c2, b); err != nil {
			t.Fatal(err)
		}
	}
}

func failedEventJobs(st klaviyoemu.AccountState) int {
	n := 0
	for _, j := range st.EventBulkJobs {
		if j.Status != klaviyoemu.EventJobComplete {
			n++
		}
	}
	return n
}

func (h *hub) waitBackfill(merchant, installation string) whiplashklaviyo.BackfillProgress {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct {
			Backfill whiplashklaviyo.BackfillProgress `json:"backfill"`
		}
		h.api("GET", "/api/v1/merchants/"+merchant+"/installations/"+installation+"/backfill", "", 200, &out)
		if out.Backfill.Phase == whiplashklaviyo.PhaseDone && out.Backfill.FinishedAt != nil {
			return out.Backfill
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backfill not done: %+v", out.Backfill)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
