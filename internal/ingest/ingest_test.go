package ingest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/ingest"
)

const (
	vendor     = domain.VendorWhiplash
	merchantID = "mer_1"
	installID  = "ins_1"
	connID     = "con_1"
)

// testSource is a webhook contract: X-Test-Signature is the hex HMAC-SHA256
// of the body under one of the secrets; the body is {"id","type","email"}.
type testSource struct{}

func (testSource) SecretNames() []string {
	return []string{"webhook_secret", "webhook_secret_previous"}
}

func (testSource) Verify(h http.Header, body []byte, secrets []string) error {
	got := h.Get("X-Test-Signature")
	for _, s := range secrets {
		if hmac.Equal([]byte(got), []byte(sign(s, body))) {
			return nil
		}
	}
	return errors.New("signature mismatch")
}

func (testSource) Parse(body []byte) (ingest.Parsed, error) {
	var b struct{ ID, Type, Email string }
	if err := json.Unmarshal(body, &b); err != nil {
		return ingest.Parsed{}, fmt.Errorf("error decoding: %w", err)
	}
	if b.ID == "" {
		return ingest.Parsed{}, errors.New("no id")
	}
	return ingest.Parsed{EventType: b.Type, DedupKey: b.ID, CustomerEmail: b.Email}, nil
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

type testJob struct{ eventID int64 }

func (testJob) Kind() string { return "test" }

// fakeDB is the state behind the fake store: one installation with one
// connection, and the stored events. Dedup keys starting with "invalid"
// or "broken" are bad rows (EINVALID, or an internal error).
type fakeDB struct {
	mu        sync.Mutex
	secret    string
	inst      *domain.Installation // nil: unknown installation
	lookupErr error
	batchErr  error
	lookups   int
	batches   [][]*domain.InboundEvent
	stored    map[string]*domain.InboundEvent // by dedup key
	nextID    int64
	// gate, when set by hold, holds the next IngestEvents call until it is
	// closed; entered is closed when that call begins.
	gate    chan struct{}
	entered chan struct{}
}

// hold makes the next IngestEvents call wait for release; it returns a
// channel closed when that call has begun.
// A failed test releases it too, so Close in the cleanup does not hang.
func (db *fakeDB) hold(t *testing.T) (entered <-chan struct{}, release func()) {
	db.mu.Lock()
	defer db.mu.Unlock()
	gate, in := make(chan struct{}), make(chan struct{})
	db.gate, db.entered = gate, in
	release = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	return in, release
}

func (db *fakeDB) rotate(secret string) {
	db.mu.Lock()
	db.secret = secret
	db.mu.Unlock()
}

func (db *fakeDB) lookupCount() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.lookups
}

func (db *fakeDB) batchSizes() []int {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []int
	for _, b := range db.batches {
		out = append(out, len(b))
	}
	return out
}

func (db *fakeDB) event(key string) *domain.InboundEvent {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.stored[key]
}

func (db *fakeDB) store() *mock.Store {
	return &mock.Store{
		LookupInstallationFn: func(_ context.Context, id string) (*domain.Installation, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			db.lookups++
			if db.lookupErr != nil {
				return nil, db.lookupErr
			}
			if db.inst == nil || id != db.inst.ID {
				return nil, domain.Errorf(domain.ENOTFOUND, "installation %s not found", id)
			}
			in := *db.inst
			return &in, nil
		},
		GetConnectionFn: func(_ context.Context, merchant, id string) (*domain.Connection, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if merchant != merchantID || id != connID {
				return nil, domain.Errorf(domain.ENOTFOUND, "connection %s not found", id)
			}
			return &domain.Connection{ID: connID, MerchantID: merchantID, Vendor: vendor, Secrets: domain.Secrets{"webhook_secret": db.secret}}, nil
		},
		IngestEventsFn: func(_ context.Context, evs []*domain.InboundEvent, job domain.JobBuilder) ([]domain.IngestResult, []error, error) {
			db.mu.Lock()
			db.batches = append(db.batches, slices.Clone(evs))
			gate, entered := db.gate, db.entered
			db.gate = nil
			db.mu.Unlock()
			if gate != nil {
				close(entered)
				<-gate
			}
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.batchErr != nil {
				return nil, nil, db.batchErr
			}
			res := make([]domain.IngestResult, len(evs))
			errs := make([]error, len(evs))
			for i, ev := range evs {
				switch {
				case strings.HasPrefix(ev.DedupKey, "invalid"):
					errs[i] = domain.Errorf(domain.EINVALID, "event %s violates a constraint", ev.DedupKey)
				case strings.HasPrefix(ev.DedupKey, "broken"):
					errs[i] = errors.New("sqlite: disk I/O error at page 7")
				case db.stored[ev.DedupKey] != nil:
					res[i] = domain.IngestResult{EventID: db.stored[ev.DedupKey].ID, Duplicate: true}
				default:
					db.nextID++
					ev.ID = db.nextID
					if j, ok := job(ev).(testJob); !ok || j.eventID != ev.ID {
						errs[i] = fmt.Errorf("job %v is not the event's", job(ev))
						continue
					}
					db.stored[ev.DedupKey] = ev
					res[i] = domain.IngestResult{EventID: ev.ID}
				}
			}
			return res, errs, nil
		},
	}
}

// clock is a settable time.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type bundle struct {
	db    *fakeDB
	h     *ingest.Handler
	mux   *http.ServeMux
	clock *clock
}

func setup(t *testing.T, cfg ingest.Config) *bundle {
	t.Helper()
	db := &fakeDB{secret: "s1", stored: map[string]*domain.InboundEvent{},
		inst: &domain.Installation{ID: installID, MerchantID: merchantID, Connector: "whiplash-gorgias", State: domain.InstallationActive,
			Connections: map[string]string{vendor: connID, domain.VendorGorgias: "con_2"}}}
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).UnixNano())
	cfg.Store = db.store()
	cfg.Sources = map[string]ingest.Source{vendor: testSource{}}
	cfg.Job = func(ev *domain.InboundEvent) domain.JobArgs { return testJob{eventID: ev.ID} }
	cfg.Now = c.now
	h := ingest.New(cfg)
	t.Cleanup(h.Close)
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{vendor}/{installation}", h)
	return &bundle{db: db, h: h, mux: mux, clock: c}
}

type reply struct {
	Status  string `json:"status"`
	EventID int64  `json:"event_id"`
	Error   string `json:"error"`
	code    int
	body    string
}

// post sends a webhook signed with secret ("" for no signature).
func (b *bundle) post(t *testing.T, path, body, secret string) reply {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if secret != "" {
		r.Header.Set("X-Test-Signature", sign(secret, []byte(body)))
	}
	w := httptest.NewRecorder()
	b.mux.ServeHTTP(w, r)
	rep := reply{code: w.Code, body: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Errorf("%s: body %q is not JSON: %v", path, w.Body.String(), err)
	}
	return rep
}

func hook(id string) string {
	return fmt.Sprintf(`{"id":%q,"type":"order.created","email":" A@Example.com "}`, id)
}

const path = "/hooks/" + vendor + "/" + installID

func TestStoresAVerifiedWebhookOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var results []string
	b := setup(t, ingest.Config{Observe: func(v, result string, _ time.Duration) {
		mu.Lock()
		results = append(results, v+":"+result)
		mu.Unlock()
	}})
	got := b.post(t, path, hook("e1"), "s1")
	if got.code != http.StatusAccepted || got.Status != "accepted" || got.EventID == 0 {
		t.Fatalf("first delivery: %d %s", got.code, got.body)
	}
	ev := b.db.event("e1")
	if ev == nil || ev.ID != got.EventID {
		t.Fatalf("stored %+v, answered event %d", ev, got.EventID)
	}
	want := domain.InboundEvent{ID: got.EventID, MerchantID: merchantID, InstallationID: installID, Vendor: vendor, EventType: "order.created",
		DedupKey: "e1", CustomerEmail: "a@example.com", Payload: json.RawMessage(hook("e1"))}
	if ev.MerchantID != want.MerchantID || ev.InstallationID != want.InstallationID || ev.Vendor != want.Vendor || ev.EventType != want.EventType ||
		ev.CustomerEmail != want.CustomerEmail || string(ev.Payload) != string(want.Payload) {
		t.Errorf("stored %+v, want %+v", ev, want)
	}

	again := b.post(t, path, hook("e1"), "s1")
	if again.code != http.StatusOK || again.Status != "duplicate" || again.EventID != got.EventID {
		t.Fatalf("redelivery: %d %s, want 200 duplicate of event %d", again.code, again.body, got.EventID)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(results, " ") != "whiplash:accepted whiplash:duplicate" {
		t.Errorf("observed %v", results)
	}
}

// Requests that arrive while a transaction commits share the next one, each
// answered with its own event.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	const batchMax, more = 8, 20
	b := setup(t, ingest.Config{BatchMax: batchMax, Writers: 1})
	entered, release := b.db.hold(t)

	replies := make([]reply, 1+more)
	var wg sync.WaitGroup
	send := func(i int) {
		defer wg.Done()
		replies[i] = b.post(t, path, hook(fmt.Sprintf("e%d", i)), "s1")
	}
	wg.Add(1)
	go send(0)
	<-entered // the first commit is under way and held
	for i := 1; i <= more; i++ {
		wg.Add(1)
		go send(i)
	}
	waitFor(t, "requests to queue", func() bool { return b.h.QueuedForTest() == more })
	release()
	wg.Wait()

	for i, r := range replies {
		ev := b.db.event(fmt.Sprintf("e%d", i))
		if r.code != http.StatusAccepted || ev == nil || r.EventID != ev.ID {
			t.Errorf("request %d: %d %s; stored %+v", i, r.code, r.body, ev)
		}
	}
	// One held commit, then the 20 waiting in full batches of 8: 8, 8, 4.
	if got, want := fmt.Sprint(b.db.batchSizes()), "[1 8 8 4]"; got != want {
		t.Errorf("IngestEvents batches %s, want %s", got, want)
	}
}

// A bad row fails only its own request; the batch's others land.
func TestOneBadRowInABatch(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{Writers: 1})
	if r := b.post(t, path, hook("dup"), "s1"); r.code != http.StatusAccepted {
		t.Fatalf("seeding the duplicate: %d %s", r.code, r.body)
	}
	entered, release := b.db.hold(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.post(t, path, hook("first"), "s1")
	}()
	<-entered

	keys := []string{"good1", "invalid1", "good2", "broken1", "dup"}
	replies := make([]reply, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = b.post(t, path, hook(k), "s1")
		}()
	}
	waitFor(t, "requests to queue", func() bool { return b.h.QueuedForTest() == len(keys) })
	release()
	wg.Wait()

	if got := b.db.batchSizes(); len(got) != 3 || got[2] != len(keys) {
		t.Fatalf("batches %v, want the %d rows in one", got, len(keys))
	}
	want := map[string]int{"good1": 202, "invalid1": 400, "good2": 202, "broken1": 503, "dup": 200}
	for i, k := range keys {
		r := replies[i]
		if r.code != want[k] {
			t.Errorf("%s: %d %s, want %d", k, r.code, r.body, want[k])
		}
		if stored := b.db.event(k) != nil; stored != (k != "invalid1" && k != "broken1") {
			t.Errorf("%s: stored = %v", k, stored)
		}
	}
	if r := replies[1]; !strings.Contains(r.Error, "violates a constraint") {
		t.Errorf("the invalid row's error %q is not its own", r.Error)
	}
	if r := replies[3]; strings.Contains(r.body, "disk") || r.Error != "could not store the event, retry later" {
		t.Errorf("the broken row's answer %q: want a retry-later message without the internal detail", r.body)
	}
}

// When the whole transaction fails, every request in it is told to retry.
func TestFailedBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	b.db.batchErr = errors.New("database is locked (5) SQLITE_BUSY")
	r := b.post(t, path, hook("e1"), "s1")
	if r.code != http.StatusServiceUnavailable || strings.Contains(r.body, "SQLITE") {
		t.Fatalf("%d %s, want 503 without the detail", r.code, r.body)
	}
}

// Requests that cannot be verified are refused before anything is stored.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		secret string
		setup  func(db *fakeDB)
		code   int
	}{
		{"no signature", path, hook("e1"), "", nil, http.StatusUnauthorized},
		{"wrong secret", path, hook("e1"), "s2", nil, http.StatusUnauthorized},
		{"signature of another body", path, hook("e1"), "", nil, http.StatusUnauthorized},
		{"body over MaxBody", path, hook("e1") + strings.Repeat(" ", 64), "s1", nil, http.StatusRequestEntityTooLarge},
		{"unknown vendor", "/hooks/zendesk/" + installID, hook("e1"), "s1", nil, http.StatusNotFound},
		{"a vendor without webhooks", "/hooks/gorgias/" + installID, hook("e1"), "s1", nil, http.StatusNotFound},
		{"unknown installation", "/hooks/whiplash/ins_2", hook("e1"), "s1", nil, http.StatusNotFound},
		{"uninstalled", path, hook("e1"), "s1", func(db *fakeDB) { db.inst.State = domain.InstallationUninstalled }, http.StatusNotFound},
		{"pending (not installed yet)", path, hook("e1"), "s1", func(db *fakeDB) { db.inst.State = domain.InstallationPending }, http.StatusConflict},
		{"pending, unsigned", path, hook("e1"), "", func(db *fakeDB) { db.inst.State = domain.InstallationPending }, http.StatusUnauthorized},
		{"no connection for the vendor", path, hook("e1"), "s1", func(db *fakeDB) { delete(db.inst.Connections, vendor) }, http.StatusNotFound},
		{"a connector that takes no such webhooks", path, hook("e1"), "s1", func(db *fakeDB) { db.inst.Connector = "pull-only" }, http.StatusNotFound},
		{"store unavailable", path, hook("e1"), "s1", func(db *fakeDB) { db.lookupErr = errors.New("connection refused") }, http.StatusServiceUnavailable},
		{"malformed body", path, `{"type":"x"}`, "s1", nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, ingest.Config{MaxBody: int64(len(hook("e1")) + 10),
				Receives: func(connector, v string) bool { return connector == "whiplash-gorgias" && v == vendor }})
			if tc.setup != nil {
				tc.setup(b.db)
			}
			r := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			switch {
			case tc.name == "signature of another body":
				r.Header.Set("X-Test-Signature", sign("s1", []byte(hook("e2"))))
			case tc.secret != "":
				r.Header.Set("X-Test-Signature", sign(tc.secret, []byte(tc.body)))
			}
			w := httptest.NewRecorder()
			b.mux.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Errorf("%d %s, want %d", w.Code, w.Body, tc.code)
			}
			if got := b.db.batchSizes(); len(got) != 0 {
				t.Errorf("stored batches %v", got)
			}
			if strings.Contains(w.Body.String(), "refused") {
				t.Errorf("internal detail in %s", w.Body)
			}
		})
	}
}

// Installations and secrets are cached for CacheTTL; Invalidate makes a
// rotated secret count at once.
func TestSecretCacheAndInvalidate(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	b := setup(t, ingest.Config{CacheTTL: ttl})
	expect := func(id, secret string, code int) {
		t.Helper()
		if r := b.post(t, path, hook(id), secret); r.code != code {
			t.Fatalf("%s signed with %s: %d %s, want %d", id, secret, r.code, r.body, code)
		}
	}
	expect("e1", "s1", 202)
	b.db.rotate("s2")
	b.clock.advance(ttl - time.Millisecond)
	expect("e2", "s2", 401) // within the TTL the cached secret is used
	expect("e3", "s1", 202)
	if n := b.db.lookupCount(); n != 1 {
		t.Fatalf("%d installation reads within the TTL, want 1", n)
	}

	b.h.Invalidate(installID)
	expect("e4", "s2", 202)
	expect("e5", "s1", 401)
	if n := b.db.lookupCount(); n != 2 {
		t.Fatalf("%d installation reads, want 2", n)
	}

	b.db.rotate("s3")
	b.clock.advance(ttl + time.Millisecond)
	expect("e6", "s3", 202) // the TTL passed: read again
	if n := b.db.lookupCount(); n != 3 {
		t.Fatalf("%d installation reads, want 3", n)
	}
}

// An unknown installation is remembered for at most a second, so one that
// is created shortly after starts receiving.
func TestUnknownInstallationCachedBriefly(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{CacheTTL: time.Minute})
	inst := b.db.inst
	b.db.mu.Lock()
	b.db.inst = nil
	b.db.mu.Unlock()
	if r := b.post(t, path, hook("e1"), "s1"); r.code != http.StatusNotFound {
		t.Fatalf("%d %s, want 404", r.code, r.body)
	}
	b.db.mu.Lock()
	b.db.inst = inst
	b.db.mu.Unlock()
	if r := b.post(t, path, hook("e1"), "s1"); r.code != http.StatusNotFound {
		t.Fatalf("within the second: %d %s, want the cached 404", r.code, r.body)
	}
	b.clock.advance(time.Second + time.Millisecond)
	if r := b.post(t, path, hook("e1"), "s1"); r.code != http.StatusAccepted {
		t.Fatalf("after a second: %d %s, want 202", r.code, r.body)
	}
}

// Close lets the requests already queued commit and be answered truthfully;
// later requests get 503 and store nothing; a second Close is a no-op.
func TestCloseWhileRequestsWait(t *testing.T) {
	t.Parallel()
	const waiting = 5
	b := setup(t, ingest.Config{Writers: 1})
	entered, release := b.db.hold(t)

	replies := make([]reply, 1+waiting)
	var wg sync.WaitGroup
	send := func(i int) {
		defer wg.Done()
		replies[i] = b.post(t, path, hook(fmt.Sprintf("e%d", i)), "s1")
	}
	wg.Add(1)
	go send(0)
	<-entered
	for i := 1; i <= waiting; i++ {
		wg.Add(1)
		go send(i)
	}
	waitFor(t, "requests to queue", func() bool { return b.h.QueuedForTest() == waiting })

	closed := make(chan struct{})
	go func() {
		b.h.Close()
		close(closed)
	}()
	waitFor(t, "Close to begin", b.h.ClosedForTest)
	if r := b.post(t, path, hook("late"), "s1"); r.code != http.StatusServiceUnavailable {
		t.Errorf("a request after Close: %d %s, want 503", r.code, r.body)
	}
	select {
	case <-closed:
		t.Fatal("Close returned before the queued requests were committed")
	default:
	}

	release()
	wg.Wait()
	<-closed
	for i, r := range replies {
		ev := b.db.event(fmt.Sprintf("e%d", i))
		if r.code != http.StatusAccepted || ev == nil || ev.ID != r.EventID {
			t.Errorf("queued request %d: %d %s; stored %+v", i, r.code, r.body, ev)
		}
	}
	if b.db.event("late") != nil {
		t.Error("the request after Close was stored")
	}
	b.h.Close() // again: a no-op
	if r := b.post(t, path, hook("later"), "s1"); r.code != http.StatusServiceUnavailable || b.db.event("later") != nil {
		t.Errorf("after Close: %d %s", r.code, r.body)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Config.Apply is asked about verified events only, with the installation,
// and what it returns travels with the event to the store.
func TestApplyTravelsWithTheEvent(t *testing.T) {
	t.Parallel()
	marker := &domain.EventApply{}
	var asked []string
	b := setup(t, ingest.Config{Apply: func(in *domain.Installation, ev *domain.InboundEvent) *domain.EventApply {
		asked = append(asked, in.ID+"/"+ev.DedupKey)
		if ev.DedupKey == "plain" {
			return nil
		}
		return marker
	}})
	if got := b.post(t, path, hook("e1"), "wrong"); got.code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", got.code, got.body)
	}
	if got := b.post(t, path, hook("e1"), "s1"); got.code != http.StatusAccepted {
		t.Fatalf("e1: %d %s", got.code, got.body)
	}
	if got := b.post(t, path, hook("plain"), "s1"); got.code != http.StatusAccepted {
		t.Fatalf("plain: %d %s", got.code, got.body)
	}
	if strings.Join(asked, " ") != installID+"/e1 "+installID+"/plain" {
		t.Fatalf("Apply asked about %v, want the two verified events", asked)
	}
	if ev := b.db.event("e1"); ev == nil || ev.Apply != marker {
		t.Fatalf("e1 reached the store with apply %+v, want the connector's", ev)
	}
	if ev := b.db.event("plain"); ev == nil || ev.Apply != nil {
		t.Fatalf("plain reached the store with apply %+v, want none", ev)
	}
}
