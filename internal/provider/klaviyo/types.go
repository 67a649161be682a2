package klaviyo

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// String returns a pointer to s, for optional attributes.
func String(s string) *string { return &s }

// Float returns a pointer to f, for optional numbers.
func Float(f float64) *float64 { return &f }

// ProfileAttributes are a profile's writable attributes. A nil field is left
// out of the request (Klaviyo keeps the stored value); to clear a field, name
// it in Clear, which sends it as null. Decoded profiles have nil for absent
// or null attributes.
type ProfileAttributes struct {
	Email        *string
	PhoneNumber  *string
	ExternalID   *string
	FirstName    *string
	LastName     *string
	Organization *string
	Title        *string
	Image        *string
	Locale       *string
	Location     *Location
	// Properties are custom properties; Klaviyo merges them key by key.
	Properties map[string]any
	// Clear lists attributes to send as null: JSON names such as
	// "organization", "location" or "properties", or "location.<field>"
	// (e.g. "location.address2").
	Clear []string
}

// Location is a profile's address. Nil fields are left out.
type Location struct {
	Address1  *string
	Address2  *string
	City      *string
	Country   *string
	Region    *string
	Zip       *string
	Timezone  *string
	IP        *string
	Latitude  *float64
	Longitude *float64
}

func (l *Location) fields() map[string]any {
	m := map[string]any{}
	put := func(k string, v *string) {
		if v != nil {
			m[k] = *v
		}
	}
	put("address1", l.Address1)
	put("address2", l.Address2)
	put("city", l.City)
	put("country", l.Country)
	put("region", l.Region)
	put("zip", l.Zip)
	put("timezone", l.Timezone)
	put("ip", l.IP)
	if l.Latitude != nil {
		m["latitude"] = *l.Latitude
	}
	if l.Longitude != nil {
		m["longitude"] = *l.Longitude
	}
	return m
}

// locationFields are the documented ProfileLocation fields.
var locationFields = []string{"address1", "address2", "city", "country", "region", "zip", "timezone", "ip", "latitude", "longitude"}

// MarshalJSON writes the attributes object: set fields, plus null for every
// name in Clear.
func (a ProfileAttributes) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	put := func(k string, v *string) {
		if v != nil {
			m[k] = *v
		}
	}
	put("email", a.Email)
	put("phone_number", a.PhoneNumber)
	put("external_id", a.ExternalID)
	put("first_name", a.FirstName)
	put("last_name", a.LastName)
	put("organization", a.Organization)
	put("title", a.Title)
	put("image", a.Image)
	put("locale", a.Locale)
	var loc map[string]any
	if a.Location != nil {
		loc = a.Location.fields()
	}
	if len(a.Properties) > 0 {
		m["properties"] = a.Properties
	}
	for _, c := range a.Clear {
		f, ok := strings.CutPrefix(c, "location.")
		switch {
		case ok:
			if loc == nil {
				loc = map[string]any{}
			}
			loc[f] = nil
		case c == "location":
			// The contract declares location as a $ref with a "nullable"
			// sibling, which OpenAPI 3.0 tools ignore; clearing every
			// field means the same and validates everywhere.
			loc = map[string]any{}
			for _, k := range locationFields {
				loc[k] = nil
			}
		default:
			m[c] = nil
		}
	}
	if loc != nil {
		m["location"] = loc
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a profile's attributes tolerantly (unknown fields
// ignored; latitude and longitude as numbers or strings).
func (a *ProfileAttributes) UnmarshalJSON(b []byte) error {
	var w struct {
		Email        *string        `json:"email"`
		PhoneNumber  *string        `json:"phone_number"`
		ExternalID   *string        `json:"external_id"`
		FirstName    *string        `json:"first_name"`
		LastName     *string        `json:"last_name"`
		Organization *string        `json:"organization"`
		Title        *string        `json:"title"`
		Image        *string        `json:"image"`
		Locale       *string        `json:"locale"`
		Properties   map[string]any `json:"properties"`
		Location     *struct {
			Address1  *string   `json:"address1"`
			Address2  *string   `json:"address2"`
			City      *string   `json:"city"`
			Country   *string   `json:"country"`
			Region    *string   `json:"region"`
			Zip       *string   `json:"zip"`
			Timezone  *string   `json:"timezone"`
			IP        *string   `json:"ip"`
			Latitude  flexFloat `json:"latitude"`
			Longitude flexFloat `json:"longitude"`
		} `json:"location"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = ProfileAttributes{Email: w.Email, PhoneNumber: w.PhoneNumber, ExternalID: w.ExternalID, FirstName: w.FirstName,
		LastName: w.LastName, Organization: w.Organization, Title: w.Title, Image: w.Image, Locale: w.Locale, Properties: w.Properties}
	if l := w.Location; l != nil {
		a.Location = &Location{Address1: l.Address1, Address2: l.Address2, City: l.City, Country: l.Country, Region: l.Region,
			Zip: l.Zip, Timezone: l.Timezone, IP: l.IP, Latitude: l.Latitude.ptr(), Longitude: l.Longitude.ptr()}
	}
	return nil
}

// Profile is a Klaviyo profile as returned by the API.
type Profile struct {
	ID            string
	Attributes    ProfileAttributes
	Created       time.Time
	Updated       time.Time
	LastEventDate time.Time
}

// List is a Klaviyo list.
type List struct {
	ID           string
	Name         string
	OptInProcess string
	Created      time.Time
	Updated      time.Time
	// ProfileCount is set by GetList.
	ProfileCount *int
}

// Bulk import job states.
const (
	JobQueued     = "queued"
	JobProcessing = "processing"
	JobComplete   = "complete"
	JobCancelled  = "cancelled"
)

// ImportJob is a bulk profile import job.
type ImportJob struct {
	ID             string
	Status         string
	TotalCount     int
	CompletedCount int
	FailedCount    int
	CreatedAt      time.Time
	StartedAt      time.Time
	CompletedAt    time.Time
	ExpiresAt      time.Time
	ListIDs        []string
}

// Done reports whether the job reached a final state.
func (j ImportJob) Done() bool { return j.Status == JobComplete || j.Status == JobCancelled }

// EventJob is one POST /api/event-bulk-create-jobs request and, when it
// could be read, its outcome. Klaviyo answers the request 202 with no body:
// the contract documents no job id and no job resource. When the answer
// carries a Location of the job (the emulator does; UNCONFIRMED at
// Klaviyo), GetEventBulkJob reads its status and errors; otherwise ID is
// empty and Status is EventJobAccepted: accepted, outcome unknown.
type EventJob struct {
	ID             string
	Status         string
	Events         int
	TotalCount     int
	CompletedCount int
	FailedCount    int
	Errors         []JobError
}

// Event job statuses: the profile import job's enum plus failed (a job
// refused whole, e.g. for a repeated unique_id) and accepted (202 with no
// job to read).
const (
	EventJobAccepted = "accepted"
	EventJobFailed   = "failed"
)

// Confirmable reports whether the job's outcome can be read.
func (j EventJob) Confirmable() bool { return j.ID != "" }

// Done reports whether the job reached a final state.
func (j EventJob) Done() bool {
	return j.Status == JobComplete || j.Status == JobCancelled || j.Status == EventJobFailed
}

// Failed reports whether the job processed nothing (failed or cancelled).
func (j EventJob) Failed() bool { return j.Status == EventJobFailed || j.Status == JobCancelled }

// JobError is one error of a failed job (a JSON:API error object).
type JobError struct {
	Code    string
	Title   string
	Detail  string
	Pointer string
}

// ImportError is one failed row of a bulk import.
type ImportError struct {
	ID              string
	Code            string
	Title           string
	Detail          string
	Pointer         string
	OriginalPayload map[string]any
}

// Event is one activity to record. The profile is identified by Email (or
// the identifiers in Profile); Profile may carry more attributes to write
// on the profile.
type Event struct {
	// Metric is the metric name, e.g. "Order shipped" (< 128 characters).
	Metric  string
	Email   string
	Profile *ProfileAttributes
	// Properties are the event's properties (at most 400).
	Properties map[string]any
	// Time defaults to when Klaviyo receives the event.
	Time          time.Time
	Value         *float64
	ValueCurrency string
	// UniqueID deduplicates: the same (profile, metric, UniqueID) is
	// recorded once.
	UniqueID string
	// Backfill records the event without triggering flows.
	Backfill bool
}

// profileAttrs merges Email into Profile.
func (e Event) profileAttrs() ProfileAttributes {
	var p ProfileAttributes
	if e.Profile != nil {
		p = *e.Profile
	}
	if p.Email == nil && e.Email != "" {
		p.Email = String(e.Email)
	}
	return p
}

// flexTime reads date-times tolerantly: RFC 3339 with or without fraction,
// without a zone (UTC), or a date; anything else is the zero time.
type flexTime time.Time

func (f *flexTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil || s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			*f = flexTime(t)
			return nil
		}
	}
	return nil
}

func (f flexTime) time() time.Time { return time.Time(f) }

// flexFloat reads a number sent as a number or a string.
type flexFloat struct {
	v  float64
	ok bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		f.v, f.ok = v, true
	}
	return nil
}

func (f flexFloat) ptr() *float64 {
	if !f.ok {
		return nil
	}
	return &f.v
}
