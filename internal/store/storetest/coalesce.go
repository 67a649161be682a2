package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/store/sqlstore"
)

// gatedSyncer "writes" a customer's newest order status to a fake remote. It
// reads the orders first, then (while gated) waits for the test to release
// it, so the test can land changes while a sync is running.
type gatedSyncer struct {
	store *sqlstore.Store

	mu      sync.Mutex
	remote  map[string]int // key → status written
	calls   map[string]int // key → Sync calls
	gate    chan struct{}  // non-nil: calls wait for it to close
	entered chan string    // receives the key of each gated call
}

func (s *gatedSyncer) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	orders, err := s.store.ListCustomerOrders(ctx, in.ID, st.Key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	gate, entered := s.gate, s.entered
	s.mu.Unlock()
	if gate != nil {
		entered <- st.Key
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[st.Key]++
	if len(orders) > 0 {
		s.remote[st.Key] = orders[0].Status
	}
	return domain.StateDelta{"remote_id": json.RawMessage(strconv.Quote("c-" + st.Key))}, nil
}

func (s *gatedSyncer) snapshot() (remote, calls map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	remote, calls = map[string]int{}, map[string]int{}
	for k, v := range s.remote {
		remote[k] = v
	}
	for k, v := range s.calls {
		calls[k] = v
	}
	return remote, calls
}

// exerciseCoalescing runs the real SyncWorker on River over the store and
// checks the coalescing contract on this backend: while a key's sync job is
// queued or running, new changes for the key add no job, and the job that
// is there writes the newest state (see jobs.SyncArgs and Store.FinishSync).
func exerciseCoalescing(t *testing.T, open Opener) {
	// Concurrent hand-offs to one sync (QueueSync, as list syncs receive
	// them) each merge their field into its state and bump it once: none is
	// lost to another transaction's read-modify-write.
	t.Run("ConcurrentQueueSyncMerges", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		list := domain.SyncKey{InstallationID: b.inst.ID, Kind: "list", Key: "L1"}
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					field := fmt.Sprintf("p:%d:%d", w, i)
					if err := b.store.QueueSync(b.ctx, list, domain.StateDelta{field: json.RawMessage(`true`)}, nil); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("QueueSync: %v", err)
		}
		st, err := b.store.GetSync(b.ctx, list)
		must(t, err)
		if len(st.State) != writers*each || st.DirtySeq != writers*each {
			t.Fatalf("after %d concurrent hand-offs: %d fields in the state, dirty_seq %d", writers*each, len(st.State), st.DirtySeq)
		}
	})

	// Concurrent replays of one dead letter enqueue it once; the others are
	// told it was already replayed.
	t.Run("ConcurrentReplayOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		dl := &domain.DeadLetter{MerchantID: b.mer.ID, InstallationID: b.inst.ID, JobKind: "storetest_job", JobArgs: json.RawMessage(`{"event_id":0}`),
			Attempts: 1, Class: domain.ClassTerminal, Error: "HTTP 422"}
		must(t, b.store.CreateDeadLetter(b.ctx, dl))
		before := jobCount(t, b.store, "storetest_job")
		const replays = 8
		var wg sync.WaitGroup
		codes := make(chan string, replays)
		for range replays {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := b.store.ReplayDeadLetter(b.ctx, b.mer.ID, dl.ID, func(*domain.DeadLetter) (domain.JobArgs, error) { return testJob{}, nil })
				if err == nil {
					codes <- "ok"
				} else {
					codes <- domain.ErrorCode(err)
				}
			}()
		}
		wg.Wait()
		close(codes)
		got := map[string]int{}
		for c := range codes {
			got[c]++
		}
		if got["ok"] != 1 || got[domain.ECONFLICT] != replays-1 || jobCount(t, b.store, "storetest_job") != before+1 {
			t.Fatalf("%d concurrent replays: outcomes %v, %d jobs enqueued; want one replay", replays, got, jobCount(t, b.store, "storetest_job")-before)
		}
	})

	t.Run("SyncCoalescing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// The workers run only an installed (active) installation's jobs.
		b.inst.State = domain.InstallationActive
		must(t, b.store.UpdateInstallation(b.ctx, b.inst))
		syncer := &gatedSyncer{store: b.store, remote: map[string]int{}, calls: map[string]int{}}
		const customers = 8
		email := func(c int) string { return fmt.Sprintf("c%d@example.com", c) }
		key := func(c int) domain.SyncKey {
			return domain.SyncKey{InstallationID: b.inst.ID, Kind: "customer", Key: email(c)}
		}
		base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		apply := func(c, status int) error {
			o := &domain.OrderSnapshot{MerchantID: b.mer.ID, InstallationID: b.inst.ID, StoreID: "1", OrderID: email(c), CustomerEmail: email(c),
				Status: status, SourceUpdatedAt: base.Add(time.Duration(status) * time.Minute), Data: json.RawMessage(`{}`)}
			_, err := b.store.ApplyOrder(b.ctx, o, func(*domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
				return []domain.SyncKey{key(c)}, []domain.JobArgs{jobs.NewSync(key(c), time.Now(), 0)}
			})
			return err
		}
		// burst applies statuses from..to for every customer, shuffled, from
		// several goroutines at once (the same customer's changes race).
		burst := func(from, to int) {
			t.Helper()
			type upd struct{ c, status int }
			var all []upd
			for c := range customers {
				for s := from; s <= to; s++ {
					all = append(all, upd{c, s})
				}
			}
			rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			work := make(chan upd)
			errs := make(chan error, len(all))
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for u := range work {
						if err := apply(u.c, u.status); err != nil {
							errs <- fmt.Errorf("customer %d status %d: %w", u.c, u.status, err)
						}
					}
				}()
			}
			for _, u := range all {
				work <- u
			}
			close(work)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("ApplyOrder during a burst: %v", err)
			}
		}
		// settled waits until every customer's newest change is synced and
		// written (a bounded wait for the workers; the checks are counts).
		settled := func(newest int) {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for c := range customers {
				for {
					st, err := b.store.GetSync(b.ctx, key(c))
					must(t, err)
					remote, _ := syncer.snapshot()
					if st.DirtySeq > 0 && st.SyncedSeq == st.DirtySeq && remote[email(c)] == newest {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("customer %d: dirty %d synced %d, remote has %d, want %d", c, st.DirtySeq, st.SyncedSeq, remote[email(c)], newest)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}

		// 1. Queued: a burst before any worker runs leaves one job per customer.
		burst(1, 20)
		if n := jobCount(t, b.store, jobs.SyncArgs{}.Kind()); n != customers {
			t.Fatalf("after a burst of 20 changes each: %d sync jobs for %d customers, want one each", n, customers)
		}
		workers := river.NewWorkers()
		settler := &jobs.Settler{Store: b.store, Horizon: time.Hour, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
		river.AddWorker(workers, &jobs.SyncWorker{Store: b.store, Syncers: map[string]jobs.Syncer{"customer": syncer}, Settler: settler, Again: 5 * time.Millisecond})
		must(t, b.store.StartJobs(b.ctx, &river.Config{
			Queues:        map[string]river.QueueConfig{jobs.QueueSync: {MaxWorkers: customers * 2}},
			Workers:       workers,
			FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 10 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		}))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.store.StopJobs(ctx)
		})
		settled(20)
		if _, calls := syncer.snapshot(); len(calls) != customers {
			t.Fatalf("synced customers = %d, want %d", len(calls), customers)
		} else {
			for c := range customers {
				if calls[email(c)] != 1 {
					t.Errorf("customer %d: %d remote writes for one queued job, want 1", c, calls[email(c)])
				}
			}
		}

		// 2. Running: changes that land while each customer's sync runs add
		// no job; the running job writes again with the newest state.
		gate, entered := make(chan struct{}), make(chan string, customers)
		syncer.mu.Lock()
		syncer.gate, syncer.entered = gate, entered
		syncer.mu.Unlock()
		burst(21, 21)
		running := map[string]bool{}
		timeout := time.After(60 * time.Second)
		for len(running) < customers {
			select {
			case k := <-entered:
				running[k] = true
			case <-timeout:
				close(gate)
				t.Fatalf("%d of %d customer syncs started", len(running), customers)
			}
		}
		burst(22, 30)
		if n := jobCount(t, b.store, jobs.SyncArgs{}.Kind()); n != 2*customers {
			close(gate)
			t.Fatalf("changes landing while syncs run: %d sync jobs, want %d (one more per customer)", n, 2*customers)
		}
		syncer.mu.Lock()
		syncer.gate, syncer.entered = nil, nil
		syncer.mu.Unlock()
		close(gate)
		settled(30)
		_, calls := syncer.snapshot()
		for c := range customers {
			// One write from the queued burst, then the running job's stale
			// write and its rerun with the newest state.
			if calls[email(c)] != 3 {
				t.Errorf("customer %d: %d remote writes in all, want 3", c, calls[email(c)])
			}
		}
		if n := jobCount(t, b.store, jobs.SyncArgs{}.Kind()); n != 2*customers {
			t.Errorf("after the syncs settled: %d sync jobs, want %d", n, 2*customers)
		}

		// 3. Under a steady stream of changes while syncs run, no change is
		// ever lost (the newest is written and nothing is left dirty) and
		// changes coalesce.
		for round := 31; round <= 60; round++ {
			burst(round, round)
		}
		settled(60)
		_, after := syncer.snapshot()
		total := 0
		for c := range customers {
			total += after[email(c)] - calls[email(c)]
		}
		if total >= 30*customers {
			t.Errorf("%d remote writes for %d changes: nothing coalesced", total, 30*customers)
		}
		t.Logf("steady stream: %d changes over %d customers → %d remote writes", 30*customers, customers, total)
		dls, err := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.mer.ID})
		must(t, err)
		if len(dls) != 0 {
			t.Fatalf("dead letters: %+v", dls[0])
		}
	})
}
