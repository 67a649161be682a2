package domain

import (
	"encoding/json"
	"fmt"
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
// the last bucket emitted, …) as the fields of one JSON object: each sync
// kind reads it into its own typed struct with Decode and writes it back
// with StateOf.
type SyncState struct {
	SyncKey
	MerchantID string     `json:"merchant_id"`
	DirtySeq   int64      `json:"dirty_seq"`
	SyncedSeq  int64      `json:"synced_seq"`
	State      StateDelta `json:"state"`
	SyncedAt   *time.Time `json:"synced_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// StateDelta is a change to a sync's bookkeeping: each field replaces the
// stored field of the same name, and a JSON null deletes it. Fields that are
// not named are kept, so independent writers (say, many syncs adding
// members to one list sync's pending set) never overwrite each other.
type StateDelta map[string]json.RawMessage

// Deleted is the field value that removes a field from a sync's state.
var Deleted = json.RawMessage("null")

// StateOf encodes v (a struct or map that marshals to a JSON object) as a
// delta holding each of its top-level fields; omitempty fields are left as
// they are stored.
func StateOf(v any) (StateDelta, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("error encoding sync state: %w", err)
	}
	var d StateDelta
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("error encoding sync state: %T is not a JSON object: %w", v, err)
	}
	return d, nil
}

// Decode reads the sync's state into v. A field that does not fit v's type
// is an error (EINTERNAL), never silently dropped: a sync that cannot read
// its bookkeeping must not act as if it had none.
func (st *SyncState) Decode(v any) error {
	if len(st.State) == 0 {
		return nil
	}
	b, err := json.Marshal(st.State)
	if err != nil {
		return WrapError(EINTERNAL, fmt.Sprintf("sync %s/%s/%s has unreadable state", st.InstallationID, st.Kind, st.Key), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return WrapError(EINTERNAL, fmt.Sprintf("sync %s/%s/%s has malformed state: %v", st.InstallationID, st.Kind, st.Key, err), err)
	}
	return nil
}

// OrderApply is the outcome of applying a snapshot.
type OrderApply struct {
	// Applied is false when the stored snapshot was as new or newer.
	Applied bool
	// Previous is the snapshot that was replaced (nil for a new order).
	Previous *OrderSnapshot
}
