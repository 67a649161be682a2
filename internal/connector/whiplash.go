package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
	"switchyard/internal/provider/whiplash"
)

// WhiplashSource verifies X-WHIPLASH-SIGNATURE and reads order webhooks: the
// webhook contract both Whiplash connectors declare.
type WhiplashSource struct{}

// SecretNames implements ingest.Source: the webhook secret (defaults to the
// OAuth client secret, per the V2 docs), its previous value during rotation,
// and the API key (the help center's variant).
func (WhiplashSource) SecretNames() []string {
	return []string{"webhook_secret", "webhook_secret_previous", "client_secret", "api_key"}
}

// Verify implements ingest.Source.
func (WhiplashSource) Verify(h http.Header, body []byte, secrets []string) error {
	return whiplash.Verifier{}.Verify(h, body, secrets)
}

// Parse implements ingest.Source.
func (WhiplashSource) Parse(body []byte) (ingest.Parsed, error) {
	wh, err := whiplash.DecodeWebhook(body)
	if err != nil {
		return ingest.Parsed{}, err
	}
	p := ingest.Parsed{EventType: wh.EventName, DedupKey: wh.DedupKey(body)}
	if wh.Order != nil {
		p.CustomerEmail = wh.Order.Email
	}
	return p, nil
}

// WhiplashSources is the Sources table of a connector fed by Whiplash.
func WhiplashSources() map[string]ingest.Source {
	return map[string]ingest.Source{domain.VendorWhiplash: WhiplashSource{}}
}

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

// decodeWhiplashEvent reads a stored Whiplash webhook's order; ok is false
// for an event that carries no order or an order without an email (nothing
// to key a customer on).
func decodeWhiplashEvent(payload []byte) (o *whiplash.Order, raw json.RawMessage, ok bool, _ error) {
	var wh struct {
		Order json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(payload, &wh); err != nil {
		return nil, nil, false, domain.WrapError(domain.EINVALID, "stored webhook is unreadable", err)
	}
	if len(wh.Order) == 0 || string(wh.Order) == "null" {
		return nil, nil, false, nil
	}
	o = new(whiplash.Order)
	if err := json.Unmarshal(wh.Order, o); err != nil {
		return nil, nil, false, domain.WrapError(domain.EINVALID, "stored webhook's order is unreadable", err)
	}
	if domain.NormalizeEmail(o.Email) == "" {
		return nil, nil, false, nil
	}
	return o, wh.Order, true, nil
}

// ApplyWhiplashEvent reads a stored Whiplash webhook and applies its order
// as the newest snapshot (an older or repeated one changes nothing), marking
// the event processed in the same transaction. Events that carry no order,
// and orders without an email (nothing to key a customer on), are skipped:
// applied is false and the worker marks the event processed.
func ApplyWhiplashEvent(ctx context.Context, store domain.Store, in *domain.Installation, ev *domain.InboundEvent, plan WhiplashPlan) (applied bool, _ jobs.Outcome, _ error) {
	o, raw, ok, err := decodeWhiplashEvent(ev.Payload)
	if err != nil || !ok {
		return false, jobs.Handled, err
	}
	snap := WhiplashSnapshot(in, o, raw)
	snap.EventID = ev.ID
	res, err := store.ApplyOrder(ctx, snap, func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		return plan(o, snap, prev)
	})
	if err != nil {
		return false, jobs.Handled, fmt.Errorf("error applying whiplash order %s: %w", snap.OrderID, err)
	}
	return res.Applied, jobs.MarkedProcessed, nil
}

// WhiplashApply is what ApplyWhiplashEvent does, for the ingest transaction
// that stores the event (IngestApplier): the order's snapshot and plan. It
// returns nil for an unreadable webhook, which then takes its job (whose
// handler dead-letters it), and an empty apply for an event with nothing to
// apply (stored processed).
func WhiplashApply(in *domain.Installation, ev *domain.InboundEvent, plan WhiplashPlan) *domain.EventApply {
	o, raw, ok, err := decodeWhiplashEvent(ev.Payload)
	switch {
	case err != nil:
		return nil
	case !ok:
		return &domain.EventApply{}
	}
	snap := WhiplashSnapshot(in, o, raw)
	return &domain.EventApply{Order: snap, Plan: func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		return plan(o, snap, prev)
	}}
}

// DecodeWhiplashOrder reads a stored snapshot's order.
func DecodeWhiplashOrder(s *domain.OrderSnapshot) (*whiplash.Order, error) {
	var o whiplash.Order
	if err := json.Unmarshal(s.Data, &o); err != nil {
		return nil, fmt.Errorf("error decoding stored order %s/%s: %w", s.StoreID, s.OrderID, err)
	}
	return &o, nil
}
