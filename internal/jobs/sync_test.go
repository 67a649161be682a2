package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// recordingSyncer "writes" the customer's newest order status to a fake
// remote, slowly, so changes land while it runs.
type recordingSyncer struct {
	store  *sqlstore.Store
	mu     sync.Mutex
	remote map[string]int // key → status written
	calls  int
	// running and lastSeq check the coalescing itself: never two runs of
	// one key at once, and every run has something new to write.
	running map[string]bool
	lastSeq map[string]int64
	faults  []string
}

// syncTime is how long one remote write takes.
const syncTime = 5 * time.Millisecond

func (s *recordingSyncer) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	s.mu.Lock()
	if s.running[st.Key] {
		s.faults = append(s.faults, fmt.Sprintf("%s: two syncs at once", st.Key))
	}
	if st.DirtySeq <= s.lastSeq[st.Key] {
		s.faults = append(s.faults, fmt.Sprintf("%s: a sync at seq %d after one at %d: nothing new to write", st.Key, st.DirtySeq, s.lastSeq[st.Key]))
	}
	s.running[st.Key], s.lastSeq[st.Key] = true, st.DirtySeq
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running[st.Key] = false
		s.mu.Unlock()
	}()
	orders, err := s.store.ListCustomerOrders(ctx, in.ID, st.Key)
	if err != nil {
		return nil, err
	}
	time.Sleep(syncTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(orders) > 0 {
		s.remote[st.Key] = orders[0].Status
	}
	return domain.StateDelta{"remote_id": json.RawMessage(strconv.Quote("c-" + st.Key))}, nil
}

func TestSyncCoalescesAndNeverLosesTheLatest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	syncer := &recordingSyncer{remote: map[string]int{}, running: map[string]bool{}, lastSeq: map[string]int64{}}
	back, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	must(t, back.Migrate(ctx))
	box, _ := secret.New(bytes.Repeat([]byte{2}, 32))
	st := sqlstore.New(back, box, nil)
	syncer.store = st
	workers := river.NewWorkers()
	settler := &jobs.Settler{Store: st, Horizon: time.Hour, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	river.AddWorker(workers, &jobs.SyncWorker{Store: st, Syncers: map[string]jobs.Syncer{"customer": syncer}, Settler: settler, Again: 5 * time.Millisecond})
	rc := &river.Config{
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}, jobs.QueueSync: {MaxWorkers: 8}}, Workers: workers,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}

	m := &domain.Merchant{Name: "m"}
	must(t, st.CreateMerchant(ctx, m))
	c1 := &domain.Connection{MerchantID: m.ID, Vendor: "whiplash", Account: "1"}
	c2 := &domain.Connection{MerchantID: m.ID, Vendor: "gorgias", Account: "a"}
	must(t, st.CreateConnection(ctx, c1))
	must(t, st.CreateConnection(ctx, c2))
	in := &domain.Installation{MerchantID: m.ID, Connector: "whiplash-gorgias", State: domain.InstallationActive, Connections: map[string]string{"whiplash": c1.ID, "gorgias": c2.ID}}
	must(t, st.CreateInstallation(ctx, in))
	must(t, st.StartJobs(ctx, rc))
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st.StopJobs(sctx)
	}()

	const customers, updates = 10, 40
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	started := time.Now()
	for c := 0; c < customers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("c%d@example.com", c)
			for u := 1; u <= updates; u++ {
				o := &domain.OrderSnapshot{MerchantID: m.ID, InstallationID: in.ID, StoreID: "1", OrderID: email, CustomerEmail: email, Status: u,
					SourceUpdatedAt: base.Add(time.Duration(u) * time.Minute), Data: json.RawMessage(`{}`)}
				key := domain.SyncKey{InstallationID: in.ID, Kind: "customer", Key: email}
				if _, err := st.ApplyOrder(ctx, o, func(*domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs) {
					return []domain.SyncKey{key}, []domain.JobArgs{jobs.NewSync(key, time.Now(), 0)}
				}); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	stream := time.Since(started)
	deadline := time.Now().Add(30 * time.Second)
	for c := 0; c < customers; c++ {
		key := domain.SyncKey{InstallationID: in.ID, Kind: "customer", Key: fmt.Sprintf("c%d@example.com", c)}
		for {
			s, err := st.GetSync(ctx, key)
			must(t, err)
			if s.DirtySeq == updates && s.SyncedSeq == updates {
				var book struct {
					RemoteID string `json:"remote_id"`
				}
				if err := s.Decode(&book); err != nil || book.RemoteID != "c-"+key.Key {
					t.Fatalf("bookkeeping not saved: %+v", s.State)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: dirty %d synced %d", key.Key, s.DirtySeq, s.SyncedSeq)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	syncer.mu.Lock()
	defer syncer.mu.Unlock()
	for c := 0; c < customers; c++ {
		if got := syncer.remote[fmt.Sprintf("c%d@example.com", c)]; got != updates {
			t.Errorf("customer %d: remote has status %d, want the latest (%d)", c, got, updates)
		}
	}
	// Coalescing bound. Each customer's 40 updates arrive while its syncs
	// run; the running and lastSeq checks above hold exactly (one run per key
	// at a time, each with something new), and the count says how well runs
	// are shared: a run covers every update that landed during the previous
	// run, its snooze (Again) and River's fetch and completion round trip,
	// which is several times the 1 ms update pacing. Measured over 35 runs
	// (-count=5..10, on a loaded 2-core machine): 21–49 runs for 10
	// customers, 2.1–4.9 per customer, median about 3.5. The bound, 7 per
	// customer, leaves 1.4× headroom over the worst run seen and fails when
	// runs cover half as many updates as the median run does now (a 2×
	// degradation); the old check failed only with one run per update.
	const maxRunsPerCustomer = 7
	if syncer.calls > maxRunsPerCustomer*customers {
		t.Errorf("%d sync runs for %d updates of %d customers: coalescing degraded (bound %d per customer)", syncer.calls, customers*updates, customers, maxRunsPerCustomer)
	}
	t.Logf("%d updates over %d customers in %v → %d remote writes", customers*updates, customers, stream, syncer.calls)
	for _, f := range syncer.faults {
		t.Error(f)
	}
	dls, _ := st.ListDeadLetters(ctx, domain.DeadLetterFilter{MerchantID: m.ID})
	if len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls[0])
	}
}
