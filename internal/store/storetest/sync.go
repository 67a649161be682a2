package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"switchyard/internal/domain"
)

func (b *bundle) order(store, id, email string, status int, at time.Time) *domain.OrderSnapshot {
	return &domain.OrderSnapshot{MerchantID: b.mer.ID, InstallationID: b.inst.ID, StoreID: store, OrderID: id, CustomerEmail: email, Status: status,
		SourceUpdatedAt: at, Data: json.RawMessage(`{"status":` + itoa(status) + `}`)}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func exerciseSync(t *testing.T, open Opener) {
	t.Run("ApplyOrderNewestWins", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.FixedZone("EST", -5*3600))
		key := domain.SyncKey{InstallationID: b.inst.ID, Kind: "gorgias_customer", Key: "a@example.com"}
		var prevs []*domain.OrderSnapshot
		plan := func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
			prevs = append(prevs, prev)
			return []domain.SyncKey{key}, []domain.JobArgs{testJob{}}
		}
		res, err := b.store.ApplyOrder(b.ctx, b.order("1", "100", " A@Example.com", 100, t0.Add(time.Hour)), plan)
		must(t, err)
		if !res.Applied || res.Previous != nil {
			t.Fatalf("first apply = %+v", res)
		}
		// Older and equal-but-not-higher snapshots are ignored, nothing marked.
		for _, o := range []*domain.OrderSnapshot{b.order("1", "100", "a@example.com", 300, t0), b.order("1", "100", "a@example.com", 100, t0.Add(time.Hour))} {
			res, err = b.store.ApplyOrder(b.ctx, o, plan)
			must(t, err)
			if res.Applied {
				t.Fatalf("stale snapshot applied: %+v", o)
			}
		}
		st, err := b.store.GetSync(b.ctx, key)
		must(t, err)
		if st.DirtySeq != 1 || st.SyncedSeq != 0 || st.MerchantID != b.mer.ID {
			t.Fatalf("sync after one applied order = %+v", st)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 1 {
			t.Fatalf("jobs = %d, want 1", n)
		}
		// Same time, higher status wins; later time wins; previous is handed to plan.
		res, err = b.store.ApplyOrder(b.ctx, b.order("1", "100", "a@example.com", 150, t0.Add(time.Hour)), plan)
		must(t, err)
		if !res.Applied || res.Previous == nil || res.Previous.Status != 100 {
			t.Fatalf("higher status at same time = %+v", res)
		}
		res, err = b.store.ApplyOrder(b.ctx, b.order("1", "100", "new@example.com", 300, t0.Add(2*time.Hour)), plan)
		must(t, err)
		if !res.Applied || prevs[len(prevs)-1].CustomerEmail != "a@example.com" {
			t.Fatalf("email change: plan saw %+v", prevs[len(prevs)-1])
		}
		st, _ = b.store.GetSync(b.ctx, key)
		if st.DirtySeq != 3 {
			t.Fatalf("dirty_seq = %d, want 3", st.DirtySeq)
		}
		got, err := b.store.GetOrder(b.ctx, b.inst.ID, "1", "100")
		must(t, err)
		if got.Status != 300 || got.CustomerEmail != "new@example.com" || !got.SourceUpdatedAt.Equal(t0.Add(2*time.Hour)) || !jsonEqual(got.Data, `{"status":300}`) {
			t.Fatalf("stored order = %+v", got)
		}
		// Customer listing, newest first; another store's order for the same email.
		_, err = b.store.ApplyOrder(b.ctx, b.order("2", "7", "new@example.com", 100, t0.Add(3*time.Hour)), nil)
		must(t, err)
		list, err := b.store.ListCustomerOrders(b.ctx, b.inst.ID, "NEW@example.com")
		must(t, err)
		if len(list) != 2 || list[0].StoreID != "2" || list[1].OrderID != "100" {
			t.Fatalf("ListCustomerOrders = %+v", list)
		}
		if old, _ := b.store.ListCustomerOrders(b.ctx, b.inst.ID, "a@example.com"); len(old) != 0 {
			t.Fatalf("old email still has %d orders", len(old))
		}
		// Batch apply: newer wins, older ignored, new ones stored.
		n, err := b.store.ApplyOrders(b.ctx, []*domain.OrderSnapshot{
			b.order("1", "100", "new@example.com", 100, t0), // older than stored
			b.order("2", "7", "new@example.com", 350, t0.Add(4*time.Hour)),
			b.order("3", "1", "third@example.com", 100, t0),
		})
		must(t, err)
		if n != 2 {
			t.Fatalf("ApplyOrders applied %d, want 2", n)
		}
		if o, _ := b.store.GetOrder(b.ctx, b.inst.ID, "2", "7"); o.Status != 350 {
			t.Fatalf("batch-applied order = %+v", o)
		}
		if o, _ := b.store.GetOrder(b.ctx, b.inst.ID, "1", "100"); o.Status != 300 {
			t.Fatalf("stale batch snapshot overwrote: %+v", o)
		}
		page, err := b.store.ListOrders(b.ctx, b.inst.ID, "1", "100", 10)
		must(t, err)
		if len(page) != 2 || page[0].StoreID != "2" || page[1].StoreID != "3" {
			t.Fatalf("ListOrders after (1,100) = %+v", page)
		}
		if n, _ := b.store.CountOrders(b.ctx, b.inst.ID); n != 3 {
			t.Fatalf("CountOrders = %d", n)
		}
		_, err = b.store.GetOrder(b.ctx, b.inst.ID, "9", "9")
		wantCode(t, err, domain.ENOTFOUND)

		// The source event is marked processed in the same transaction, even
		// when its snapshot is stale.
		res2, _, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("stale")}, jobFor)
		must(t, err)
		stale := b.order("1", "100", "new@example.com", 100, t0)
		stale.EventID = res2[0].EventID
		r, err := b.store.ApplyOrder(b.ctx, stale, nil)
		must(t, err)
		ev, err := b.store.GetEvent(b.ctx, b.mer.ID, stale.EventID)
		must(t, err)
		if r.Applied || ev.ProcessedAt == nil {
			t.Fatalf("stale snapshot: applied=%v, event processed_at=%v", r.Applied, ev.ProcessedAt)
		}
	})

	t.Run("SyncStateAndFinish", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		key := domain.SyncKey{InstallationID: b.inst.ID, Kind: "klaviyo_order", Key: "1/100"}
		st, err := b.store.GetSync(b.ctx, key)
		must(t, err)
		if st.DirtySeq != 0 || len(st.State) != 0 {
			t.Fatalf("unknown sync = %+v", st)
		}
		type orderState struct {
			Bucket   int    `json:"bucket"`
			RemoteID string `json:"remote_id,omitempty"`
		}
		d, err := domain.StateOf(orderState{Bucket: 1, RemoteID: "x"})
		must(t, err)
		must(t, b.store.SaveSyncState(b.ctx, key, d))
		must(t, b.store.SaveSyncState(b.ctx, key, domain.StateDelta{"remote_id": domain.Deleted}))
		st, _ = b.store.GetSync(b.ctx, key)
		var os orderState
		must(t, st.Decode(&os))
		if os != (orderState{Bucket: 1}) || len(st.State) != 1 {
			t.Fatalf("state after merge = %+v (%s)", os, st.State)
		}
		// A field of the wrong type is an error, never a zero value.
		must(t, b.store.SaveSyncState(b.ctx, key, domain.StateDelta{"bucket": json.RawMessage(`"two"`)}))
		st, _ = b.store.GetSync(b.ctx, key)
		if err := st.Decode(&os); err == nil {
			t.Fatal("Decode of a malformed state succeeded")
		}
		must(t, b.store.SaveSyncState(b.ctx, key, domain.StateDelta{"bucket": json.RawMessage(`1`)}))
		_, err = b.store.ApplyOrder(b.ctx, b.order("1", "100", "a@example.com", 100, time.Now()), func(*domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
			return []domain.SyncKey{key}, nil
		})
		must(t, err)
		// A sync that read seq 0 is not done: the state moved on.
		done, err := b.store.FinishSync(b.ctx, key, 0, domain.StateDelta{"bucket": json.RawMessage(`2`)}, 0)
		must(t, err)
		if done {
			t.Fatal("FinishSync with a stale seq reported done")
		}
		done, err = b.store.FinishSync(b.ctx, key, 1, nil, 0)
		must(t, err)
		st, _ = b.store.GetSync(b.ctx, key)
		if !done || st.SyncedSeq != 1 || st.SyncedAt == nil || string(st.State["bucket"]) != "2" {
			t.Fatalf("after finish: done=%v %+v", done, st)
		}
		wantCode(t, b.store.SaveSyncState(b.ctx, domain.SyncKey{InstallationID: "ins_missing", Kind: "k", Key: "k"}, nil), domain.ENOTFOUND)

		// One sync hands work to another: state merged, dirty bumped, job queued.
		list := domain.SyncKey{InstallationID: b.inst.ID, Kind: "list", Key: "L1"}
		before := jobCount(t, b.store, "storetest_job")
		must(t, b.store.QueueSync(b.ctx, list, domain.StateDelta{"p:1": json.RawMessage(`true`)}, testJob{}))
		must(t, b.store.QueueSync(b.ctx, list, domain.StateDelta{"p:2": json.RawMessage(`true`)}, nil))
		st, _ = b.store.GetSync(b.ctx, list)
		if st.DirtySeq != 2 || string(st.State["p:1"]) != "true" || string(st.State["p:2"]) != "true" || jobCount(t, b.store, "storetest_job") != before+1 {
			t.Fatalf("QueueSync: %+v", st)
		}
	})
}

func jsonEqual(a []byte, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
