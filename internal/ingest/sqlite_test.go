package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/ingest"
	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// unmarshalable is a job River cannot encode: the bad row of a batch.
type unmarshalable struct{ F func() }

func (unmarshalable) Kind() string { return "test" }

// The same batch against the real SQLite store: one row whose job cannot be
// inserted fails alone (the store retries row by row), a duplicate inside
// the batch and one of an earlier event answer 200 with the stored id, and
// the 202s are exactly the events and jobs in the database.
func TestBadRowAgainstSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	back, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "ingest.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	if err := back.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sq := sqlstore.New(back, box, nil)
	m := &domain.Merchant{Name: "m"}
	must(t, sq.CreateMerchant(ctx, m))
	wl := &domain.Connection{MerchantID: m.ID, Vendor: vendor, Account: "1", Secrets: domain.Secrets{"webhook_secret": "s1"}}
	gg := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorGorgias, Account: "a"}
	must(t, sq.CreateConnection(ctx, wl))
	must(t, sq.CreateConnection(ctx, gg))
	in := &domain.Installation{MerchantID: m.ID, Connector: "whiplash-gorgias", State: domain.InstallationActive,
		Connections: map[string]string{vendor: wl.ID, domain.VendorGorgias: gg.ID}}
	must(t, sq.CreateInstallation(ctx, in))

	// The fake passes reads and writes through to SQLite and holds one
	// commit while the batch under test queues behind it.
	var mu sync.Mutex
	var gate, entered chan struct{}
	var batches []int
	st := &mock.Store{
		LookupInstallationFn: sq.LookupInstallation,
		GetConnectionFn:      sq.GetConnection,
		IngestEventsFn: func(ctx context.Context, evs []*domain.InboundEvent, job domain.JobBuilder) ([]domain.IngestResult, []error, error) {
			mu.Lock()
			batches = append(batches, len(evs))
			g, e := gate, entered
			gate = nil
			mu.Unlock()
			if g != nil {
				close(e)
				<-g
			}
			return sq.IngestEvents(ctx, evs, job)
		},
	}
	h := ingest.New(ingest.Config{Store: st, Sources: map[string]ingest.Source{vendor: testSource{}}, Writers: 1,
		Job: func(ev *domain.InboundEvent) domain.JobArgs {
			if strings.HasPrefix(ev.DedupKey, "broken") {
				return unmarshalable{}
			}
			return testJob{eventID: ev.ID}
		}})
	t.Cleanup(h.Close)
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{vendor}/{installation}", h)
	b := &bundle{h: h, mux: mux}
	p := "/hooks/" + vendor + "/" + in.ID

	seeded := b.post(t, p, hook("seen"), "s1")
	if seeded.code != http.StatusAccepted {
		t.Fatalf("seeding: %d %s", seeded.code, seeded.body)
	}
	mu.Lock()
	gate, entered = make(chan struct{}), make(chan struct{})
	g, e := gate, entered
	mu.Unlock()
	release := sync.OnceFunc(func() { close(g) })
	t.Cleanup(release)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.post(t, p, hook("first"), "s1")
	}()
	<-e
	keys := []string{"good1", "broken1", "good2", "good1", "seen"}
	replies := make([]reply, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = b.post(t, p, hook(k), "s1")
		}()
	}
	waitFor(t, "requests to queue", func() bool { return h.QueuedForTest() == len(keys) })
	release()
	wg.Wait()

	mu.Lock()
	if got := fmt.Sprint(batches); got != "[1 1 5]" {
		t.Errorf("batches %s, want [1 1 5]", got)
	}
	mu.Unlock()
	evs, err := sq.ListEvents(ctx, domain.EventFilter{MerchantID: m.ID})
	must(t, err)
	stored := map[string]int64{}
	for _, ev := range evs {
		stored[ev.DedupKey] = ev.ID
	}
	if len(stored) != 4 || stored["broken1"] != 0 {
		t.Errorf("stored %v, want seen, first, good1 and good2", stored)
	}
	// The requests queue in any order: of the two good1, the first stored
	// is accepted and the other is its duplicate.
	codes := map[string][]int{}
	for i, k := range keys {
		r := replies[i]
		codes[k] = append(codes[k], r.code)
		if r.code < 300 && r.EventID != stored[k] {
			t.Errorf("%s: answered event %d, stored %d", k, r.EventID, stored[k])
		}
	}
	slices.Sort(codes["good1"])
	if got, want := fmt.Sprint(codes), "map[broken1:[503] good1:[200 202] good2:[202] seen:[200]]"; got != want {
		t.Errorf("statuses %s, want %s", got, want)
	}
	counts, err := sq.JobCounts(ctx)
	must(t, err)
	jobs := 0
	for _, c := range counts {
		if c.Kind == "test" {
			jobs += c.Count
		}
	}
	if jobs != len(stored) {
		t.Errorf("%d jobs for %d stored events", jobs, len(stored))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
