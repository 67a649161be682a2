package whiplashklaviyo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	"switchyard/internal/jobs"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// emitBundle is a C2 connector on a real SQLite store (no job workers) and
// a strict Klaviyo emulator, with one installation whose backfill is in its
// events phase.
type emitBundle struct {
	t     *testing.T
	ctx   context.Context
	c     *Connector
	store *sqlstore.Store
	emu   *klaviyoemu.Emulator
	in    *domain.Installation
	from  time.Time
}

func setupEmit(t *testing.T) *emitBundle {
	t.Helper()
	ctx := context.Background()
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "hub.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(b, box, nil)
	emu := klaviyoemu.New(klaviyoemu.Config{DisableRateLimits: true})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })

	m := &domain.Merchant{Name: "Acme"}
	must(t, store.CreateMerchant(ctx, m))
	wl := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorWhiplash, Account: "1", Config: map[string]string{"base_url": "http://127.0.0.1:1"}}
	kl := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorKlaviyo, Account: "demo", Config: map[string]string{"base_url": srv.URL},
		Secrets: domain.Secrets{"private_key": klaviyoemu.DefaultPrivateKey}}
	must(t, store.CreateConnection(ctx, wl))
	must(t, store.CreateConnection(ctx, kl))
	in := &domain.Installation{MerchantID: m.ID, Connector: Name, State: domain.InstallationActive,
		Connections: map[string]string{domain.VendorWhiplash: wl.ID, domain.VendorKlaviyo: kl.ID}}
	must(t, store.CreateInstallation(ctx, in))
	allow, err := outbound.ParseAllowList([]string{srv.Listener.Addr().String()}) // the emulator, operator-allowed
	must(t, err)
	c := New(connector.Deps{Store: store, Clients: &connector.Clients{Store: store, HTTP: srv.Client(), Allow: allow}})
	e := &emitBundle{t: t, ctx: ctx, c: c, store: store, emu: emu, in: in, from: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	e.saveBackfill(backfillState{BackfillProgress: BackfillProgress{Run: "run_1", Phase: PhaseEvents, From: e.from}})
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *emitBundle) saveBackfill(s backfillState) {
	e.t.Helper()
	d, err := domain.StateOf(s)
	must(e.t, err)
	must(e.t, e.store.SaveSyncState(e.ctx, BackfillKey(e.in.ID), d))
}

func (e *emitBundle) backfill() backfillState {
	e.t.Helper()
	st, err := e.store.GetSync(e.ctx, BackfillKey(e.in.ID))
	must(e.t, err)
	var s backfillState
	must(e.t, st.Decode(&s))
	return s
}

// order stores a shipped order (store 1): it reached processing and shipped.
func (e *emitBundle) order(id int) string {
	e.t.Helper()
	var o whiplash.Order
	must(e.t, json.Unmarshal(fmt.Appendf(nil, `{"id":%d,"shop_id":1,"email":"c%d@example.com","status":300,"previous_status":250,"updated_at":"2026-11-10T10:00:00Z"}`, id, id), &o))
	raw, err := jsonOf(&o)
	must(e.t, err)
	_, err = e.store.ApplyOrders(e.ctx, []*domain.OrderSnapshot{connector.WhiplashSnapshot(e.in, &o, raw)})
	must(e.t, err)
	return fmt.Sprintf("1/%d", id)
}

func (e *emitBundle) orderState(key string) orderState {
	e.t.Helper()
	s, err := e.c.orderState(e.ctx, orderSyncKey(e.in.ID, key))
	must(e.t, err)
	return s
}

func (e *emitBundle) syncOrder(key string) error {
	e.t.Helper()
	st, err := e.store.GetSync(e.ctx, orderSyncKey(e.in.ID, key))
	must(e.t, err)
	_, err = e.c.syncOrder(e.ctx, e.in, st)
	return err
}

func (e *emitBundle) run() (bool, error) {
	return e.c.runBackfill(e.ctx, e.in, time.Now().Add(time.Minute))
}

func (e *emitBundle) events() (live, bulk int) {
	for _, ev := range e.emu.State().Accounts[0].Events {
		if ev.Backfill {
			bulk++
		} else {
			live++
		}
	}
	return live, bulk
}

// TestLivePathWaitsWhileBackfillClaims: while the backfill plans a batch
// with an order, the live path marks what it is about to send and waits;
// the backfill leaves those buckets to it.
func TestLivePathWaitsWhileBackfillClaims(t *testing.T) {
	t.Parallel()
	e := setupEmit(t)
	key := e.order(1001)
	s := e.backfill()
	s.Claim = []string{key}
	e.saveBackfill(s)
	if err := e.syncOrder(key); !errors.Is(err, jobs.ErrContinue) {
		t.Fatalf("live sync of a claimed order = %v, want ErrContinue", err)
	}
	if live, _ := e.events(); live != 0 || e.orderState(key).Sending != BucketShipped {
		t.Fatalf("claimed order: %d live events, state %+v; want none sent, sending marked", live, e.orderState(key))
	}
	// The backfill, reading the order now, leaves both buckets to the live path.
	done, err := e.run()
	if err != nil || !done {
		t.Fatalf("backfill: %v, %v", done, err)
	}
	if _, bulk := e.events(); bulk != 0 || e.backfill().EventsSkipped != 2 {
		t.Fatalf("backfill sent %d events, skipped %d; want 0 and 2", bulk, e.backfill().EventsSkipped)
	}
	must(t, e.syncOrder(key))
	if live, _ := e.events(); live != 2 || e.orderState(key).Bucket != BucketShipped {
		t.Errorf("after the claim: %d live events, state %+v; want 2 and bucket shipped", live, e.orderState(key))
	}
}

// TestBackfillMarksBeforeLivePathSends: buckets the backfill sent are marked
// on the order, so the live path sends nothing again (and a second backfill
// run neither).
func TestBackfillMarksBeforeLivePathSends(t *testing.T) {
	t.Parallel()
	e := setupEmit(t)
	key := e.order(1002)
	if done, err := e.run(); err != nil || !done {
		t.Fatalf("backfill: %v, %v", done, err)
	}
	if e.orderState(key).Bulk != BucketShipped {
		t.Fatalf("order state %+v, want bulk = shipped", e.orderState(key))
	}
	must(t, e.syncOrder(key))
	live, bulk := e.events()
	if live != 0 || bulk != 2 || e.emu.State().Accounts[0].DuplicateEvents != 0 {
		t.Errorf("%d live and %d bulk events; want 0 and 2, nothing resent", live, bulk)
	}
}

// TestRefusedBulkJobRestoresMarks: a bulk job Klaviyo refuses (here a
// unique_id someone else already sent) processed nothing: the backfill
// reports it as its error and the orders can be planned again.
func TestRefusedBulkJobRestoresMarks(t *testing.T) {
	t.Parallel()
	e := setupEmit(t)
	key := e.order(1003)
	e.order(1004)
	k, err := e.c.client(e.ctx, e.in)
	must(t, err)
	var o whiplash.Order
	must(t, json.Unmarshal([]byte(`{"id":1003,"shop_id":1,"email":"c1003@example.com","status":300,"previous_status":250,"updated_at":"2026-11-10T10:00:00Z"}`), &o))
	must(t, k.CreateEvent(e.ctx, EventFor("1", &o, BucketProcessing, false))) // not recorded on the order
	_, err = e.run()
	if domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("backfill error = %v, want a conflict naming the refused job", err)
	}
	if _, bulk := e.events(); bulk != 0 || e.orderState(key).Bulk != BucketNone || e.backfill().Batch != nil {
		t.Errorf("after the refusal: %d bulk events, order %+v, batch %+v; want none, unmarked, dropped", bulk, e.orderState(key), e.backfill().Batch)
	}
}

// TestResentBatchAcceptedBeforeIsDone: a crash between Klaviyo's 202 and the
// checkpoint leaves the batch attempted but not sent; the resend is refused
// as repeats of the batch's own events, which means the first request
// landed: the batch is done, not an error.
func TestResentBatchAcceptedBeforeIsDone(t *testing.T) {
	t.Parallel()
	e := setupEmit(t)
	key := e.order(1005)
	r := &backfillRun{c: e.c, in: e.in, key: BackfillKey(e.in.ID), s: e.backfill(), deadline: time.Now().Add(time.Minute)}
	more, err := r.planBatch(e.ctx)
	if err != nil || !more || r.s.Batch.events() != 2 {
		t.Fatalf("plan: %v, %v, %+v", more, err, r.s.Batch)
	}
	evs, err := r.events(e.ctx, r.s.Batch)
	must(t, err)
	k, err := e.c.client(e.ctx, e.in)
	must(t, err)
	if _, err := k.BulkCreateEvents(e.ctx, evs, true); err != nil { // the first attempt, accepted
		t.Fatal(err)
	}
	r.s.Batch.Attempted = true
	must(t, r.save(e.ctx)) // … and the crash before it was recorded as sent
	if done, err := e.run(); err != nil || !done {
		t.Fatalf("resume: %v, %v", done, err)
	}
	s := e.backfill()
	if _, bulk := e.events(); bulk != 2 || s.EventsSent != 2 || s.EventsAfter != key || s.Error != "" {
		t.Errorf("after the resend: %d bulk events, progress %+v", bulk, s.BackfillProgress)
	}
	if jobs := e.emu.State().Accounts[0].EventBulkJobs; len(jobs) != 2 || jobs[1].Status != klaviyoemu.EventJobFailed {
		t.Errorf("jobs = %+v, want the accepted one and the refused resend", jobs)
	}
}
