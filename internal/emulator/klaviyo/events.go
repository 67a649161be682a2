package klaviyo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// eventInput is one event after validation.
type eventInput struct {
	metric        string
	properties    map[string]any
	t             time.Time
	value         *float64
	valueCurrency string
	uniqueID      string
	backfill      bool
}

// createEvent is POST /api/events: 202 with no body.
func (e *Emulator) createEvent(c *call) (int, any, error) {
	if err := checkStrings(c.body, ""); err != nil {
		return 0, nil, err
	}
	_, attrs, _ := dataObject(c.body)
	in, err := parseEvent(attrs, "/data/attributes", c.now, false)
	if err != nil {
		return 0, nil, err
	}
	profData := nested(attrs, "profile", "data")
	p, err := e.eventProfileLocked(c.acct, profData, "/data/attributes/profile/data", c.now)
	if err != nil {
		return 0, nil, err
	}
	e.recordEventLocked(c.acct, p, in, "api", c.now)
	return http.StatusAccepted, nil, nil
}

// bulkCreateEvents is POST /api/event-bulk-create-jobs: 202 with no body
// (the contract documents none). The emulator processes the job at once
// and records it in the state. A unique_id repeated for the same profile
// and metric, within the request or against an event already stored, fails
// the whole job: nothing is processed (the contract: "the request will fail
// and no events will be processed"). The 202 does not say so; the failure
// is on the job, read through the emulator's job route (Location header;
// see getEventBulkJob and docs/assumptions/klaviyo.md).
func (e *Emulator) bulkCreateEvents(c *call) (int, any, error) {
	if err := checkStrings(c.body, ""); err != nil {
		return 0, nil, err
	}
	_, attrs, _ := dataObject(c.body)
	entries, _ := nested(attrs, "events-bulk-create")["data"].([]any)
	total := 0
	for _, en := range entries {
		evs, _ := nested(asMap(en), "attributes", "events")["data"].([]any)
		total += len(evs)
	}
	if total > MaxBulkEvents {
		return 0, nil, invalid("/data/attributes/events-bulk-create/data", "A bulk create job accepts at most %d events; got %d.", MaxBulkEvents, total)
	}
	// Validate everything before writing anything: a 4xx leaves no trace.
	var todo []bulkEntry
	for i, en := range entries {
		ptr := "/data/attributes/events-bulk-create/data/" + strconv.Itoa(i) + "/attributes"
		ea := nested(asMap(en), "attributes")
		entryBackfill, _ := ea["backfill"].(bool)
		pd := nested(ea, "profile", "data")
		if err := checkEventProfile(pd, ptr+"/profile/data"); err != nil {
			return 0, nil, err
		}
		be := bulkEntry{profile: pd, ptr: ptr}
		evs, _ := nested(ea, "events")["data"].([]any)
		for j, ev := range evs {
			in, err := parseEvent(nested(asMap(ev), "attributes"), ptr+"/events/data/"+strconv.Itoa(j)+"/attributes", c.now, entryBackfill)
			if err != nil {
				return 0, nil, err
			}
			be.events = append(be.events, in)
		}
		todo = append(todo, be)
	}
	job := &EventBulkJobState{ID: e.ulidLocked(c.now), Received: c.now, Profiles: len(todo), Total: total, Status: EventJobComplete}
	c.acct.eventJobs = append(c.acct.eventJobs, job)
	c.header().Set("Location", c.linkTo("/api/event-bulk-create-jobs/"+job.ID))
	if errs := repeatedUniqueIDs(c.acct, todo); len(errs) > 0 {
		job.Status, job.Errors, job.Failed = EventJobFailed, errs, total
		return http.StatusAccepted, nil, nil
	}
	for _, be := range todo {
		p, err := e.eventProfileLocked(c.acct, be.profile, be.ptr+"/profile/data", c.now)
		if err != nil {
			// Two profiles matched: the emulator counts the entry as failed.
			job.Failed += len(be.events)
			continue
		}
		for _, in := range be.events {
			job.Events++
			if in.backfill {
				job.Backfill++
			}
			if !e.recordEventLocked(c.acct, p, in, "bulk", c.now) {
				job.Deduplicated++ // same second without a unique_id
			}
		}
	}
	return http.StatusAccepted, nil, nil
}

// bulkEntry is one profile's events in a bulk create job, validated.
type bulkEntry struct {
	profile map[string]any
	events  []eventInput
	ptr     string
}

// repeatedUniqueIDs lists the events whose unique_id repeats one for the
// same profile and metric, earlier in the job or already stored.
func repeatedUniqueIDs(a *account, entries []bulkEntry) []JobErrorState {
	var errs []JobErrorState
	seen := map[string]bool{}
	for _, be := range entries {
		who, stored := bulkProfileKey(a, be.profile)
		for j, in := range be.events {
			if in.uniqueID == "" {
				continue
			}
			k := who + "|" + in.metric + "|" + in.uniqueID
			dup := seen[k]
			if m, ok := a.metrics[in.metric]; ok && stored != "" && !dup {
				_, dup = a.dedup[stored+"|"+m.id+"|u:"+in.uniqueID]
			}
			seen[k] = true
			if dup {
				errs = append(errs, JobErrorState{Code: "duplicate_unique_id", Title: "Duplicate unique_id.",
					Detail:  fmt.Sprintf("The unique_id %q is repeated for the same profile and metric %q; no events were processed.", in.uniqueID, in.metric),
					Pointer: be.ptr + "/events/data/" + strconv.Itoa(j) + "/attributes/unique_id"})
			}
		}
	}
	return errs
}

// bulkProfileKey names the profile an entry will write to without creating
// it: the stored profile's id (also returned as stored), else its
// identifiers.
func bulkProfileKey(a *account, data map[string]any) (key, stored string) {
	if id, _ := data["id"].(string); id != "" {
		return id, id
	}
	attrs := nested(data, "attributes")
	if m := a.resolve(attrs); len(m) > 0 {
		return m[0], m[0]
	}
	em, ph, ex := identifiers(attrs)
	return "new:" + strings.ToLower(em) + "|" + ph + "|" + ex, ""
}

// getEventBulkJob is GET /api/event-bulk-create-jobs/{job_id}: an emulator
// extension (the contract has no read route for these jobs), shaped like a
// profile bulk import job plus errors[].
func (e *Emulator) getEventBulkJob(c *call) (int, any, error) {
	id := c.r.PathValue("job_id")
	for _, j := range c.acct.eventJobs {
		if j.ID != id {
			continue
		}
		errs := make([]any, 0, len(j.Errors))
		for _, je := range j.Errors {
			errs = append(errs, map[string]any{"code": je.Code, "title": je.Title, "detail": je.Detail, "source": map[string]any{"pointer": je.Pointer}})
		}
		self := c.linkTo("/api/event-bulk-create-jobs/" + j.ID)
		return http.StatusOK, map[string]any{"data": map[string]any{
			"type": "event-bulk-create-job", "id": j.ID,
			"attributes": map[string]any{
				"status": j.Status, "total_count": j.Total, "completed_count": j.Events - j.Deduplicated, "failed_count": j.Failed,
				"created_at": formatTime(j.Received), "completed_at": formatTime(j.Received), "errors": errs,
			},
			"links": map[string]any{"self": self},
		}, "links": map[string]any{"self": self}}, nil
	}
	return 0, nil, notFound("A bulk create job with id %s does not exist.", id)
}

// parseEvent checks one event's attributes (metric name, properties count,
// time range) and applies defaults.
func parseEvent(attrs map[string]any, ptr string, now time.Time, defaultBackfill bool) (eventInput, error) {
	var in eventInput
	in.metric, _ = nested(attrs, "metric", "data", "attributes")["name"].(string)
	if in.metric == "" {
		return in, invalid(ptr+"/metric/data/attributes/name", "The metric name is required.")
	}
	if len([]rune(in.metric)) > MaxMetricNameLen {
		return in, invalid(ptr+"/metric/data/attributes/name", "The metric name must be under 128 characters.")
	}
	in.properties, _ = attrs["properties"].(map[string]any)
	if in.properties == nil {
		in.properties = map[string]any{}
	}
	if len(in.properties) > MaxEventProperties {
		return in, invalid(ptr+"/properties", "An event may have at most %d properties; got %d.", MaxEventProperties, len(in.properties))
	}
	in.t = now.Truncate(time.Second)
	if s, ok := attrs["time"].(string); ok && s != "" {
		t, err := contract.ParseTime(s)
		if err != nil {
			return in, invalid(ptr+"/time", "Invalid date-time %q.", s)
		}
		if !t.After(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)) || t.After(now.AddDate(1, 0, 0)) {
			return in, invalid(ptr+"/time", "The event time must be after 1990 and no more than 1 year in the future.")
		}
		in.t = t
	}
	if n, ok := attrs["value"].(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return in, invalid(ptr+"/value", "Invalid number %s.", n)
		}
		in.value = &f
	}
	in.valueCurrency, _ = attrs["value_currency"].(string)
	in.uniqueID, _ = attrs["unique_id"].(string)
	in.backfill = defaultBackfill
	if b, ok := attrs["backfill"].(bool); ok {
		in.backfill = b
	}
	return in, nil
}

// checkEventProfile validates an event's profile: at least one identifier
// and well-formed email/phone.
func checkEventProfile(data map[string]any, ptr string) error {
	attrs := nested(data, "attributes")
	if id, _ := data["id"].(string); id == "" && !hasIdentifier(attrs) {
		return invalid(ptr, "The profile needs at least one identifier (id, email, phone_number, external_id, anonymous_id or _kx).")
	}
	return checkIdentifiers(attrs, ptr+"/attributes")
}

// eventProfileLocked finds or creates the event's profile and applies its
// attributes. Events are lenient: when the identifiers match two profiles,
// the one matched first (email, then phone, then external id) is used.
func (e *Emulator) eventProfileLocked(a *account, data map[string]any, ptr string, now time.Time) (*profile, error) {
	if err := checkEventProfile(data, ptr); err != nil {
		return nil, err
	}
	attrs := nested(data, "attributes")
	meta := nested(attrs, "meta") // create_event puts meta in attributes,
	if len(meta) == 0 {           // bulk entries next to them
		meta = nested(data, "meta")
	}
	if id, _ := data["id"].(string); id != "" {
		p, ok := a.profiles[id]
		if !ok {
			return nil, invalid(ptr+"/id", "A profile with id %s does not exist.", id)
		}
		a.apply(p, withoutTaken(a, p.id, attrs), meta, now)
		return p, nil
	}
	matches := a.resolve(attrs)
	var p *profile
	if len(matches) == 0 {
		p = e.newProfileLocked(a, now)
	} else {
		p = a.profiles[matches[0]]
	}
	a.apply(p, withoutTaken(a, p.id, attrs), meta, now)
	return p, nil
}

// withoutTaken drops identifiers that belong to another profile, so an
// event never steals an identifier.
func withoutTaken(a *account, id string, attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	for _, k := range []string{"email", "phone_number", "external_id"} {
		s, _ := out[k].(string)
		if s == "" {
			continue
		}
		if owner := a.resolve(map[string]any{k: s}); len(owner) > 0 && owner[0] != id {
			delete(out, k)
		}
	}
	return out
}

// recordEventLocked stores an event unless it duplicates one already
// recorded for the same profile and metric (same unique_id, or without one
// the same second). It reports whether the event was stored.
func (e *Emulator) recordEventLocked(a *account, p *profile, in eventInput, source string, now time.Time) bool {
	m := e.metricLocked(a, in.metric, now)
	key := p.id + "|" + m.id + "|"
	if in.uniqueID != "" {
		key += "u:" + in.uniqueID
	} else {
		key += "t:" + strconv.FormatInt(in.t.Unix(), 10)
	}
	if _, dup := a.dedup[key]; dup {
		a.dupEvents++
		return false
	}
	ev := &event{EventState{
		ID: e.shortIDLocked(12), Metric: m.name, MetricID: m.id, ProfileID: p.id, UniqueID: in.uniqueID,
		Time: in.t, Value: in.value, ValueCurrency: in.valueCurrency, Properties: in.properties,
		Backfill: in.backfill, Source: source, Received: now,
	}}
	a.dedup[key] = ev.ID
	a.events = append(a.events, ev)
	if in.t.After(p.lastEvent) {
		p.lastEvent = in.t
	}
	return true
}

// checkStrings enforces the 100 KB limit on every string in the document.
func checkStrings(v any, ptr string) error {
	switch x := v.(type) {
	case string:
		if len(x) > MaxStringBytes {
			return invalid(ptr, "A string may not exceed %d bytes.", MaxStringBytes)
		}
	case map[string]any:
		for k, y := range x {
			if err := checkStrings(y, ptr+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		for i, y := range x {
			if err := checkStrings(y, fmt.Sprintf("%s/%d", ptr, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// nested walks objects by key; missing steps give an empty object.
func nested(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return map[string]any{}
		}
		m = next
	}
	if m == nil {
		return map[string]any{}
	}
	return m
}
