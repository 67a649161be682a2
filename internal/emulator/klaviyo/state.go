package klaviyo

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// State is the JSON dump served at GET /_emulator/state (under "state").
type State struct {
	Accounts []AccountState `json:"accounts"`
	// Calls counts API calls per route ("POST /api/events"), including
	// refused ones.
	Calls map[string]int `json:"calls"`
	// RateLimited counts 429 answers (windows and injected faults).
	RateLimited int        `json:"rate_limited"`
	OAuth       OAuthState `json:"oauth"`
}

// OAuthState counts live OAuth artefacts (never their values).
type OAuthState struct {
	Codes         int `json:"codes"`
	AccessTokens  int `json:"access_tokens"`
	RefreshTokens int `json:"refresh_tokens"`
}

// AccountState is one account's data.
type AccountState struct {
	ID                string               `json:"id"`
	Name              string               `json:"name"`
	Profiles          []ProfileState       `json:"profiles"`
	Lists             []ListState          `json:"lists"`
	Metrics           []MetricState        `json:"metrics"`
	Events            []EventState         `json:"events"`
	DuplicateEvents   int                  `json:"duplicate_events"`
	ProfileImportJobs []ImportJobState     `json:"profile_import_jobs"`
	EventBulkJobs     []*EventBulkJobState `json:"event_bulk_jobs"`
}

// ProfileState is a stored profile with its list memberships.
type ProfileState struct {
	ID            string            `json:"id"`
	Email         string            `json:"email,omitempty"`
	PhoneNumber   string            `json:"phone_number,omitempty"`
	ExternalID    string            `json:"external_id,omitempty"`
	FirstName     string            `json:"first_name,omitempty"`
	LastName      string            `json:"last_name,omitempty"`
	Organization  string            `json:"organization,omitempty"`
	Attributes    map[string]string `json:"attributes"`
	Location      map[string]any    `json:"location"`
	Properties    map[string]any    `json:"properties"`
	Lists         []string          `json:"lists"`
	Created       time.Time         `json:"created"`
	Updated       time.Time         `json:"updated"`
	LastEventDate *time.Time        `json:"last_event_date,omitempty"`
}

// ListState is a list and its members.
type ListState struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	OptInProcess string    `json:"opt_in_process"`
	Created      time.Time `json:"created"`
	ProfileIDs   []string  `json:"profile_ids"`
}

// MetricState is a metric created by events.
type MetricState struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// EventState is a recorded (not deduplicated) event.
type EventState struct {
	ID            string         `json:"id"`
	Metric        string         `json:"metric"`
	MetricID      string         `json:"metric_id"`
	ProfileID     string         `json:"profile_id"`
	UniqueID      string         `json:"unique_id,omitempty"`
	Time          time.Time      `json:"time"`
	Value         *float64       `json:"value,omitempty"`
	ValueCurrency string         `json:"value_currency,omitempty"`
	Properties    map[string]any `json:"properties"`
	Backfill      bool           `json:"backfill"`
	// Source is "api" (POST /api/events) or "bulk" (event-bulk-create-jobs).
	Source   string    `json:"source"`
	Received time.Time `json:"received"`
}

// ImportJobState is a bulk profile import job.
type ImportJobState struct {
	ID             string             `json:"id"`
	Status         string             `json:"status"`
	TotalCount     int                `json:"total_count"`
	CompletedCount int                `json:"completed_count"`
	FailedCount    int                `json:"failed_count"`
	Lists          []string           `json:"lists"`
	ProfileIDs     []string           `json:"profile_ids"`
	Errors         []ImportErrorState `json:"errors"`
	Created        time.Time          `json:"created"`
	Started        *time.Time         `json:"started,omitempty"`
	Completed      *time.Time         `json:"completed,omitempty"`
}

// ImportErrorState is one failed row of a bulk import.
type ImportErrorState struct {
	ID              string         `json:"id"`
	Code            string         `json:"code"`
	Title           string         `json:"title"`
	Detail          string         `json:"detail"`
	Pointer         string         `json:"pointer"`
	OriginalPayload map[string]any `json:"original_payload"`
}

// Event bulk job statuses (emulator choice: the contract documents no job
// resource for bulk event creation; see docs/assumptions/klaviyo.md).
const (
	EventJobComplete = "complete"
	EventJobFailed   = "failed"
)

// EventBulkJobState records one POST /api/event-bulk-create-jobs.
type EventBulkJobState struct {
	ID       string    `json:"id"`
	Received time.Time `json:"received"`
	// Status is complete, or failed when a unique_id repeated (then
	// nothing was processed and Errors says which events).
	Status       string          `json:"status"`
	Total        int             `json:"total"`
	Profiles     int             `json:"profiles"`
	Events       int             `json:"events"`
	Deduplicated int             `json:"deduplicated"`
	Backfill     int             `json:"backfill"`
	Failed       int             `json:"failed"`
	Errors       []JobErrorState `json:"errors,omitempty"`
}

// JobErrorState is one error of a failed event bulk job.
type JobErrorState struct {
	Code    string `json:"code"`
	Title   string `json:"title"`
	Detail  string `json:"detail"`
	Pointer string `json:"pointer"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// State returns a snapshot of every account (bulk jobs advanced to now).
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advanceJobsLocked(e.cfg.Now())
	st := State{Calls: map[string]int{}, RateLimited: e.throttled,
		OAuth: OAuthState{Codes: len(e.codes), AccessTokens: len(e.access), RefreshTokens: len(e.refresh)}}
	for k, v := range e.calls {
		st.Calls[k] = v
	}
	for _, id := range e.acctOrder {
		st.Accounts = append(st.Accounts, e.accountState(e.accounts[id]))
	}
	return st
}

// Account returns the state of one account (false when unknown).
func (e *Emulator) Account(id string) (AccountState, bool) {
	for _, a := range e.State().Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return AccountState{}, false
}

func (e *Emulator) accountState(a *account) AccountState {
	as := AccountState{ID: a.id, Name: a.name, DuplicateEvents: a.dupEvents,
		Profiles: []ProfileState{}, Lists: []ListState{}, Metrics: []MetricState{}, Events: []EventState{},
		ProfileImportJobs: []ImportJobState{}, EventBulkJobs: append([]*EventBulkJobState{}, a.eventJobs...)}
	for _, id := range a.profOrder {
		p := a.profiles[id]
		attrs := map[string]string{}
		for k, v := range p.attrs {
			attrs[k] = v
		}
		as.Profiles = append(as.Profiles, ProfileState{
			ID: p.id, Email: p.attrs["email"], PhoneNumber: p.attrs["phone_number"], ExternalID: p.attrs["external_id"],
			FirstName: p.attrs["first_name"], LastName: p.attrs["last_name"], Organization: p.attrs["organization"],
			Attributes: attrs, Location: cloneMap(p.location), Properties: cloneMap(p.properties), Lists: a.listsOf(p.id),
			Created: p.created, Updated: p.updated, LastEventDate: timePtr(p.lastEvent),
		})
	}
	for _, id := range a.listOrder {
		l := a.lists[id]
		members := make([]string, 0, len(l.members))
		for pid := range l.members {
			members = append(members, pid)
		}
		sort.Strings(members)
		as.Lists = append(as.Lists, ListState{ID: l.id, Name: l.name, OptInProcess: l.optIn, Created: l.created, ProfileIDs: members})
	}
	for _, name := range a.metricOrder {
		m := a.metrics[name]
		as.Metrics = append(as.Metrics, MetricState{ID: m.id, Name: m.name})
	}
	for _, ev := range a.events {
		es := ev.EventState
		es.Properties = cloneMap(ev.Properties)
		as.Events = append(as.Events, es)
	}
	for _, id := range a.importOrder {
		j := a.importJobs[id]
		as.ProfileImportJobs = append(as.ProfileImportJobs, ImportJobState{
			ID: j.id, Status: j.status, TotalCount: len(j.rows), CompletedCount: j.ok, FailedCount: j.failed,
			Lists: append([]string{}, j.lists...), ProfileIDs: append([]string{}, j.profiles...),
			Errors: append([]ImportErrorState{}, j.errors...), Created: j.created,
			Started: timePtr(j.started), Completed: timePtr(j.completed),
		})
	}
	return as
}

// cloneMap deep-copies a JSON-like map so snapshots do not alias state.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	b, _ := json.Marshal(m)
	out := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// controlSeed handles POST /_emulator/seed
// {"account":"…","profiles":N,"lists":["name",…]}: N generated profiles
// (emukit.Fake, deterministic from the seed) and empty lists.
func (e *Emulator) controlSeed(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Account  string   `json:"account"`
		Profiles int      `json:"profiles"`
		Lists    []string `json:"lists"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	if req.Profiles < 0 || req.Profiles > 100000 {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "profiles must be in [0, 100000]"})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if req.Account == "" {
		req.Account = e.cfg.AccountID
	}
	a, ok := e.accounts[req.Account]
	if !ok {
		emukit.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown account " + req.Account})
		return
	}
	now := e.cfg.Now()
	fake := emukit.NewFake(e.cfg.Seed + uint64(len(a.profOrder)))
	created := map[string][]string{"profiles": {}, "lists": {}}
	for i := 0; i < req.Profiles; i++ {
		person := fake.Person(len(a.profOrder) + i)
		attrs := map[string]any{
			"email": person.Email, "first_name": person.FirstName, "last_name": person.LastName,
			"location": map[string]any{"address1": person.Address1, "city": person.City, "region": person.State, "zip": person.Zip, "country": person.Country},
		}
		if person.Company != "" {
			attrs["organization"] = person.Company
		}
		if len(a.resolve(attrs)) > 0 {
			continue
		}
		p := e.newProfileLocked(a, now)
		a.apply(p, attrs, nil, now)
		created["profiles"] = append(created["profiles"], p.id)
	}
	for _, name := range req.Lists {
		l := &list{id: e.shortIDLocked(6), name: name, optIn: e.cfg.DefaultOptInProcess, created: now, updated: now, members: map[string]time.Time{}}
		a.lists[l.id] = l
		a.listOrder = append(a.listOrder, l.id)
		created["lists"] = append(created["lists"], l.id)
	}
	emukit.WriteJSON(w, http.StatusOK, created)
}
