package domain

import (
	"encoding/json"
	"time"
)

// InboundEvent is a raw, verified payload received from a vendor (webhook,
// HTTP-integration call, poll result). It is stored before it is acknowledged
// and carries a dedup key unique per installation.
type InboundEvent struct {
	ID             int64           `json:"id"`
	MerchantID     string          `json:"merchant_id"`
	InstallationID string          `json:"installation_id"`
	Vendor         string          `json:"vendor"`
	EventType      string          `json:"event_type"`
	DedupKey       string          `json:"dedup_key"`
	CustomerEmail  string          `json:"customer_email,omitempty"`
	Payload        json.RawMessage `json:"payload"`
	ReceivedAt     time.Time       `json:"received_at"`
	ProcessedAt    *time.Time      `json:"processed_at,omitempty"`
	// Apply, when set, is applied in the transaction that stores the event
	// instead of enqueuing the event's job (see EventApply).
	Apply *EventApply `json:"-"`
}

// IngestResult reports what happened to one event handed to the store.
type IngestResult struct {
	// EventID is the id of the stored event (the existing one for a duplicate).
	EventID int64
	// Duplicate is true when an event with the same dedup key already existed;
	// nothing was stored or enqueued for it.
	Duplicate bool
}

// EventFilter selects inbound events.
type EventFilter struct {
	MerchantID     string
	InstallationID string
	CustomerEmail  string
	// BeforeID pages backwards: only events with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int
}
