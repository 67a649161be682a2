package whiplashklaviyo

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/klaviyo"
)

// Who emitted an order's buckets. Each order's sync state (OrderSync) is
// shared by the live path (syncOrder) and the backfill; each writes only
// its own fields, so neither overwrites the other:
//
//   - the live path sets Sending before it sends single events and Bucket
//     after each is accepted (a retry resends: the single endpoint keeps the
//     first event with a unique_id);
//   - the backfill sets Bulk before it sends a batch (a bulk request that
//     repeats a recorded unique_id fails whole, so nothing may be resent).
//
// A bulk batch must never hold a bucket the live path sent. The backfill
// therefore first claims the orders of a batch (backfillState.Claim), then
// reads their state and plans only buckets above Bucket, Sending and Bulk,
// marks Bulk, and only then drops the claim. The live path sets Sending,
// then waits while its order is claimed, then re-reads its state. Whichever
// of the two writes first, the other sees it: the live path either sees the
// claim (and waits) or the Bulk mark (and skips), or the backfill sees
// Sending (and leaves the bucket to the live path).

// orderState is the bookkeeping of one order's events.
type orderState struct {
	// Bucket is the highest bucket the live path emitted.
	Bucket Bucket `json:"bucket"`
	// Sending is the highest bucket the live path is about to emit.
	Sending Bucket `json:"sending"`
	// Bulk is the highest bucket a backfill emitted (or is emitting).
	Bulk Bucket `json:"bulk"`
}

// emitted is the highest bucket Klaviyo has (or is getting) for the order.
func (s orderState) emitted() Bucket { return max(s.Bucket, s.Bulk) }

// liveMark is what the live path writes of orderState.
type liveMark struct {
	Bucket  Bucket `json:"bucket,omitempty"`
	Sending Bucket `json:"sending,omitempty"`
}

// bulkMark is what the backfill writes of orderState.
type bulkMark struct {
	Bulk Bucket `json:"bulk"`
}

func orderSyncKey(installationID, key string) domain.SyncKey {
	return domain.SyncKey{InstallationID: installationID, Kind: OrderSync, Key: key}
}

func (c *Connector) orderState(ctx context.Context, k domain.SyncKey) (orderState, error) {
	var s orderState
	st, err := c.d.Store.GetSync(ctx, k)
	if err != nil {
		return s, err
	}
	return s, st.Decode(&s)
}

func (c *Connector) mark(ctx context.Context, k domain.SyncKey, m any) error {
	d, err := domain.StateOf(m)
	if err != nil {
		return err
	}
	return c.d.Store.SaveSyncState(ctx, k, d)
}

// backfillClaims reports whether a backfill is planning a batch that
// includes the order (key store/order).
func (c *Connector) backfillClaims(ctx context.Context, installationID, key string) (bool, error) {
	st, err := c.d.Store.GetSync(ctx, BackfillKey(installationID))
	if err != nil {
		return false, err
	}
	var s struct {
		Claim []string `json:"claim"`
	}
	if err := st.Decode(&s); err != nil {
		return false, err
	}
	return slices.Contains(s.Claim, key), nil
}

// sendEvents sends, batch by batch in (store, order) order, the buckets of
// the window's orders that nobody emitted yet; a batch left in flight by a
// crash or a restart is finished first.
func (r *backfillRun) sendEvents(ctx context.Context) (bool, error) {
	total, err := r.c.d.Store.CountOrders(ctx, r.in.ID)
	if err != nil {
		return false, err
	}
	for {
		if r.s.Batch != nil {
			if err := r.finishBatch(ctx); err != nil {
				return false, err
			}
			r.report(PhaseEvents, r.s.OrdersDone, total)
			if r.late() {
				return false, nil
			}
		}
		more, err := r.planBatch(ctx)
		if err != nil {
			return false, err
		}
		if !more {
			break
		}
	}
	r.s.Phase, r.s.FinishedAt = PhaseDone, r.now()
	if err := r.save(ctx); err != nil {
		return false, err
	}
	r.c.d.Logger.InfoContext(ctx, "backfill finished", slog.String("installation_id", r.in.ID),
		slog.Int("fetched", r.s.Fetched), slog.Int("events", r.s.EventsSent), slog.Int("skipped", r.s.EventsSkipped))
	return true, nil
}

// planBatch reads the next stored orders and plans a batch of at most
// klaviyo.MaxBulkEvents events (r.s.Batch); false when no order is left.
func (r *backfillRun) planBatch(ctx context.Context) (bool, error) {
	afterStore, afterOrder, _ := strings.Cut(r.s.EventsAfter, "/")
	page, err := r.c.d.Store.ListOrders(ctx, r.in.ID, afterStore, afterOrder, BackfillEventChunk)
	if err != nil || len(page) == 0 {
		return false, err
	}
	r.s.Claim = make([]string, len(page))
	for i, snap := range page {
		r.s.Claim[i] = snap.StoreID + "/" + snap.OrderID
	}
	if err := r.save(ctx); err != nil {
		return false, err
	}
	b := &eventBatch{Run: r.s.Run}
	for i, snap := range page {
		key := r.s.Claim[i]
		planned, skipped, err := r.planOrder(ctx, snap, key)
		if err != nil {
			return false, err
		}
		if b.events()+len(planned.Buckets) > klaviyo.MaxBulkEvents {
			break
		}
		if len(planned.Buckets) > 0 {
			b.Orders = append(b.Orders, planned)
		}
		b.After, b.Passed, b.Skipped = key, b.Passed+1, b.Skipped+skipped
	}
	r.s.Batch = b
	if err := r.save(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// planOrder returns the buckets of one order to send (those above what the
// live path sent, is sending, or a backfill sent) and how many it skips.
func (r *backfillRun) planOrder(ctx context.Context, snap *domain.OrderSnapshot, key string) (plannedOrder, int, error) {
	p := plannedOrder{Key: key}
	if snap.SourceUpdatedAt.Before(r.s.From) {
		return p, 0, nil
	}
	o, err := connector.DecodeWhiplashOrder(snap)
	if err != nil {
		return p, 0, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
	}
	s, err := r.c.orderState(ctx, orderSyncKey(r.in.ID, key))
	if err != nil {
		return p, 0, err
	}
	p.Prev = s.Bulk
	skipped := 0
	for _, b := range Reached(o) {
		if b <= max(s.emitted(), s.Sending) {
			skipped++
			continue
		}
		p.Buckets = append(p.Buckets, b)
	}
	return p, skipped, nil
}

// finishBatch marks the batch's orders (Bulk), drops the claim, sends the
// batch unless Klaviyo accepted it already, confirms its jobs, and moves
// the cursor past it.
func (r *backfillRun) finishBatch(ctx context.Context) error {
	b := r.s.Batch
	for _, p := range b.Orders {
		if err := r.c.mark(ctx, orderSyncKey(r.in.ID, p.Key), bulkMark{p.top()}); err != nil {
			return err
		}
	}
	resend := b.Attempted
	if !b.Sent {
		r.s.Claim, b.Attempted = nil, true
		if err := r.save(ctx); err != nil {
			return err
		}
		if err := r.send(ctx, b); err != nil {
			return err
		}
	}
	if err := r.confirm(ctx, b, resend); err != nil {
		return err
	}
	if b.Run == r.s.Run {
		r.s.EventsAfter, r.s.OrdersDone = b.After, r.s.OrdersDone+b.Passed
		r.s.EventsSent, r.s.EventsSkipped = r.s.EventsSent+b.events(), r.s.EventsSkipped+b.Skipped
	}
	r.s.Batch = nil
	return r.save(ctx)
}

// send makes the batch's one bulk request and records its job.
func (r *backfillRun) send(ctx context.Context, b *eventBatch) error {
	b.Sent = true
	if len(b.Orders) == 0 {
		return r.save(ctx)
	}
	evs, err := r.events(ctx, b)
	if err != nil {
		return err
	}
	k, err := r.klaviyo(ctx)
	if err != nil {
		return err
	}
	jobs, err := k.BulkCreateEvents(ctx, evs, true)
	if err != nil {
		b.Sent = false
		return err
	}
	for _, j := range jobs {
		r.s.EventJobs++
		if j.Confirmable() {
			b.Jobs = append(b.Jobs, j.ID)
		} else {
			r.s.EventJobsUnconfirmed++
		}
	}
	return r.save(ctx)
}

// events builds the batch's events from the orders as stored now.
func (r *backfillRun) events(ctx context.Context, b *eventBatch) ([]klaviyo.Event, error) {
	evs := make([]klaviyo.Event, 0, b.events())
	for _, p := range b.Orders {
		storeID, orderID, _ := strings.Cut(p.Key, "/")
		snap, err := r.c.d.Store.GetOrder(ctx, r.in.ID, storeID, orderID)
		if err != nil {
			return nil, err
		}
		o, err := connector.DecodeWhiplashOrder(snap)
		if err != nil {
			return nil, domain.WrapError(domain.EINVALID, "stored order is unreadable", err)
		}
		for _, bk := range p.Buckets {
			evs = append(evs, EventFor(storeID, o, bk, true))
		}
	}
	return evs, nil
}

// confirm waits for the batch's jobs. A failed job processed nothing: the
// orders' marks are restored (so a later run plans them again) and the
// failure is the backfill's error. When the request was possibly sent
// before (resend), a job refused only for repeated unique ids means the
// earlier request was accepted: the batch is done.
func (r *backfillRun) confirm(ctx context.Context, b *eventBatch, resend bool) error {
	if len(b.Jobs) == 0 {
		return nil
	}
	k, err := r.klaviyo(ctx)
	if err != nil {
		return err
	}
	for _, id := range b.Jobs {
		j, err := r.awaitEventJob(ctx, k, id)
		if err != nil {
			return err
		}
		if !j.Failed() || (resend && onlyRepeats(j)) {
			continue
		}
		for _, p := range b.Orders {
			if err := r.c.mark(ctx, orderSyncKey(r.in.ID, p.Key), bulkMark{p.Prev}); err != nil {
				return err
			}
		}
		r.s.Batch = nil
		if err := r.save(ctx); err != nil {
			return err
		}
		return domain.Errorf(domain.ECONFLICT, "Klaviyo refused bulk event job %s (%d events, after %s): %s",
			id, b.events(), r.s.EventsAfter, jobErrors(j))
	}
	return nil
}

func (r *backfillRun) awaitEventJob(ctx context.Context, k *klaviyo.Client, id string) (klaviyo.EventJob, error) {
	for {
		j, err := k.GetEventBulkJob(ctx, id)
		if err != nil || j.Done() {
			return j, err
		}
		if err := outbound.Sleep(ctx, ImportPoll); err != nil {
			return j, err
		}
	}
}

func onlyRepeats(j klaviyo.EventJob) bool {
	for _, e := range j.Errors {
		if e.Code != "duplicate_unique_id" {
			return false
		}
	}
	return len(j.Errors) > 0
}

func jobErrors(j klaviyo.EventJob) string {
	var parts []string
	for i, e := range j.Errors {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(j.Errors)-3))
			break
		}
		parts = append(parts, e.Code+": "+e.Detail)
	}
	if len(parts) == 0 {
		return "status " + j.Status
	}
	return strings.Join(parts, "; ")
}
