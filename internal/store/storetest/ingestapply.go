package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/store/sqlstore"
)

// applying returns an event that applies o in its ingest transaction, the
// plan marking the order's customer dirty (with its coalesced sync job) and
// recording the previous snapshot it was given.
func (b *bundle) applying(key string, o *domain.OrderSnapshot, prevs *[]*domain.OrderSnapshot) *domain.InboundEvent {
	ev := b.event(key)
	ev.Apply = &domain.EventApply{Order: o, Plan: func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
		if prevs != nil {
			*prevs = append(*prevs, prev)
		}
		ks := []domain.SyncKey{{InstallationID: o.InstallationID, Kind: "gorgias_customer", Key: o.CustomerEmail}}
		if prev != nil && prev.CustomerEmail != o.CustomerEmail {
			ks = append(ks, domain.SyncKey{InstallationID: o.InstallationID, Kind: "gorgias_customer", Key: prev.CustomerEmail})
		}
		js := make([]domain.JobArgs, len(ks))
		for i, k := range ks {
			js[i] = jobs.NewSync(k, time.Now(), time.Minute)
		}
		return ks, js
	}}
	return ev
}

func (b *bundle) dirtySeq(t *testing.T, email string) int64 {
	t.Helper()
	st, err := b.store.GetSync(b.ctx, domain.SyncKey{InstallationID: b.inst.ID, Kind: "gorgias_customer", Key: email})
	must(t, err)
	return st.DirtySeq
}

// exerciseIngestApply checks events that apply their order snapshot in the
// ingest transaction (domain.EventApply) instead of enqueuing a job.
func exerciseIngestApply(t *testing.T, open Opener) {
	t.Run("IngestApplyStoresProcessedWithoutJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		var prevs []*domain.OrderSnapshot
		evs := []*domain.InboundEvent{
			b.applying("e1", b.order("1", "100", "A@Example.com", 100, t0), &prevs),
			b.event("plain"), // no apply: takes its job
			b.applying("e2", b.order("1", "100", "a@example.com", 200, t0.Add(time.Hour)), &prevs),   // same order, newer: applied over e1
			b.applying("e3", b.order("1", "100", "a@example.com", 150, t0.Add(time.Minute)), &prevs), // older than e2: ignored
			b.applying("e4", b.order("1", "101", "b@example.com", 100, t0), &prevs),
			b.applying("e1", b.order("1", "999", "z@example.com", 100, t0), &prevs), // duplicate of e1: nothing applied
			{MerchantID: b.mer.ID, InstallationID: b.inst.ID, Vendor: "whiplash", EventType: "ping", DedupKey: "empty", Payload: []byte(`{}`), Apply: &domain.EventApply{}},
		}
		res, errs, err := b.store.IngestEvents(b.ctx, evs, jobFor)
		must(t, err)
		for _, e := range errs {
			must(t, e)
		}
		if !res[5].Duplicate || res[5].EventID != res[0].EventID {
			t.Fatalf("results = %+v", res)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 1 {
			t.Fatalf("event jobs = %d, want 1 (only the event without an apply)", n)
		}
		if n := jobCount(t, b.store, jobs.SyncArgs{}.Kind()); n != 2 {
			t.Fatalf("sync jobs = %d, want 2 (one per customer)", n)
		}
		if len(prevs) != 3 || prevs[0] != nil || prevs[1] == nil || prevs[1].Status != 100 || prevs[2] != nil {
			t.Fatalf("plans saw %+v, want nil, the first snapshot, nil", prevs)
		}
		if got := b.dirtySeq(t, "a@example.com"); got != 2 {
			t.Fatalf("a's dirty_seq = %d, want 2", got)
		}
		if got := b.dirtySeq(t, "b@example.com"); got != 1 {
			t.Fatalf("b's dirty_seq = %d, want 1", got)
		}
		o, err := b.store.GetOrder(b.ctx, b.inst.ID, "1", "100")
		must(t, err)
		if o.Status != 200 || o.CustomerEmail != "a@example.com" || !o.SourceUpdatedAt.Equal(t0.Add(time.Hour)) || !jsonEqual(o.Data, `{"status":200}`) {
			t.Fatalf("stored order = %+v", o)
		}
		if _, err := b.store.GetOrder(b.ctx, b.inst.ID, "1", "999"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("the duplicate's order was stored: %v", err)
		}
		for i, ev := range evs {
			got, err := b.store.GetEvent(b.ctx, b.mer.ID, res[i].EventID)
			must(t, err)
			if want := ev.Apply != nil || i == 5; (got.ProcessedAt != nil) != want {
				t.Fatalf("event %s processed_at = %v, want set %v", ev.DedupKey, got.ProcessedAt, want)
			}
		}
	})

	t.Run("IngestApplyNewestWinsAcrossBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		var prevs []*domain.OrderSnapshot
		// Stored by the job path first (ApplyOrder), then newer and older
		// snapshots through ingest; then the order moves to another email.
		_, err := b.store.ApplyOrder(b.ctx, b.order("1", "100", "a@example.com", 100, t0), nil)
		must(t, err)
		_, _, err = b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.applying("old", b.order("1", "100", "a@example.com", 300, t0.Add(-time.Hour)), &prevs)}, jobFor)
		must(t, err)
		if len(prevs) != 0 || b.dirtySeq(t, "a@example.com") != 0 {
			t.Fatalf("an older snapshot was applied: plans %+v", prevs)
		}
		_, _, err = b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.applying("moved", b.order("1", "100", "c@example.com", 200, t0.Add(time.Hour)), &prevs)}, jobFor)
		must(t, err)
		if len(prevs) != 1 || prevs[0] == nil || prevs[0].CustomerEmail != "a@example.com" {
			t.Fatalf("plan saw %+v, want the stored snapshot", prevs)
		}
		if b.dirtySeq(t, "a@example.com") != 1 || b.dirtySeq(t, "c@example.com") != 1 {
			t.Fatal("both customers of a moved order must be marked dirty")
		}
		o, err := b.store.GetOrder(b.ctx, b.inst.ID, "1", "100")
		must(t, err)
		if o.CustomerEmail != "c@example.com" || o.Status != 200 {
			t.Fatalf("stored order = %+v", o)
		}
		// An ApplyOrder of an older snapshot after it changes nothing.
		r, err := b.store.ApplyOrder(b.ctx, b.order("1", "100", "a@example.com", 150, t0), nil)
		must(t, err)
		if r.Applied {
			t.Fatal("ApplyOrder applied a snapshot older than the ingested one")
		}
	})

	t.Run("IngestApplyRefusedSnapshotTakesItsJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		bad := b.order("1", "100", "a@example.com", 100, time.Now())
		bad.Data = []byte(`not json`)
		other := b.order("1", "101", "a@example.com", 100, time.Now())
		other.InstallationID = "ins_other" // not the event's installation
		res, errs, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.applying("bad", bad, nil), b.applying("other", other, nil)}, jobFor)
		must(t, err)
		for _, e := range errs {
			must(t, e)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 2 {
			t.Fatalf("event jobs = %d, want 2 (refused snapshots are processed by their jobs)", n)
		}
		for _, r := range res {
			ev, err := b.store.GetEvent(b.ctx, b.mer.ID, r.EventID)
			must(t, err)
			if ev.ProcessedAt != nil {
				t.Fatal("an event whose snapshot was refused is marked processed")
			}
		}
	})

	t.Run("IngestApplyQueuedSyncJobHoldsTheKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		ingest := func(key, order string, status int) {
			t.Helper()
			_, errs, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.applying(key, b.order("1", order, "a@example.com", status, t0.Add(time.Duration(status)*time.Second)), nil)}, jobFor)
			must(t, err)
			must(t, errs[0])
		}
		syncJobs := func() int { return jobCount(t, b.store, jobs.SyncArgs{}.Kind()) }
		ingest("e1", "100", 100)
		ingest("e2", "101", 100)
		ingest("e3", "100", 200)
		if n := syncJobs(); n != 1 {
			t.Fatalf("sync jobs = %d, want 1 while it is queued", n)
		}
		// The queued job ends without syncing (cancelled): the next change
		// enqueues a new one.
		must(t, b.store.Backend().Write(b.ctx, func(tx sqlstore.Tx) error {
			_, err := tx.Exec(b.ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = created_at WHERE kind = 'sync'`)
			return err
		}))
		ingest("e4", "100", 300)
		ingest("e5", "102", 100)
		if n := syncJobs(); n != 2 {
			t.Fatalf("sync jobs = %d, want 2 (the cancelled one and a new one)", n)
		}
		if got := b.dirtySeq(t, "a@example.com"); got != 5 {
			t.Fatalf("dirty_seq = %d, want 5", got)
		}
	})

	t.Run("IngestApplyConcurrentBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		const writers, perWriter, orders = 4, 30, 5
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var evs []*domain.InboundEvent
				for i := range perWriter {
					n := w*perWriter + i
					o := b.order("1", fmt.Sprint(n%orders), fmt.Sprintf("c%d@example.com", n%3), n, t0.Add(time.Duration(n)*time.Second))
					evs = append(evs, b.applying(fmt.Sprintf("w%d-%d", w, i), o, nil))
				}
				for len(evs) > 0 {
					k := min(len(evs), 7)
					_, errs, err := b.store.IngestEvents(b.ctx, evs[:k], jobFor)
					if err != nil {
						t.Error(err)
						return
					}
					for _, e := range errs {
						if e != nil {
							t.Error(e)
						}
					}
					evs = evs[k:]
				}
			}()
		}
		wg.Wait()
		// Newest wins whatever the interleaving: order i's newest snapshot
		// is the highest n with n % orders == i.
		for i := range orders {
			o, err := b.store.GetOrder(b.ctx, b.inst.ID, "1", fmt.Sprint(i))
			must(t, err)
			newest := writers*perWriter - orders + i
			if o.Status != newest {
				t.Fatalf("order %d status = %d, want the newest %d", i, o.Status, newest)
			}
		}
		events, err := b.store.ListEvents(b.ctx, domain.EventFilter{MerchantID: b.mer.ID, Limit: 1000})
		must(t, err)
		if len(events) != writers*perWriter {
			t.Fatalf("stored %d events, want %d", len(events), writers*perWriter)
		}
	})
}
