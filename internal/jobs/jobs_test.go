package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
	"switchyard/internal/jobs"
	"switchyard/internal/outbound"
	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// scripted answers each path with the next status of its script (200 after).
type scripted struct {
	mu     sync.Mutex
	script map[string][]int
	calls  map[string]int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.TrimPrefix(r.URL.Path, "/")
	s.calls[key]++
	st := 200
	if q := s.script[key]; len(q) > 0 {
		st, s.script[key] = q[0], q[1:]
	}
	if st == 429 {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(st)
}

func (s *scripted) set(key string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[key] = statuses
}

type bundle struct {
	ctx   context.Context
	store *sqlstore.Store
	back  *sqlitestore.Backend
	srv   *scripted
	inst  *domain.Installation
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	srv := &scripted{script: map[string][]int{}, calls: map[string]int{}}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	var st *sqlstore.Store
	client, err := outbound.NewClient(outbound.Config{Vendor: "test", BaseURL: hs.URL,
		Recorder: outbound.RecorderFunc(func(d *domain.Delivery) { _ = st.RecordDeliveries(context.Background(), []*domain.Delivery{d}) })})
	if err != nil {
		t.Fatal(err)
	}
	handler := jobs.EventHandlerFunc(func(ctx context.Context, in *domain.Installation, ev *domain.InboundEvent) error {
		_, err := client.Do(ctx, &outbound.Request{Method: "POST", Path: "/" + ev.DedupKey, Endpoint: "POST /{key}"})
		return err
	})
	back, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(bytes.Repeat([]byte{1}, 32))
	st = sqlstore.New(back, box, nil)
	workers := river.NewWorkers()
	settler := &jobs.Settler{Store: st, Horizon: time.Hour, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	river.AddWorker(workers, &jobs.ProcessEventWorker{Store: st, Handlers: map[string]jobs.EventHandler{"whiplash-gorgias": handler}, Settler: settler})
	rc := &river.Config{
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}}, Workers: workers,
		RetryPolicy: jobs.RetryPolicy{Base: 20 * time.Millisecond, Cap: 50 * time.Millisecond}, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}

	m := &domain.Merchant{Name: "m"}
	must(t, st.CreateMerchant(ctx, m))
	c1 := &domain.Connection{MerchantID: m.ID, Vendor: "whiplash", Account: "1"}
	c2 := &domain.Connection{MerchantID: m.ID, Vendor: "gorgias", Account: "acme"}
	must(t, st.CreateConnection(ctx, c1))
	must(t, st.CreateConnection(ctx, c2))
	in := &domain.Installation{MerchantID: m.ID, Connector: "whiplash-gorgias", State: domain.InstallationActive, Connections: map[string]string{"whiplash": c1.ID, "gorgias": c2.ID}}
	must(t, st.CreateInstallation(ctx, in))
	must(t, st.StartJobs(ctx, rc))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.StopJobs(sctx)
		back.Close()
	})
	return &bundle{ctx: ctx, store: st, back: back, srv: srv, inst: in}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) ingest(t *testing.T, key string) int64 {
	t.Helper()
	ev := &domain.InboundEvent{MerchantID: b.inst.MerchantID, InstallationID: b.inst.ID, Vendor: "whiplash", EventType: "order.created", DedupKey: key, Payload: json.RawMessage(`{}`)}
	res, _, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{ev}, jobs.EventJob)
	must(t, err)
	return res[0].EventID
}

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bundle) processed(id int64) func() bool {
	return func() bool {
		ev, err := b.store.GetEvent(b.ctx, b.inst.MerchantID, id)
		return err == nil && ev.ProcessedAt != nil
	}
}

func (b *bundle) jobOf(t *testing.T, eventID int64) *rivertype.JobRow {
	t.Helper()
	res, err := b.back.River().JobList(b.ctx, river.NewJobListParams().Kinds("process_event").First(100))
	must(t, err)
	for _, j := range res.Jobs {
		var a jobs.ProcessEventArgs
		_ = json.Unmarshal(j.EncodedArgs, &a)
		if a.EventID == eventID {
			return j
		}
	}
	t.Fatalf("no job for event %d", eventID)
	return nil
}

func TestRetryClassification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.set("flaky", 500, 503, 200)
	b.srv.set("limited", 429, 200)
	b.srv.set("bad", 422)
	ok, flaky, limited, bad := b.ingest(t, "ok"), b.ingest(t, "flaky"), b.ingest(t, "limited"), b.ingest(t, "bad")

	waitFor(t, "ok processed", b.processed(ok))
	waitFor(t, "flaky processed", b.processed(flaky))
	waitFor(t, "limited processed", b.processed(limited))
	waitFor(t, "bad dead-lettered", func() bool {
		dls, _ := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.inst.MerchantID, Pending: true})
		return len(dls) == 1
	})

	for _, id := range []int64{flaky, limited} {
		waitFor(t, "job completed", func() bool { return b.jobOf(t, id).State == rivertype.JobStateCompleted })
	}
	waitFor(t, "bad job cancelled", func() bool { return b.jobOf(t, bad).State == rivertype.JobStateCancelled })
	// 5xx: retried with backoff, each attempt spent and logged.
	if j := b.jobOf(t, flaky); j.Attempt != 3 || j.State != rivertype.JobStateCompleted {
		t.Fatalf("flaky job attempt=%d state=%s, want 3 completed", j.Attempt, j.State)
	}
	ds, err := b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{MerchantID: b.inst.MerchantID, EventID: flaky})
	must(t, err)
	if len(ds) != 3 || ds[2].Class != domain.ClassTransient || ds[2].Status != 500 || ds[0].Class != domain.ClassOK {
		t.Fatalf("flaky deliveries = %+v", ds)
	}
	// 429: snoozed for Retry-After without spending an attempt.
	if j := b.jobOf(t, limited); j.Attempt != 1 || j.State != rivertype.JobStateCompleted {
		t.Fatalf("limited job attempt=%d state=%s, want 1 completed", j.Attempt, j.State)
	}
	// Other 4xx: terminal → dead letter, job cancelled, event not processed.
	dls, _ := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.inst.MerchantID, Pending: true})
	dl := dls[0]
	if dl.EventID != bad || dl.Class != domain.ClassTerminal || dl.Attempts != 1 || !strings.Contains(dl.Error, "422") {
		t.Fatalf("dead letter = %+v", dl)
	}
	if j := b.jobOf(t, bad); j.State != rivertype.JobStateCancelled {
		t.Fatalf("bad job state = %s", j.State)
	}
	if b.processed(bad)() {
		t.Fatal("dead-lettered event marked processed")
	}
	// Replay from the stored event: the vendor now accepts it.
	must(t, b.store.ReplayDeadLetter(b.ctx, b.inst.MerchantID, dl.ID, jobs.ReplayJob))
	waitFor(t, "replayed event processed", b.processed(bad))
	b.srv.mu.Lock()
	calls := b.srv.calls["bad"]
	b.srv.mu.Unlock()
	if calls != 2 {
		t.Fatalf("vendor saw %d calls for the replayed event, want 2", calls)
	}
}

func TestSettleHorizonAndAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	settler := &jobs.Settler{Store: b.store, Horizon: time.Hour, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}
	transient := &outbound.Error{Vendor: "v", Class: domain.ClassTransient, Status: 502}
	row := func(attempt, max int, age time.Duration) *rivertype.JobRow {
		return &rivertype.JobRow{ID: 1, Kind: "process_event", Attempt: attempt, MaxAttempts: max, CreatedAt: now.Add(-age), EncodedArgs: []byte(`{"event_id":9}`)}
	}
	// Young job with attempts left: plain error → River retries.
	if err := settler.Settle(b.ctx, row(2, 10, time.Minute), domain.DeadLetter{MerchantID: b.inst.MerchantID, EventID: 9}, transient); err != transient {
		t.Fatalf("young transient: %v", err)
	}
	// Past the horizon: dead letter + cancel.
	err := settler.Settle(b.ctx, row(2, 10, 2*time.Hour), domain.DeadLetter{MerchantID: b.inst.MerchantID, EventID: 9}, transient)
	var cancel *rivertype.JobCancelError
	if !asCancel(err, &cancel) {
		t.Fatalf("past horizon: %T %v", err, err)
	}
	// Attempts exhausted: dead letter + cancel.
	if err := settler.Settle(b.ctx, row(10, 10, time.Minute), domain.DeadLetter{MerchantID: b.inst.MerchantID, EventID: 9}, transient); !asCancel(err, &cancel) {
		t.Fatalf("exhausted: %v", err)
	}
	// 429: snooze at least the Retry-After.
	err = settler.Settle(b.ctx, row(1, 10, 0), domain.DeadLetter{}, &outbound.Error{Class: domain.ClassRateLimited, RetryAfter: 7 * time.Second})
	var snooze *rivertype.JobSnoozeError
	if !asSnooze(err, &snooze) || snooze.Duration != 7*time.Second {
		t.Fatalf("429: %v", err)
	}
	dls, _ := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.inst.MerchantID})
	if len(dls) != 2 || dls[0].Class != domain.ClassTransient || dls[0].Attempts != 10 {
		t.Fatalf("dead letters = %+v", dls)
	}
}

func TestBackoffCappedWithJitter(t *testing.T) {
	t.Parallel()
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 3: 8 * time.Second, 12: 10 * time.Minute, 100: 10 * time.Minute} {
		for i := 0; i < 20; i++ {
			got := jobs.Backoff(attempt, 2*time.Second, 10*time.Minute)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("Backoff(%d) = %v, want %v ±25%%", attempt, got, want)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want domain.ErrorClass
	}{
		{nil, domain.ClassOK},
		{domain.Errorf(domain.EINVALID, "bad"), domain.ClassTerminal},
		{&outbound.Error{Class: domain.ClassRateLimited}, domain.ClassRateLimited},
		{context.Canceled, domain.ClassCanceled},
		{errStr("db locked"), domain.ClassTransient},
	} {
		if got := jobs.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

type errStr string

func (e errStr) Error() string { return string(e) }

// A 429's Retry-After snoozes the job for at most the cap: a vendor (or a
// host posing as one) cannot park work for an hour, or past the horizon.
func TestSnoozeCappedRetryAfter(t *testing.T) {
	t.Parallel()
	job := &rivertype.JobRow{ID: 1, Kind: "process_event", Attempt: 1, MaxAttempts: 5, CreatedAt: time.Now()}
	limited := func(d time.Duration) error {
		return &outbound.Error{Vendor: "gorgias", Class: domain.ClassRateLimited, Status: 429, RetryAfter: d}
	}
	for _, tc := range []struct {
		cap, retryAfter, want time.Duration
	}{
		{0, time.Hour, outbound.DefaultMaxRetryAfter},
		{time.Minute, time.Hour, time.Minute},
		{time.Minute, 10 * time.Second, 10 * time.Second},
		{time.Minute, 0, jobs.MinSnooze},
	} {
		s := &jobs.Settler{Horizon: time.Hour, Now: time.Now, Logger: slog.New(slog.DiscardHandler), MaxRetryAfter: tc.cap}
		err := s.Settle(context.Background(), job, domain.DeadLetter{}, limited(tc.retryAfter))
		var snooze *rivertype.JobSnoozeError
		if !errors.As(err, &snooze) || snooze.Duration != tc.want {
			t.Errorf("cap %v, Retry-After %v: %v, want a snooze of %v", tc.cap, tc.retryAfter, err, tc.want)
		}
	}
}
