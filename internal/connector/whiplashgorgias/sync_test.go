package whiplashgorgias_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
)

// Endpoints as the emulator counts them.
const (
	epFind   = "GET /api/customers"
	epCreate = "POST /api/customers"
	epGet    = "GET /api/customers/{id}"
	epData   = "PUT /api/customers/{id}/data"
)

// fakeStore serves what Sync reads: the Gorgias connection and the stored
// orders of each email. Any other store method panics (nil interface).
type fakeStore struct {
	domain.Store
	conn *domain.Connection

	mu     sync.Mutex
	orders map[string][]*domain.OrderSnapshot
	// saved is what SaveSyncState stored during a sync, by email.
	saved map[string]domain.StateDelta
	// failSave fails SaveSyncState (the store is unreachable).
	failSave bool
}

func (s *fakeStore) SaveSyncState(_ context.Context, k domain.SyncKey, d domain.StateDelta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave {
		return domain.Errorf(domain.EUNAVAILABLE, "store unreachable")
	}
	if s.saved == nil {
		s.saved = map[string]domain.StateDelta{}
	}
	if s.saved[k.Key] == nil {
		s.saved[k.Key] = domain.StateDelta{}
	}
	for f, v := range d {
		s.saved[k.Key][f] = v
	}
	return nil
}

// persisted returns the sync state as stored: st (what was saved before
// the sync ran) with what the sync saved while it ran merged in.
func (s *fakeStore) persisted(st *domain.SyncState) *domain.SyncState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &domain.SyncState{SyncKey: st.SyncKey, State: domain.StateDelta{}}
	for f, v := range st.State {
		out.State[f] = v
	}
	for f, v := range s.saved[st.Key] {
		out.State[f] = v
	}
	return out
}

func (s *fakeStore) GetConnection(_ context.Context, merchantID, id string) (*domain.Connection, error) {
	if merchantID != s.conn.MerchantID || id != s.conn.ID {
		return nil, domain.Errorf(domain.ENOTFOUND, "no connection %s", id)
	}
	return s.conn, nil
}

func (s *fakeStore) GetSync(_ context.Context, k domain.SyncKey) (*domain.SyncState, error) {
	return &domain.SyncState{SyncKey: k}, nil
}

func (s *fakeStore) ListCustomerOrders(_ context.Context, _, email string) ([]*domain.OrderSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orders[email], nil
}

// order stores the newest snapshot of one order (one per email here).
func (s *fakeStore) order(t *testing.T, email, name string, status int, at time.Time) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": 77, "shop_id": 1, "status": status, "email": email, "full_name": name,
		"shipping_address_1": "1 Main St", "shipping_city": "Austin", "created_at": at.Add(-time.Hour).Format(time.RFC3339),
		"updated_at": at.Format(time.RFC3339), "order_items": []map[string]any{{"id": 770, "sku": "TEE-BLK-M", "quantity": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[email] = []*domain.OrderSnapshot{{InstallationID: "in1", StoreID: "1", OrderID: "77", CustomerEmail: email,
		Status: status, SourceUpdatedAt: at, Data: b}}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	emu   *gorgiasemu.Emulator
	store *fakeStore
	conn  *whiplashgorgias.Connector
	in    *domain.Installation
	g     *gorgias.Client // "another app" on the same account
	clk   *clock
	ctx   context.Context
}

// setup runs a Gorgias emulator (behind wrap, when set) and the connector
// against it, with a fake clock for the connector.
func setup(t *testing.T, ecfg gorgiasemu.Config, wrap func(http.Handler) http.Handler) *testBundle {
	t.Helper()
	emu := gorgiasemu.New(ecfg)
	var h http.Handler = emu
	if wrap != nil {
		h = wrap(emu)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	clk := &clock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	fs := &fakeStore{orders: map[string][]*domain.OrderSnapshot{}, conn: &domain.Connection{ID: "g1", MerchantID: "m1", Vendor: domain.VendorGorgias, Account: "acme",
		Config:  map[string]string{"base_url": srv.URL, "email": gorgiasemu.DefaultUserEmail},
		Secrets: domain.Secrets{"api_key": gorgiasemu.DefaultAPIKey}}}
	allow, aerr := outbound.ParseAllowList([]string{srv.Listener.Addr().String()}) // the emulator: operator-allowed
	if aerr != nil {
		t.Fatal(aerr)
	}
	d := connector.Deps{Store: fs, Clients: &connector.Clients{Store: fs, HTTP: srv.Client(), Now: clk.Now, Allow: allow}, Now: clk.Now}
	g, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: srv.URL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{emu: emu, store: fs, conn: whiplashgorgias.New(d), clk: clk, g: g, ctx: context.Background(),
		in: &domain.Installation{ID: "in1", MerchantID: "m1", Connections: map[string]string{domain.VendorGorgias: "g1"}}}
}

// sync runs one sync of email and merges the returned delta into st as the
// store does (a null field deletes).
func (b *testBundle) sync(st *domain.SyncState) error {
	delta, err := b.conn.Sync(b.ctx, b.in, st)
	if st.State == nil {
		st.State = domain.StateDelta{}
	}
	for k, v := range delta {
		if string(v) == "null" {
			delete(st.State, k)
			continue
		}
		st.State[k] = v
	}
	return err
}

func newState(email string) *domain.SyncState {
	return &domain.SyncState{SyncKey: domain.SyncKey{InstallationID: "in1", Kind: whiplashgorgias.SyncKind, Key: email}, State: domain.StateDelta{}}
}

// calls returns the emulator's call count of an endpoint.
func (b *testBundle) calls(endpoint string) int64 {
	return b.emu.Snapshot().Accounts["acme"].CallsByEndpoint[endpoint]
}

// customer returns the emulator's customer with this primary email and its
// data as an object.
func (b *testBundle) customer(t *testing.T, email string) (int64, map[string]json.RawMessage) {
	t.Helper()
	for _, c := range b.emu.Snapshot().Accounts["acme"].Customers {
		raw, _ := json.Marshal(c)
		var v struct {
			ID    int64                      `json:"id"`
			Email string                     `json:"email"`
			Data  map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		if v.Email == email {
			return v.ID, v.Data
		}
	}
	return 0, nil
}

// statusWritten returns the status code of the first order in our section.
func statusWritten(t *testing.T, data map[string]json.RawMessage) int {
	t.Helper()
	var d whiplashgorgias.Data
	if raw, ok := data[whiplashgorgias.DataKey]; !ok || json.Unmarshal(raw, &d) != nil || len(d.Orders) == 0 {
		t.Fatalf("no whiplash section in %s", data)
	}
	return d.Orders[0].StatusCode
}

func cachedID(t *testing.T, st *domain.SyncState) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"gorgias_customer_id"`
	}
	if err := st.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// A new customer is created with email, name and channel only; the widget
// document is then written with PUT …/data (issue 10 item 2).
func TestNewCustomerDataIsWrittenByPut(t *testing.T) {
	t.Parallel()
	b := setup(t, gorgiasemu.Config{}, nil)
	const email = "new@example.com"
	b.store.order(t, email, "Nia New", 100, b.clk.Now())
	st := newState(email)
	if err := b.sync(st); err != nil {
		t.Fatal(err)
	}
	acme := b.emu.Snapshot().Accounts["acme"]
	if acme.CallsByEndpoint[epCreate] != 1 || acme.CreateDataIgnored != 0 || acme.CallsByEndpoint[epData] != 1 {
		t.Fatalf("creates %d (with data: %d), data PUTs %d; want 1, 0, 1", acme.CallsByEndpoint[epCreate], acme.CreateDataIgnored, acme.CallsByEndpoint[epData])
	}
	id, data := b.customer(t, email)
	if id == 0 || statusWritten(t, data) != 100 || cachedID(t, st) != id {
		t.Fatalf("customer %d data %s, cached %d", id, data, cachedID(t, st))
	}
}

// A customer merged away with the documented bare 301 is found again by
// email and written once; the survivor's id is cached (issue 10 item 3).
// The 301 may come from the write, or from the re-read after ForeignTTL.
func TestMergedCustomerBare301IsFoundAgainByEmail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		afterTTL  bool
		wantGets  int64
		wantPuts  int64
		wantFinds int64
	}{
		{"at the write", false, 0, 2, 1},
		{"at the re-read after the TTL", true, 1, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, gorgiasemu.Config{}, nil)
			const email = "merge@example.com"
			b.store.order(t, email, "Mia Merge", 100, b.clk.Now())
			st := newState(email)
			if err := b.sync(st); err != nil {
				t.Fatal(err)
			}
			source := cachedID(t, st)
			target, err := b.g.CreateCustomer(b.ctx, gorgias.CustomerFields{Email: "mia.phone@example.com", Name: "Mia Merge"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.g.MergeCustomers(b.ctx, gorgias.ID(source), target.ID, gorgias.CustomerFields{Email: email}); err != nil {
				t.Fatal(err)
			}
			if tt.afterTTL {
				b.clk.Add(whiplashgorgias.DefaultForeignTTL + time.Second)
			}
			finds, gets, puts, calls := b.calls(epFind), b.calls(epGet), b.calls(epData), b.emu.Snapshot().Accounts["acme"].Calls
			b.store.order(t, email, "Mia Merge", 300, b.clk.Now().Add(time.Hour))
			if err := b.sync(st); err != nil {
				t.Fatalf("sync after the merge: %v", err)
			}
			f, g, p := b.calls(epFind)-finds, b.calls(epGet)-gets, b.calls(epData)-puts
			if f != tt.wantFinds || g != tt.wantGets || p != tt.wantPuts {
				t.Fatalf("after the merge: %d finds, %d reads, %d data PUTs; want %d, %d, %d", f, g, p, tt.wantFinds, tt.wantGets, tt.wantPuts)
			}
			if n := b.emu.Snapshot().Accounts["acme"].Calls - calls; n != f+g+p {
				t.Fatalf("%d calls, want only those %d", n, f+g+p)
			}
			id, data := b.customer(t, email)
			if id != int64(target.ID) || cachedID(t, st) != id || statusWritten(t, data) != 300 {
				t.Fatalf("survivor %d (cached %d), status %d; want %d with 300", id, cachedID(t, st), statusWritten(t, data), target.ID)
			}
		})
	}
}

// A search that answers a different customer (here: a Gorgias that ignores
// the email filter) is not found: the customer is created, and the other
// customer's data is never written (issue 10 item 4).
func TestSearchAnsweringAnotherCustomerIsNotFound(t *testing.T) {
	t.Parallel()
	ignoreFilter := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/api/customers" {
				q := r.URL.Query()
				q.Del("email")
				r.URL.RawQuery = q.Encode()
			}
			h.ServeHTTP(w, r)
		})
	}
	b := setup(t, gorgiasemu.Config{}, ignoreFilter)
	other, err := b.g.CreateCustomer(b.ctx, gorgias.CustomerFields{Email: "someone.else@example.com", Name: "Someone Else"})
	if err != nil {
		t.Fatal(err)
	}
	const email = "pat@example.com"
	b.store.order(t, email, "Pat", 100, b.clk.Now())
	st := newState(email)
	if err := b.sync(st); err != nil {
		t.Fatal(err)
	}
	id, data := b.customer(t, email)
	if id == 0 || id == int64(other.ID) || cachedID(t, st) != id || statusWritten(t, data) != 100 {
		t.Fatalf("pat's customer %d (cached %d); the other customer is %d", id, cachedID(t, st), other.ID)
	}
	if _, otherData := b.customer(t, "someone.else@example.com"); len(otherData) != 0 {
		t.Fatalf("the other customer got data: %s", otherData)
	}
}

// A sync state that cannot be read is an error, and nothing is written: a
// lost copy of others' keys would make the PUT erase them.
func TestMalformedStateIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t, gorgiasemu.Config{}, nil)
	const email = "bad@example.com"
	b.store.order(t, email, "Bo Bad", 100, b.clk.Now())
	st := newState(email)
	st.State["gorgias_customer_id"] = json.RawMessage(`1234`)
	st.State["foreign_data"] = json.RawMessage(`"{\"other_app\":1}"`) // a string, not an object
	err := b.sync(st)
	if domain.ErrorCode(err) != domain.EINTERNAL {
		t.Fatalf("err = %v, want EINTERNAL", err)
	}
	if n := b.emu.Snapshot().Accounts["acme"].Calls; n != 0 {
		t.Fatalf("%d Gorgias calls with an unreadable state, want 0", n)
	}
	if string(st.State["foreign_data"]) != `"{\"other_app\":1}"` {
		t.Fatalf("the malformed field was changed: %s", st.State["foreign_data"])
	}
}

// Customer data is shared: the keys other apps own are kept through the
// first write to a customer that already has them, later updates, the
// re-read after ForeignTTL (their newer value wins), and a customer
// re-created by switchyard; a deleted customer's keys are not resurrected
// on the re-created one (SPEC §3 C1; issue 11 item 5).
func TestKeepsKeysOwnedByOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, gorgiasemu.Config{}, nil)
	const email = "shared@example.com"
	otherApp := func(points int) map[string]any {
		return map[string]any{"other_app": map[string]any{"points": points}}
	}
	// The other app created the customer and holds its key.
	pre, err := b.g.CreateCustomer(b.ctx, gorgias.CustomerFields{Email: email, Name: "Sam Shared"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.g.SetCustomerData(b.ctx, pre.ID, otherApp(10), time.Time{}); err != nil {
		t.Fatal(err)
	}
	points := func(data map[string]json.RawMessage) int {
		t.Helper()
		var v struct{ Points int }
		if raw, ok := data["other_app"]; !ok || json.Unmarshal(raw, &v) != nil {
			return -1
		}
		return v.Points
	}
	st := newState(email)
	at := b.clk.Now()
	step := func(name string, status int, wantPoints int) map[string]json.RawMessage {
		t.Helper()
		at = at.Add(time.Minute)
		b.store.order(t, email, "Sam Shared", status, at)
		if err := b.sync(st); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, data := b.customer(t, email)
		if got := statusWritten(t, data); got != status {
			t.Fatalf("%s: status %d, want %d", name, got, status)
		}
		if got := points(data); got != wantPoints {
			t.Fatalf("%s: other_app points %d, want %d (data %s)", name, got, wantPoints, data)
		}
		return data
	}

	step("first write to an existing customer", 100, 10)
	step("update", 200, 10)

	// The other app changes its key (read, modify, write back ours too).
	_, data := b.customer(t, email)
	doc := otherApp(20)
	doc[whiplashgorgias.DataKey] = data[whiplashgorgias.DataKey]
	if err := b.g.SetCustomerData(b.ctx, pre.ID, doc, time.Time{}); err != nil {
		t.Fatal(err)
	}
	gets := b.calls(epGet)
	b.clk.Add(whiplashgorgias.DefaultForeignTTL + time.Second)
	step("re-read after the TTL", 300, 20)
	if n := b.calls(epGet) - gets; n != 1 {
		t.Fatalf("%d customer reads after the TTL, want 1", n)
	}

	// The customer is deleted in Gorgias: switchyard re-creates it, without
	// the deleted customer's keys.
	if err := b.g.DeleteCustomer(b.ctx, pre.ID); err != nil {
		t.Fatal(err)
	}
	step("re-created after a delete", 350, -1)
	recreated, _ := b.customer(t, email)
	if recreated == int64(pre.ID) || cachedID(t, st) != recreated {
		t.Fatalf("re-created customer %d (cached %d), deleted %d", recreated, cachedID(t, st), pre.ID)
	}

	// On the customer switchyard created, the other app adds its key again.
	_, data = b.customer(t, email)
	doc = otherApp(30)
	doc[whiplashgorgias.DataKey] = data[whiplashgorgias.DataKey]
	if err := b.g.SetCustomerData(b.ctx, gorgias.ID(recreated), doc, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b.clk.Add(whiplashgorgias.DefaultForeignTTL + time.Second)
	step("customer created by switchyard, after the TTL", 360, 30)
	step("and the next update", 370, 30)
}

// Steady state is one call per sync: the cached id, one PUT.
func TestSteadyStateIsOneCall(t *testing.T) {
	t.Parallel()
	b := setup(t, gorgiasemu.Config{}, nil)
	const email = "steady@example.com"
	st := newState(email)
	for i := range 4 {
		b.store.order(t, email, "Stu Steady", 100+i, b.clk.Now().Add(time.Duration(i)*time.Minute))
		before := b.emu.Snapshot().Accounts["acme"].Calls
		if err := b.sync(st); err != nil {
			t.Fatal(err)
		}
		calls := b.emu.Snapshot().Accounts["acme"].Calls - before
		if want := map[bool]int64{true: 3, false: 1}[i == 0]; calls != want {
			t.Fatalf("sync %d: %d calls, want %d", i, calls, want)
		}
	}
}

// A state written by the old string bridge (customer_id and foreign as
// strings) reads as "no cached customer": the customer is found again by
// email (bringing others' keys fresh) and the old fields are deleted.
func TestStringBridgeStateIsReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t, gorgiasemu.Config{}, nil)
	const email = "old@example.com"
	pre, err := b.g.CreateCustomer(b.ctx, gorgias.CustomerFields{Email: email, Name: "Olga Old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.g.SetCustomerData(b.ctx, pre.ID, map[string]any{"other_app": 1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b.store.order(t, email, "Olga Old", 100, b.clk.Now())
	st := newState(email)
	legacy, err := domain.StateOf(map[string]string{"customer_id": "999", "foreign": `{"stale":1}`, "name": "Olga Old",
		"version": b.clk.Now().Add(-time.Hour).Format(time.RFC3339Nano), "foreign_at": b.clk.Now().Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	st.State = legacy
	if err := b.sync(st); err != nil {
		t.Fatal(err)
	}
	_, data := b.customer(t, email)
	if cachedID(t, st) != int64(pre.ID) || string(data["other_app"]) != "1" || data["stale"] != nil || statusWritten(t, data) != 100 {
		t.Fatalf("cached %d (want %d), data %s", cachedID(t, st), pre.ID, data)
	}
	for _, f := range []string{"customer_id", "foreign"} {
		if _, ok := st.State[f]; ok {
			t.Errorf("old field %s kept: %s", f, st.State[f])
		}
	}
}

// customerName returns the emulator's name of the customer with this email.
func (b *testBundle) customerName(t *testing.T, email string) string {
	t.Helper()
	for _, c := range b.emu.Snapshot().Accounts["acme"].Customers {
		raw, _ := json.Marshal(c)
		var v struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		if v.Email == email {
			return v.Name
		}
	}
	return ""
}

// A crash after the name PUT and before the sync's state is saved must not
// leave Gorgias with a stale name for good: the state records the intent
// before the PUT, so the next sync (from what was stored) writes the name
// again. The crash is simulated by dropping the delta the sync returns and
// keeping only what it stored while it ran.
func TestNameWriteSurvivesACrashBeforeTheStateSave(t *testing.T) {
	t.Parallel()
	const email = "rename@example.com"
	var b *testBundle
	// atPut is the stored state at the moment Gorgias receives the name PUT.
	var mu sync.Mutex
	var atPut *domain.SyncState
	var st *domain.SyncState
	b = setup(t, gorgiasemu.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && !strings.HasSuffix(r.URL.Path, "/data") {
				mu.Lock()
				if atPut == nil {
					atPut = b.store.persisted(st)
				}
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	b.store.order(t, email, "Old Name", 100, b.clk.Now())
	st = newState(email)
	if err := b.sync(st); err != nil {
		t.Fatal(err)
	}
	if got := b.customerName(t, email); got != "Old Name" {
		t.Fatalf("name %q after the first sync", got)
	}
	// The customer's newest order carries a new name; the sync PUTs it, then
	// the process dies before the state is saved.
	b.store.order(t, email, "New Name", 300, b.clk.Now().Add(time.Hour))
	mu.Lock()
	atPut = nil
	mu.Unlock()
	before := st
	if _, err := b.conn.Sync(b.ctx, b.in, before); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	seen := atPut
	mu.Unlock()
	if seen == nil {
		t.Fatal("the sync never PUT the name")
	}
	var cs struct {
		Name    string `json:"name"`
		Pending string `json:"name_pending"`
	}
	if err := seen.Decode(&cs); err != nil {
		t.Fatal(err)
	}
	if cs.Name != "" || cs.Pending != "New Name" {
		t.Fatalf("stored state while the name PUT was in flight: name %q pending %q; want \"\" and the new name", cs.Name, cs.Pending)
	}
	// The crash: the PUT landed or not; say an agent (or a lost write) left
	// the old name in Gorgias. Only what was stored before the crash counts.
	id, _ := b.customer(t, email)
	if _, err := b.g.UpdateCustomer(b.ctx, gorgias.ID(id), gorgias.CustomerFields{Name: "Old Name"}); err != nil {
		t.Fatal(err)
	}
	after := b.store.persisted(before)
	if err := b.sync(after); err != nil {
		t.Fatalf("sync after the crash: %v", err)
	}
	if got := b.customerName(t, email); got != "New Name" {
		t.Fatalf("name after the crash and the next sync = %q, want the newest order's", got)
	}
	// The next sync after that trusts the confirmed name: no further PUT.
	if err := after.Decode(&cs); err != nil {
		t.Fatal(err)
	}
	if cs.Name != "New Name" || cs.Pending != "" {
		t.Fatalf("state after the repair: name %q pending %q", cs.Name, cs.Pending)
	}
}

// A name that cannot be recorded as pending is not written: the sync fails
// (and is retried) rather than PUT a name the state cannot account for.
func TestNameIsNotWrittenWhenItsIntentCannotBeStored(t *testing.T) {
	t.Parallel()
	const email = "nosave@example.com"
	b := setup(t, gorgiasemu.Config{}, nil)
	b.store.order(t, email, "First", 100, b.clk.Now())
	st := newState(email)
	if err := b.sync(st); err != nil {
		t.Fatal(err)
	}
	b.store.order(t, email, "Second", 300, b.clk.Now().Add(time.Hour))
	b.store.mu.Lock()
	b.store.failSave = true
	b.store.mu.Unlock()
	if err := b.sync(st); err == nil {
		t.Fatal("sync succeeded without storing the name it was about to write")
	}
	if got := b.customerName(t, email); got != "First" {
		t.Fatalf("name %q written without its intent stored", got)
	}
}
