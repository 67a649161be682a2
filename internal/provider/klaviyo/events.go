package klaviyo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// wire types for events.
type (
	metricRef struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Name string `json:"name"`
			} `json:"attributes"`
		} `json:"data"`
	}
	profileRef struct {
		Data profileWriteData `json:"data"`
	}
	eventAttrs struct {
		Properties    map[string]any `json:"properties"`
		Time          string         `json:"time,omitempty"`
		Value         *float64       `json:"value,omitempty"`
		ValueCurrency string         `json:"value_currency,omitempty"`
		UniqueID      string         `json:"unique_id,omitempty"`
		Backfill      bool           `json:"backfill,omitempty"`
		Metric        metricRef      `json:"metric"`
		Profile       *profileRef    `json:"profile,omitempty"`
	}
	eventDoc struct {
		Data struct {
			Type       string     `json:"type"`
			Attributes eventAttrs `json:"attributes"`
		} `json:"data"`
	}
	bulkEvent struct {
		Type       string     `json:"type"`
		Attributes eventAttrs `json:"attributes"`
	}
	bulkEntry struct {
		Type       string `json:"type"`
		Attributes struct {
			Backfill bool       `json:"backfill,omitempty"`
			Profile  profileRef `json:"profile"`
			Events   struct {
				Data []bulkEvent `json:"data"`
			} `json:"events"`
		} `json:"attributes"`
	}
	bulkDoc struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				EventsBulkCreate struct {
					Data []bulkEntry `json:"data"`
				} `json:"events-bulk-create"`
			} `json:"attributes"`
		} `json:"data"`
	}
)

func (e Event) attrs(withProfile bool) eventAttrs {
	a := eventAttrs{Properties: e.Properties, Value: e.Value, ValueCurrency: e.ValueCurrency, UniqueID: e.UniqueID, Backfill: e.Backfill}
	if a.Properties == nil {
		a.Properties = map[string]any{}
	}
	if !e.Time.IsZero() {
		a.Time = e.Time.Format(time.RFC3339)
	}
	a.Metric.Data.Type = "metric"
	a.Metric.Data.Attributes.Name = e.Metric
	if withProfile {
		a.Profile = &profileRef{Data: profileWriteData{Type: "profile", Attributes: e.profileAttrs()}}
	}
	return a
}

func (e Event) check(label string) error {
	switch {
	case strings.TrimSpace(e.Metric) == "":
		return invalidf(label, "event metric name is required")
	case len([]rune(e.Metric)) >= 128:
		return invalidf(label, "event metric name must be under 128 characters")
	case len(e.Properties) > 400:
		return invalidf(label, "an event may have at most 400 properties, got %d", len(e.Properties))
	case !hasIdentifier(e.profileAttrs()):
		return invalidf(label, "event %q needs a profile email, phone number or external id", e.Metric)
	}
	return nil
}

// CreateEvent records one event (POST /api/events; 202). The profile is
// created or updated as a side effect.
func (c *Client) CreateEvent(ctx context.Context, ev Event) error {
	const label = "POST /api/events"
	if err := ev.check(label); err != nil {
		return err
	}
	var doc eventDoc
	doc.Data.Type = "event"
	doc.Data.Attributes = ev.attrs(true)
	_, err := c.call(ctx, http.MethodPost, "/api/events", label, nil, doc)
	return err
}

// BulkCreateEvents records events through POST /api/event-bulk-create-jobs,
// grouped by profile and split into requests of at most 1,000 events and
// 5 MB. backfill marks every event as backfilled (recorded without
// triggering flows). It returns one EventJob per request accepted (202),
// also when a later request fails.
//
// Resending is NOT safe: Klaviyo fails a whole request ("no events will be
// processed") when a unique_id repeats one already recorded for the same
// profile and metric. A caller sends each event once and confirms the
// outcome with GetEventBulkJob where the job is Confirmable.
func (c *Client) BulkCreateEvents(ctx context.Context, events []Event, backfill bool) ([]EventJob, error) {
	const label = "POST /api/event-bulk-create-jobs"
	if len(events) == 0 {
		return nil, nil
	}
	type group struct {
		profile ProfileAttributes
		events  []bulkEvent
	}
	var (
		groups []*group
		byKey  = map[string]*group{}
	)
	for _, ev := range events {
		if err := ev.check(label); err != nil {
			return nil, err
		}
		if backfill {
			ev.Backfill = true
		}
		pa := ev.profileAttrs()
		key := profileKey(pa)
		g, ok := byKey[key]
		if !ok || ev.Profile != nil {
			// Events that carry profile attributes keep their own entry so
			// attributes are never attached to the wrong profile write.
			g = &group{profile: pa}
			groups = append(groups, g)
			if ev.Profile == nil {
				byKey[key] = g
			}
		}
		be := bulkEvent{Type: "event", Attributes: ev.attrs(false)}
		b, err := json.Marshal(be)
		if err != nil {
			return nil, invalidf(label, "error encoding event: %v", err)
		}
		if len(b) > MaxPayloadBytes/2 {
			return nil, invalidf(label, "event %q is too large (%d bytes)", ev.Metric, len(b))
		}
		g.events = append(g.events, be)
	}
	// Pack groups into requests, splitting a group across requests when
	// needed.
	const budget = MaxPayloadBytes * 9 / 10
	var (
		jobs   []EventJob
		doc    bulkDoc
		count  int
		size   int
		flush  func() error
		newDoc = func() {
			doc = bulkDoc{}
			doc.Data.Type = "event-bulk-create-job"
			count, size = 0, 0
		}
	)
	flush = func() error {
		if count == 0 {
			return nil
		}
		resp, err := c.call(ctx, http.MethodPost, "/api/event-bulk-create-jobs", label, nil, doc)
		if err == nil {
			jobs = append(jobs, EventJob{ID: jobIDFrom(resp.Header.Get("Location")), Status: EventJobAccepted, Events: count})
		}
		newDoc()
		return err
	}
	newDoc()
	for _, g := range groups {
		var entry *bulkEntry
		for _, be := range g.events {
			b, _ := json.Marshal(be)
			if count == MaxBulkEvents || size+len(b) > budget {
				if err := flush(); err != nil {
					return jobs, err
				}
				entry = nil
			}
			if entry == nil {
				e := bulkEntry{Type: "event-bulk-create"}
				e.Attributes.Backfill = backfill
				e.Attributes.Profile = profileRef{Data: profileWriteData{Type: "profile", Attributes: g.profile}}
				doc.Data.Attributes.EventsBulkCreate.Data = append(doc.Data.Attributes.EventsBulkCreate.Data, e)
				entry = &doc.Data.Attributes.EventsBulkCreate.Data[len(doc.Data.Attributes.EventsBulkCreate.Data)-1]
				size += 512 // entry overhead and profile
			}
			entry.Attributes.Events.Data = append(entry.Attributes.Events.Data, be)
			count++
			size += len(b)
		}
	}
	err := flush()
	return jobs, err
}

// jobIDFrom reads the job id from a Location ending in
// /api/event-bulk-create-jobs/{id}[/].
func jobIDFrom(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(strings.TrimSuffix(u.Path, "/"), "/api/event-bulk-create-jobs/")
	if !ok || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

type eventJobDoc struct {
	Data struct {
		ID         string `json:"id"`
		Attributes struct {
			Status         string  `json:"status"`
			TotalCount     flexInt `json:"total_count"`
			CompletedCount flexInt `json:"completed_count"`
			FailedCount    flexInt `json:"failed_count"`
			Errors         []struct {
				Code   string `json:"code"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
				Source struct {
					Pointer string `json:"pointer"`
				} `json:"source"`
			} `json:"errors"`
		} `json:"attributes"`
	} `json:"data"`
}

// GetEventBulkJob reads a bulk event job's status and errors (GET
// /api/event-bulk-create-jobs/{job_id}; not in Klaviyo's published
// contract, see EventJob).
func (c *Client) GetEventBulkJob(ctx context.Context, id string) (EventJob, error) {
	doc, err := getJob[eventJobDoc](ctx, c, "GET /api/event-bulk-create-jobs/{job_id}", "/api/event-bulk-create-jobs/", id)
	if err != nil {
		return EventJob{}, err
	}
	a := doc.Data.Attributes
	j := EventJob{ID: id, Status: a.Status, TotalCount: int(a.TotalCount), CompletedCount: int(a.CompletedCount), FailedCount: int(a.FailedCount)}
	for _, e := range a.Errors {
		j.Errors = append(j.Errors, JobError{Code: e.Code, Title: e.Title, Detail: e.Detail, Pointer: e.Source.Pointer})
	}
	return j, nil
}

// profileKey groups events of one profile (by its identifiers).
func profileKey(a ProfileAttributes) string {
	v := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return strings.ToLower(v(a.Email)) + "|" + v(a.PhoneNumber) + "|" + v(a.ExternalID)
}
