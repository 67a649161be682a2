// Package storetest is the store conformance suite: one set of behaviour
// checks run against every domain.Store implementation (SQLite and
// Postgres), in the style of River's riverdrivertest.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/store/sqlstore"
)

// testJob is enqueued by the suite; the stores under test run no workers.
type testJob struct {
	EventID int64 `json:"event_id"`
}

func (testJob) Kind() string { return "storetest_job" }

func jobFor(ev *domain.InboundEvent) domain.JobArgs { return testJob{EventID: ev.ID} }

// Opener returns a fresh, migrated, empty store for one test.
type Opener func(t *testing.T) *sqlstore.Store

type bundle struct {
	ctx   context.Context
	store *sqlstore.Store
	mer   *domain.Merchant
	inst  *domain.Installation
}

func setup(t *testing.T, open Opener) *bundle {
	t.Helper()
	ctx := context.Background()
	s := open(t)
	m := &domain.Merchant{Name: "Acme"}
	must(t, s.CreateMerchant(ctx, m))
	wl := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorWhiplash, Account: "1", Secrets: domain.Secrets{"client_secret": "whiplash-app-secret"}}
	must(t, s.CreateConnection(ctx, wl))
	gg := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorGorgias, Account: "acme", Config: map[string]string{"base_url": "http://x"}, Secrets: domain.Secrets{"api_key": "gorgias-key"}}
	must(t, s.CreateConnection(ctx, gg))
	in := &domain.Installation{MerchantID: m.ID, Connector: "whiplash-gorgias", Connections: map[string]string{"whiplash": wl.ID, "gorgias": gg.ID}}
	must(t, s.CreateInstallation(ctx, in))
	return &bundle{ctx: ctx, store: s, mer: m, inst: in}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func (b *bundle) event(key string) *domain.InboundEvent {
	return &domain.InboundEvent{MerchantID: b.mer.ID, InstallationID: b.inst.ID, Vendor: "whiplash", EventType: "order.created", DedupKey: key, CustomerEmail: "a@example.com", Payload: json.RawMessage(`{"k":"` + key + `"}`)}
}

func jobCount(t *testing.T, s *sqlstore.Store, kind string) int {
	t.Helper()
	counts, err := s.JobCounts(context.Background())
	must(t, err)
	n := 0
	for _, c := range counts {
		if c.Kind == kind {
			n += c.Count
		}
	}
	return n
}

// Exercise runs the whole suite.
func Exercise(t *testing.T, open Opener) {
	t.Run("MerchantCRUD", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		got, err := b.store.GetMerchant(b.ctx, b.mer.ID)
		must(t, err)
		if got.Name != "Acme" || !got.CreatedAt.Equal(b.mer.CreatedAt) {
			t.Fatalf("GetMerchant = %+v, want %+v", got, b.mer)
		}
		_, err = b.store.GetMerchant(b.ctx, "mer_missing")
		wantCode(t, err, domain.ENOTFOUND)
		wantCode(t, b.store.CreateMerchant(b.ctx, &domain.Merchant{Name: " "}), domain.EINVALID)
		wantCode(t, b.store.CreateMerchant(b.ctx, &domain.Merchant{ID: b.mer.ID, Name: "dup"}), domain.ECONFLICT)
		list, err := b.store.ListMerchants(b.ctx)
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("ListMerchants = %d, want 1", len(list))
		}
	})

	t.Run("ConnectionSecretsEncryptedAndTenancy", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		other := &domain.Merchant{Name: "Other"}
		must(t, b.store.CreateMerchant(b.ctx, other))
		conns, err := b.store.ListConnections(b.ctx, b.mer.ID)
		must(t, err)
		if len(conns) != 2 {
			t.Fatalf("ListConnections = %d, want 2", len(conns))
		}
		c := conns[1]
		if c.Secrets["api_key"] != "gorgias-key" || c.Config["base_url"] != "http://x" {
			t.Fatalf("connection round trip: secrets %v config %v", c.Secrets.Names(), c.Config)
		}
		// At rest the secret is not readable.
		var raw []byte
		must(t, b.store.Backend().Read().QueryRow(b.ctx, `SELECT secrets FROM connections WHERE id = ?`, c.ID).Scan(&raw))
		if len(raw) == 0 || bytes.Contains(raw, []byte("gorgias-key")) {
			t.Fatalf("secret stored in clear or missing: %q", raw)
		}
		// Another merchant cannot read it.
		_, err = b.store.GetConnection(b.ctx, other.ID, c.ID)
		wantCode(t, err, domain.ENOTFOUND)
		// Rotation.
		c.Secrets["api_key"] = "rotated"
		must(t, b.store.UpdateConnection(b.ctx, c))
		got, err := b.store.GetConnection(b.ctx, b.mer.ID, c.ID)
		must(t, err)
		if got.Secrets["api_key"] != "rotated" {
			t.Fatal("rotated secret not persisted")
		}
		c.MerchantID = other.ID
		wantCode(t, b.store.UpdateConnection(b.ctx, c), domain.ENOTFOUND)
		wantCode(t, b.store.CreateConnection(b.ctx, &domain.Connection{MerchantID: b.mer.ID, Vendor: "nope", Account: "x"}), domain.EINVALID)
		wantCode(t, b.store.CreateConnection(b.ctx, &domain.Connection{MerchantID: "mer_missing", Vendor: "gorgias", Account: "x"}), domain.ENOTFOUND)
	})

	t.Run("InstallationValidationAndUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		other := &domain.Merchant{Name: "Other"}
		must(t, b.store.CreateMerchant(b.ctx, other))
		// Linking another merchant's connection is refused.
		bad := &domain.Installation{MerchantID: other.ID, Connector: "whiplash-gorgias", Connections: b.inst.Connections}
		wantCode(t, b.store.CreateInstallation(b.ctx, bad), domain.EINVALID)
		// Wrong role.
		swapped := &domain.Installation{MerchantID: b.mer.ID, Connector: "whiplash-gorgias", Connections: map[string]string{"whiplash": b.inst.Connections["gorgias"], "gorgias": b.inst.Connections["whiplash"]}}
		wantCode(t, b.store.CreateInstallation(b.ctx, swapped), domain.EINVALID)
		// Roles are vendors (which connector needs which is the registry's).
		wantCode(t, b.store.CreateInstallation(b.ctx, &domain.Installation{MerchantID: b.mer.ID, Connector: "whiplash-gorgias", Connections: map[string]string{"nope": b.inst.Connections["gorgias"]}}), domain.EINVALID)

		got, err := b.store.GetInstallation(b.ctx, b.mer.ID, b.inst.ID)
		must(t, err)
		if got.State != domain.InstallationPending || got.Connections["gorgias"] == "" {
			t.Fatalf("GetInstallation = %+v", got)
		}
		got.State = domain.InstallationActive
		got.RemoteIDs = map[string]string{"widget": "42"}
		got.Settings = map[string]string{"launch_date": "2026-11-01"}
		must(t, b.store.UpdateInstallation(b.ctx, got))
		again, err := b.store.GetInstallation(b.ctx, b.mer.ID, b.inst.ID)
		must(t, err)
		if again.State != domain.InstallationActive || again.RemoteIDs["widget"] != "42" || again.Settings["launch_date"] != "2026-11-01" {
			t.Fatalf("update not persisted: %+v", again)
		}
		// Degrade: only an active (or degraded) installation of the merchant.
		if ok, err := b.store.DegradeInstallation(b.ctx, other.ID, b.inst.ID, "x"); err != nil || ok {
			t.Fatalf("another merchant degraded it: %v %v", ok, err)
		}
		if ok, err := b.store.DegradeInstallation(b.ctx, b.mer.ID, b.inst.ID, "auth failure"); err != nil || !ok {
			t.Fatalf("DegradeInstallation = %v %v", ok, err)
		}
		if d, err := b.store.GetInstallation(b.ctx, b.mer.ID, b.inst.ID); err != nil || d.State != domain.InstallationDegraded || d.StateReason != "auth failure" {
			t.Fatalf("after DegradeInstallation: %+v %v", d, err)
		}
		list, err := b.store.ListInstallations(b.ctx, other.ID)
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("other merchant sees %d installations", len(list))
		}
		_, err = b.store.GetInstallation(b.ctx, b.mer.ID, "ins_missing")
		wantCode(t, err, domain.ENOTFOUND)
		// Another merchant's installation does not exist for this one; the
		// unscoped lookup (webhooks, workers) finds it.
		_, err = b.store.GetInstallation(b.ctx, other.ID, b.inst.ID)
		wantCode(t, err, domain.ENOTFOUND)
		found, err := b.store.LookupInstallation(b.ctx, b.inst.ID)
		must(t, err)
		if found.MerchantID != b.mer.ID {
			t.Fatalf("LookupInstallation = %+v", found)
		}
	})

	t.Run("IngestStoresEnqueuesAndDedups", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		evs := []*domain.InboundEvent{b.event("k1"), b.event("k2"), b.event("k1")}
		res, errs, err := b.store.IngestEvents(b.ctx, evs, jobFor)
		must(t, err)
		for _, e := range errs {
			must(t, e)
		}
		if res[0].Duplicate || res[1].Duplicate || !res[2].Duplicate || res[2].EventID != res[0].EventID || res[0].EventID == res[1].EventID {
			t.Fatalf("results = %+v", res)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 2 {
			t.Fatalf("jobs enqueued = %d, want 2", n)
		}
		// A later batch with an old key is a duplicate and enqueues nothing.
		res, _, err = b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("k2"), b.event("k3")}, jobFor)
		must(t, err)
		if !res[0].Duplicate || res[1].Duplicate {
			t.Fatalf("second batch results = %+v", res)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 3 {
			t.Fatalf("jobs enqueued = %d, want 3", n)
		}
		got, err := b.store.GetEvent(b.ctx, b.mer.ID, res[1].EventID)
		must(t, err)
		if got.DedupKey != "k3" || string(got.Payload) != `{"k":"k3"}` || got.ProcessedAt != nil || got.ReceivedAt.IsZero() {
			t.Fatalf("GetEvent = %+v", got)
		}
		list, err := b.store.ListEvents(b.ctx, domain.EventFilter{MerchantID: b.mer.ID, CustomerEmail: " A@example.com"})
		must(t, err)
		if len(list) != 3 {
			t.Fatalf("ListEvents = %d, want 3", len(list))
		}
	})

	t.Run("IngestBadRowDoesNotLoseOthers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		bad := b.event("bad")
		bad.InstallationID = "ins_missing" // violates the foreign key
		res, errs, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("a"), bad, b.event("c")}, jobFor)
		must(t, err)
		if errs[0] != nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("errs = %v", errs)
		}
		if res[0].EventID == 0 || res[2].EventID == 0 {
			t.Fatalf("good rows not stored: %+v", res)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 2 {
			t.Fatalf("jobs = %d, want 2", n)
		}
	})

	t.Run("IngestConcurrentDuplicates", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, _, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("same")}, jobFor)
				if err != nil {
					t.Error(err)
					return
				}
				if !res[0].Duplicate {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if fresh != 1 {
			t.Fatalf("%d goroutines stored the same event, want 1", fresh)
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 1 {
			t.Fatalf("jobs = %d, want 1", n)
		}
	})

	t.Run("ProcessedAndReplayEvent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		res, _, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("r")}, jobFor)
		must(t, err)
		id := res[0].EventID
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		must(t, b.store.MarkEventProcessed(b.ctx, id, at))
		ev, err := b.store.GetEvent(b.ctx, b.mer.ID, id)
		must(t, err)
		if ev.ProcessedAt == nil || !ev.ProcessedAt.Equal(at) {
			t.Fatalf("processed_at = %v, want %v", ev.ProcessedAt, at)
		}
		must(t, b.store.ReplayEvent(b.ctx, b.mer.ID, id, jobFor))
		ev, _ = b.store.GetEvent(b.ctx, b.mer.ID, id)
		if ev.ProcessedAt != nil {
			t.Fatal("replay must clear processed_at")
		}
		if n := jobCount(t, b.store, "storetest_job"); n != 2 {
			t.Fatalf("jobs = %d, want 2", n)
		}
		wantCode(t, b.store.ReplayEvent(b.ctx, b.mer.ID, 999999, jobFor), domain.ENOTFOUND)
		wantCode(t, b.store.MarkEventProcessed(b.ctx, 999999, at), domain.ENOTFOUND)
	})

	t.Run("Deliveries", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var ds []*domain.Delivery
		for i := 0; i < 5; i++ {
			ds = append(ds, &domain.Delivery{MerchantID: b.mer.ID, InstallationID: b.inst.ID, Vendor: "gorgias", Account: "acme", Method: "PUT", Endpoint: "PUT /api/customers/{id}/data", Status: 202, Latency: time.Duration(i+1) * time.Millisecond, Class: domain.ClassOK, EventID: 7})
		}
		ds = append(ds, &domain.Delivery{MerchantID: "mer_other", Vendor: "klaviyo", Method: "POST", Endpoint: "POST /api/events", Status: 429, Class: domain.ClassRateLimited, Error: "slow down"})
		must(t, b.store.RecordDeliveries(b.ctx, ds))
		got, err := b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{MerchantID: b.mer.ID})
		must(t, err)
		if len(got) != 5 || got[0].Latency != 5*time.Millisecond || got[0].Class != domain.ClassOK || got[0].EventID != 7 {
			t.Fatalf("ListDeliveries = %d rows, first %+v", len(got), got[0])
		}
		got, err = b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{MerchantID: "mer_other", Vendor: "klaviyo"})
		must(t, err)
		if len(got) != 1 || got[0].Status != 429 || got[0].Error != "slow down" {
			t.Fatalf("klaviyo deliveries = %+v", got)
		}
		// Every list is scoped: no merchant, no rows.
		_, err = b.store.ListDeliveries(b.ctx, domain.DeliveryFilter{Vendor: "klaviyo"})
		wantCode(t, err, domain.EINVALID)
		_, err = b.store.ListEvents(b.ctx, domain.EventFilter{})
		wantCode(t, err, domain.EINVALID)
		_, err = b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{})
		wantCode(t, err, domain.EINVALID)
	})

	t.Run("DeadLetterReplay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		res, _, err := b.store.IngestEvents(b.ctx, []*domain.InboundEvent{b.event("d")}, jobFor)
		must(t, err)
		must(t, b.store.MarkEventProcessed(b.ctx, res[0].EventID, time.Now()))
		dl := &domain.DeadLetter{MerchantID: b.mer.ID, InstallationID: b.inst.ID, EventID: res[0].EventID, JobKind: "storetest_job", JobArgs: json.RawMessage(fmt.Sprintf(`{"event_id":%d}`, res[0].EventID)), Attempts: 3, Class: domain.ClassTerminal, Error: "HTTP 422"}
		must(t, b.store.CreateDeadLetter(b.ctx, dl))
		pending, err := b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.mer.ID, Pending: true})
		must(t, err)
		if len(pending) != 1 || pending[0].Error != "HTTP 422" || pending[0].Attempts != 3 {
			t.Fatalf("pending = %+v", pending)
		}
		replay := func(dl *domain.DeadLetter) (domain.JobArgs, error) {
			var j testJob
			if err := json.Unmarshal(dl.JobArgs, &j); err != nil {
				return nil, err
			}
			return j, nil
		}
		before := jobCount(t, b.store, "storetest_job")
		wantCode(t, b.store.ReplayDeadLetter(b.ctx, "mer_other", dl.ID, replay), domain.ENOTFOUND)
		_, err = b.store.GetDeadLetter(b.ctx, "mer_other", dl.ID)
		wantCode(t, err, domain.ENOTFOUND)
		must(t, b.store.ReplayDeadLetter(b.ctx, b.mer.ID, dl.ID, replay))
		if n := jobCount(t, b.store, "storetest_job"); n != before+1 {
			t.Fatalf("jobs = %d, want %d", n, before+1)
		}
		wantCode(t, b.store.ReplayDeadLetter(b.ctx, b.mer.ID, dl.ID, replay), domain.ECONFLICT)
		got, err := b.store.GetDeadLetter(b.ctx, b.mer.ID, dl.ID)
		must(t, err)
		if got.ReplayedAt == nil {
			t.Fatal("replayed_at not set")
		}
		ev, _ := b.store.GetEvent(b.ctx, b.mer.ID, res[0].EventID)
		if ev.ProcessedAt != nil {
			t.Fatal("replaying a dead letter must clear its event's processed_at")
		}
		pending, _ = b.store.ListDeadLetters(b.ctx, domain.DeadLetterFilter{MerchantID: b.mer.ID, Pending: true})
		if len(pending) != 0 {
			t.Fatalf("still pending: %d", len(pending))
		}
		// A failing job builder leaves the letter pending.
		dl2 := &domain.DeadLetter{MerchantID: b.mer.ID, JobKind: "storetest_job", JobArgs: json.RawMessage(`{}`), Class: domain.ClassTerminal, Error: "x"}
		must(t, b.store.CreateDeadLetter(b.ctx, dl2))
		err = b.store.ReplayDeadLetter(b.ctx, b.mer.ID, dl2.ID, func(*domain.DeadLetter) (domain.JobArgs, error) {
			return nil, domain.Errorf(domain.EINVALID, "cannot replay")
		})
		wantCode(t, err, domain.EINVALID)
		got, _ = b.store.GetDeadLetter(b.ctx, b.mer.ID, dl2.ID)
		if got.ReplayedAt != nil {
			t.Fatal("failed replay marked the letter replayed")
		}
	})

	exerciseSync(t, open)
	exerciseIngestApply(t, open)
	exerciseCoalescing(t, open)
	exerciseTokens(t, open)
	exerciseActionAudit(t, open)
	exerciseActivity(t, open)
	exerciseRateBudgets(t, open)

	t.Run("Ready", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		must(t, b.store.Ready(b.ctx))
	})
}

func exerciseTokens(t *testing.T, open Opener) {
	t.Run("APITokens", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		other := &domain.Merchant{Name: "Other"}
		must(t, b.store.CreateMerchant(b.ctx, other))
		plain, tok, err := b.store.CreateAPIToken(b.ctx, b.mer.ID, "support desk")
		must(t, err)
		if len(plain) < 40 || plain[:3] != domain.TokenPrefix || tok.MerchantID != b.mer.ID {
			t.Fatalf("token %q %+v", plain, tok)
		}
		got, err := b.store.LookupAPIToken(b.ctx, plain)
		must(t, err)
		if got.ID != tok.ID || got.MerchantID != b.mer.ID || got.Name != "support desk" {
			t.Fatalf("lookup = %+v", got)
		}
		var raw []byte
		must(t, b.store.Backend().Read().QueryRow(b.ctx, `SELECT token_hash FROM api_tokens WHERE id = ?`, tok.ID).Scan(&raw))
		if bytes.Contains(raw, []byte(plain)) {
			t.Fatal("token stored in clear")
		}
		_, err = b.store.LookupAPIToken(b.ctx, plain+"x")
		wantCode(t, err, domain.ENOTFOUND)
		wantCode(t, b.store.DeleteAPIToken(b.ctx, other.ID, tok.ID), domain.ENOTFOUND) // not theirs
		list, err := b.store.ListAPITokens(b.ctx, b.mer.ID)
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("tokens = %d", len(list))
		}
		must(t, b.store.DeleteAPIToken(b.ctx, b.mer.ID, tok.ID))
		_, err = b.store.LookupAPIToken(b.ctx, plain)
		wantCode(t, err, domain.ENOTFOUND)
		_, _, err = b.store.CreateAPIToken(b.ctx, "mer_missing", "x")
		wantCode(t, err, domain.ENOTFOUND)
	})
}
