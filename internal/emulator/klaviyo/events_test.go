package klaviyo

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestCreateEventUpsertsProfileAndMetric(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	r := h.do("POST", "/api/events", eventBody("Order shipped", "sam@example.com", map[string]any{"OrderId": "1030"},
		map[string]any{"unique_id": "w:1030:300", "value": 49.95, "value_currency": "USD", "time": "2026-11-20T10:04:05-05:00"})).want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Errorf("202 has a body: %s", r.body)
	}
	a := h.account()
	if len(a.Profiles) != 1 || a.Profiles[0].Email != "sam@example.com" {
		t.Fatalf("profiles = %+v", a.Profiles)
	}
	if len(a.Metrics) != 1 || a.Metrics[0].Name != "Order shipped" {
		t.Fatalf("metrics = %+v", a.Metrics)
	}
	ev := a.Events[0]
	if ev.ProfileID != a.Profiles[0].ID || ev.MetricID != a.Metrics[0].ID || ev.UniqueID != "w:1030:300" ||
		ev.Value == nil || *ev.Value != 49.95 || ev.Backfill || ev.Source != "api" ||
		!ev.Time.Equal(time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC)) || ev.Properties["OrderId"] != "1030" {
		t.Errorf("event = %+v", ev)
	}
	if lp := a.Profiles[0].LastEventDate; lp == nil || !lp.Equal(ev.Time) {
		t.Errorf("last_event_date = %v, want %v", lp, ev.Time)
	}
}

func TestEventDeduplication(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	send := func(metric, email string, extra map[string]any) {
		t.Helper()
		h.do("POST", "/api/events", eventBody(metric, email, map[string]any{}, extra)).want(t, http.StatusAccepted)
	}
	send("Order shipped", "a@example.com", map[string]any{"unique_id": "u1"})
	send("Order shipped", "a@example.com", map[string]any{"unique_id": "u1", "time": "2026-11-19T00:00:00Z"}) // dup: same id
	send("Order delivered", "a@example.com", map[string]any{"unique_id": "u1"})                               // other metric
	send("Order shipped", "b@example.com", map[string]any{"unique_id": "u1"})                                 // other profile
	// Without unique_id: one per profile, metric and second.
	send("Processing order", "a@example.com", map[string]any{"time": "2026-11-20T12:00:00.100Z"})
	send("Processing order", "a@example.com", map[string]any{"time": "2026-11-20T12:00:00.900Z"}) // dup: same second
	send("Processing order", "a@example.com", map[string]any{"time": "2026-11-20T12:00:01Z"})
	// Default time is now truncated to the second.
	send("Order cancelled", "a@example.com", nil)
	h.clock.Advance(300 * time.Millisecond)
	send("Order cancelled", "a@example.com", nil) // dup
	a := h.account()
	if len(a.Events) != 6 || a.DuplicateEvents != 3 {
		var names []string
		for _, e := range a.Events {
			names = append(names, e.Metric+"/"+e.UniqueID)
		}
		t.Errorf("events = %d %v, duplicates = %d; want 6 and 3", len(a.Events), names, a.DuplicateEvents)
	}
}

func TestCreateEventLimits(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	props := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprint("p", i)] = i
		}
		return m
	}
	tests := []struct {
		name string
		body any
		want int
	}{
		{"too many properties", eventBody("M", "a@example.com", props(MaxEventProperties+1), nil), 400},
		{"string over 100 KB", eventBody("M", "a@example.com", map[string]any{"x": strings.Repeat("x", MaxStringBytes+1)}, nil), 400},
		{"long metric name", eventBody(strings.Repeat("m", 128), "a@example.com", map[string]any{}, nil), 400},
		{"time before 1990", eventBody("M", "a@example.com", map[string]any{}, map[string]any{"time": "1989-12-31T00:00:00Z"}), 400},
		{"time over a year ahead", eventBody("M", "a@example.com", map[string]any{}, map[string]any{"time": "2028-01-01T00:00:00Z"}), 400},
		{"no identifier", eventBody("M", "", map[string]any{}, nil), 400},
		{"missing metric", map[string]any{"data": map[string]any{"type": "event", "attributes": map[string]any{"properties": map[string]any{}}}}, 400},
		{"at the property limit", eventBody("M", "a@example.com", props(MaxEventProperties), nil), 202},
	}
	for _, tt := range tests {
		if r := h.do("POST", "/api/events", tt.body); r.status != tt.want {
			t.Errorf("%s: status %d, want %d (%.200s)", tt.name, r.status, tt.want, r.body)
		}
	}
	if n := len(h.account().Events); n != 1 {
		t.Errorf("%d events stored, want only the valid one", n)
	}
}

func bulkEventsBody(backfill bool, perProfile map[string]int) map[string]any {
	var entries []any
	for email, n := range perProfile {
		var evs []any
		for i := range n {
			evs = append(evs, map[string]any{"type": "event", "attributes": map[string]any{
				"properties": map[string]any{"i": i}, "unique_id": fmt.Sprintf("%s:%d", email, i),
				"time":   "2026-11-10T00:00:00Z",
				"metric": map[string]any{"data": map[string]any{"type": "metric", "attributes": map[string]any{"name": "Order shipped"}}},
			}})
		}
		entries = append(entries, map[string]any{"type": "event-bulk-create", "attributes": map[string]any{
			"backfill": backfill,
			"profile":  map[string]any{"data": map[string]any{"type": "profile", "attributes": map[string]any{"email": email}}},
			"events":   map[string]any{"data": evs},
		}})
	}
	return map[string]any{"data": map[string]any{"type": "event-bulk-create-job", "attributes": map[string]any{
		"events-bulk-create": map[string]any{"data": entries},
	}}}
}

func TestBulkCreateEventsBackfill(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	h.do("POST", "/api/event-bulk-create-jobs", bulkEventsBody(true, map[string]int{"a@example.com": 3, "b@example.com": 2})).want(t, http.StatusAccepted)
	a := h.account()
	backfilled := 0
	for _, ev := range a.Events {
		if ev.Source != "bulk" {
			t.Errorf("event source = %q, want bulk", ev.Source)
		}
		if ev.Backfill {
			backfilled++
		}
	}
	if len(a.Events) != 5 || backfilled != 5 {
		t.Errorf("events %d backfilled %d, want 5, 5", len(a.Events), backfilled)
	}
	if len(a.EventBulkJobs) != 1 || a.EventBulkJobs[0].Backfill != 5 || a.EventBulkJobs[0].Status != EventJobComplete {
		t.Errorf("bulk jobs = %+v", a.EventBulkJobs)
	}
	if len(a.Profiles) != 2 {
		t.Errorf("profiles = %d, want 2", len(a.Profiles))
	}
	r := h.do("POST", "/api/event-bulk-create-jobs", bulkEventsBody(false, map[string]int{"a@example.com": 600, "c@example.com": 401}))
	if r.status != 400 || len(h.account().Profiles) != 2 {
		t.Errorf("1,001 events: status %d and %d profiles, want 400 and nothing written", r.status, len(h.account().Profiles))
	}
}

// TestBulkCreateEventsRepeatedUniqueIDFailsWhole: a bulk job that repeats a
// unique_id for the same profile and metric (against a stored event, or
// within the job) is answered 202 but processes nothing; its job says
// failed and names the repeated events. The single-event endpoint keeps
// "first one wins".
func TestBulkCreateEventsRepeatedUniqueIDFailsWhole(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	// Stored first, through the single-event endpoint.
	h.do("POST", "/api/events", eventBody("Order shipped", "a@example.com", map[string]any{}, map[string]any{"unique_id": "a@example.com:1"})).want(t, http.StatusAccepted)
	h.do("POST", "/api/events", eventBody("Order shipped", "a@example.com", map[string]any{}, map[string]any{"unique_id": "a@example.com:1"})).want(t, http.StatusAccepted)
	if a := h.account(); len(a.Events) != 1 || a.DuplicateEvents != 1 {
		t.Fatalf("single endpoint: %d events, %d duplicates; want first one wins", len(a.Events), a.DuplicateEvents)
	}
	// Against the stored event: a@example.com:1 repeats; b's events are new but not processed either.
	r := h.do("POST", "/api/event-bulk-create-jobs", bulkEventsBody(true, map[string]int{"a@example.com": 3, "b@example.com": 2})).want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Errorf("202 carries a body: %s", r.body)
	}
	job := h.eventJob(r)
	if job.attr("status") != EventJobFailed || fmt.Sprint(job.attr("completed_count")) != "0" || fmt.Sprint(job.attr("failed_count")) != "5" {
		t.Errorf("job = %s", job.body)
	}
	errs, _ := job.attr("errors").([]any)
	if len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "a@example.com:1") {
		t.Errorf("job errors = %v, want the one repeated unique_id", errs)
	}
	// Within the request: the same unique_id twice for one profile and metric.
	body := bulkEventsBody(true, map[string]int{"c@example.com": 2})
	evs := nested(asMap(nested(body, "data", "attributes", "events-bulk-create")["data"].([]any)[0]), "attributes", "events")["data"].([]any)
	nested(asMap(evs[1]), "attributes")["unique_id"] = nested(asMap(evs[0]), "attributes")["unique_id"]
	if job := h.eventJob(h.do("POST", "/api/event-bulk-create-jobs", body).want(t, http.StatusAccepted)); job.attr("status") != EventJobFailed {
		t.Errorf("repeat within the job: %s", job.body)
	}
	// The same unique_id on another metric or profile is no repeat.
	ok := bulkEventsBody(true, map[string]int{"b@example.com": 1})
	if job := h.eventJob(h.do("POST", "/api/event-bulk-create-jobs", ok).want(t, http.StatusAccepted)); job.attr("status") != EventJobComplete {
		t.Errorf("new events: %s", job.body)
	}
	a := h.account()
	if len(a.Events) != 2 || len(a.EventBulkJobs) != 3 {
		t.Errorf("%d events and %d jobs, want the stored one plus b's one, and 3 jobs", len(a.Events), len(a.EventBulkJobs))
	}
	if len(a.Profiles) != 2 {
		t.Errorf("%d profiles: a failed job created profiles", len(a.Profiles))
	}
}

// eventJob reads the job a bulk create answer points at.
func (h *harness) eventJob(r *resp) *resp {
	h.t.Helper()
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Path == "" {
		h.t.Fatalf("no job Location: %q", r.header.Get("Location"))
	}
	return h.do("GET", loc.Path, nil).want(h.t, http.StatusOK)
}
