package domain

import (
	"encoding/json"
	"time"
)

// OrderSnapshot is switchyard's latest copy of one source order (a Whiplash
// order), kept so that writes to Gorgias and Klaviyo are snapshots of the
// newest state rather than replays of individual webhooks.
type OrderSnapshot struct {
	MerchantID     string `json:"merchant_id"`
	InstallationID string `json:"installation_id"`
	// StoreID is the source store (Whiplash shop) the order belongs to.
	StoreID       string `json:"store_id"`
	OrderID       string `json:"order_id"`
	CustomerEmail string `json:"customer_email"`
	Status        int    `json:"status"`
	// SourceUpdatedAt is the vendor's update time; an older snapshot never
	// replaces a newer one.
	SourceUpdatedAt time.Time       `json:"source_updated_at"`
	Data            json.RawMessage `json:"data"`
	UpdatedAt       time.Time       `json:"updated_at"`
	// EventID, when set, is the inbound event the snapshot comes from;
	// ApplyOrder marks it processed in the same transaction, applied or not.
	EventID int64 `json:"-"`
}

// SyncKey names one coalesced sync: a piece of remote state (a Gorgias
// customer's data, a Klaviyo profile, an order's Klaviyo events) that a
// single job brings up to date from switchyard's stored state.
type SyncKey struct {
	InstallationID string `json:"installation_id"`
	Kind           string `json:"kind"`
	Key            string `json:"key"`
}

// SyncState is the progress of a sync key. Every change to the state it
// mirrors bumps DirtySeq; a sync that wrote the state as of DirtySeq = n sets
// SyncedSeq = n. State holds the sync's own bookkeeping (a cached remote id,
// the last bucket emitted, …).
type SyncState struct {
	SyncKey
	MerchantID string            `json:"merchant_id"`
	DirtySeq   int64             `json:"dirty_seq"`
	SyncedSeq  int64             `json:"synced_seq"`
	State      map[string]string `json:"state"`
	SyncedAt   *time.Time        `json:"synced_at,omitempty"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// OrderApply is the outcome of applying a snapshot.
type OrderApply struct {
	// Applied is false when the stored snapshot was as new or newer.
	Applied bool
	// Previous is the snapshot that was replaced (nil for a new order).
	Previous *OrderSnapshot
}
