package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/whiplash"
)

// WhiplashPlan names the syncs and jobs an applied order snapshot triggers.
// prev is the replaced snapshot (nil for a new order).
type WhiplashPlan func(o *whiplash.Order, snap, prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs)

// WhiplashSnapshot turns an order into the installation's stored snapshot.
// raw is the order's JSON as Whiplash sent it (kept whole).
func WhiplashSnapshot(in *domain.Installation, o *whiplash.Order, raw json.RawMessage) *domain.OrderSnapshot {
	return &domain.OrderSnapshot{
		MerchantID: in.MerchantID, InstallationID: in.ID,
		StoreID: strconv.FormatInt(o.StoreID(), 10), OrderID: strconv.FormatInt(int64(o.ID), 10),
		CustomerEmail: domain.NormalizeEmail(o.Email), Status: int(o.Status),
		SourceUpdatedAt: o.UpdatedAt.Time, Data: raw,
	}
}

// ApplyWhiplashEvent decodes a stored Whiplash webhook and applies its order
// as the newest snapshot (an older or repeated one changes nothing). Events
// that carry no order, and orders without an email (nothing to key a
// customer on), are skipped: applied is false, err nil.
func ApplyWhiplashEvent(ctx context.Context, store domain.Store, in *domain.Installation, ev *domain.InboundEvent, plan WhiplashPlan) (bool, error) {
	wh, err := whiplash.DecodeWebhook(ev.Payload)
	if err != nil {
		return false, domain.WrapError(domain.EINVALID, "stored webhook is unreadable", err)
	}
	if wh.Order == nil || domain.NormalizeEmail(wh.Order.Email) == "" {
		return false, nil
	}
	var raw struct {
		Order json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(ev.Payload, &raw); err != nil {
		return false, domain.WrapError(domain.EINVALID, "stored webhook is unreadable", err)
	}
	snap := WhiplashSnapshot(in, wh.Order, raw.Order)
	snap.EventID = ev.ID
	res, err := store.ApplyOrder(ctx, snap, func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		return plan(wh.Order, snap, prev)
	})
	if err != nil {
		return false, fmt.Errorf("error applying whiplash order %s: %w", snap.OrderID, err)
	}
	jobs.MarkedProcessed(ctx) // done in ApplyOrder's transaction
	return res.Applied, nil
}

// DecodeWhiplashOrder reads a stored snapshot's order.
func DecodeWhiplashOrder(s *domain.OrderSnapshot) (*whiplash.Order, error) {
	var o whiplash.Order
	if err := json.Unmarshal(s.Data, &o); err != nil {
		return nil, fmt.Errorf("error decoding stored order %s/%s: %w", s.StoreID, s.OrderID, err)
	}
	return &o, nil
}
