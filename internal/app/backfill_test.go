package app_test

import (
	"fmt"
	"testing"
	"time"

	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
	whiplashemu "switchyard/internal/emulator/whiplash"
)

// TestBackfillRerunIsIdempotent: running the backfill twice leaves Klaviyo
// as after the first run (same profiles, same events); the second run's
// events are refused as duplicates by their unique ids.
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
	first := h.waitBackfill()
	st := h.klaviyo.State().Accounts[0]
	profiles, events := len(st.Profiles), len(st.Events)
	if events == 0 || profiles < 1000 {
		t.Fatalf("after the first run: %d profiles, %d events (%v)", profiles, events, first)
	}
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/backfill", "", 202, nil)
	second := h.waitBackfill()
	st = h.klaviyo.State().Accounts[0]
	if len(st.Profiles) != profiles || len(st.Events) != events {
		t.Fatalf("re-run changed Klaviyo: %d→%d profiles, %d→%d events", profiles, len(st.Profiles), events, len(st.Events))
	}
	if st.DuplicateEvents < events {
		t.Errorf("second run's events were not refused as duplicates: %d refused of %d", st.DuplicateEvents, events)
	}
	if first["events_sent"] != second["events_sent"] || second["fetched"] != "1500" {
		t.Errorf("runs differ: %v vs %v", first, second)
	}
	t.Logf("1500 orders: %d profiles, %d events; re-run refused %d duplicates", profiles, events, st.DuplicateEvents)
}

func (h *hub) waitBackfill() map[string]string {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct {
			Backfill map[string]string `json:"backfill"`
		}
		h.api("GET", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/backfill", "", 200, &out)
		if out.Backfill["phase"] == whiplashklaviyo.PhaseDone && out.Backfill["finished_at"] != "" {
			return out.Backfill
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("backfill not done: %v", out.Backfill)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
