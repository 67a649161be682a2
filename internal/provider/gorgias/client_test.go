package gorgias_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/domain"
	emulator "switchyard/internal/emulator/gorgias"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	emu *emulator.Emulator
	srv *httptest.Server
	c   *gorgias.Client
	lim *outbound.LocalLimiter
}

// setup starts an emulator and an API-key client against it. mod may
// adjust the client config.
func setup(t testing.TB, ecfg emulator.Config, mod func(*gorgias.Config)) *testBundle {
	t.Helper()
	emu := emulator.New(ecfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	now := ecfg.Now
	if now == nil {
		now = time.Now
	}
	lim := outbound.NewLocalLimiter(now)
	cfg := gorgias.Config{Account: "acme", BaseURL: srv.URL, Email: emulator.DefaultUserEmail, APIKey: emulator.DefaultAPIKey,
		Window: ecfg.Window, Limiter: lim, Now: now, HTTPClient: srv.Client()}
	if mod != nil {
		mod(&cfg)
	}
	c, err := gorgias.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{emu: emu, srv: srv, c: c, lim: lim}
}

func TestClientAgainstEmulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, b *testBundle)
	}{
		{"get account", func(t *testing.T, b *testBundle) {
			a, err := b.c.GetAccount(ctx)
			if err != nil || a.Domain != "acme" {
				t.Fatalf("GetAccount = %+v, %v", a, err)
			}
		}},
		{"create, get and update customer", func(t *testing.T, b *testBundle) {
			c, err := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "jane@example.com", Name: "Jane Doe", ExternalID: "wl-1"})
			if err != nil {
				t.Fatal(err)
			}
			if c.ID == 0 || c.Firstname != "Jane" || string(c.ExternalID) != "wl-1" || c.CreatedDatetime.IsZero() {
				t.Fatalf("created = %+v", c)
			}
			got, err := b.c.GetCustomer(ctx, c.ID)
			if err != nil || got.Email != "jane@example.com" {
				t.Fatalf("GetCustomer = %+v, %v", got, err)
			}
			up, err := b.c.UpdateCustomer(ctx, c.ID, gorgias.CustomerFields{Name: "Jane Q. Doe"})
			if err != nil || up.Name != "Jane Q. Doe" || up.Email != "jane@example.com" {
				t.Fatalf("UpdateCustomer = %+v, %v", up, err)
			}
		}},
		{"duplicate email is ErrDuplicateEmail (409)", func(t *testing.T, b *testBundle) {
			if _, err := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "dup@example.com"}); err != nil {
				t.Fatal(err)
			}
			_, err := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "DUP@example.com"})
			if !errors.Is(err, gorgias.ErrDuplicateEmail) || !domain.IsConflict(err) {
				t.Fatalf("err = %v, want ErrDuplicateEmail/ECONFLICT", err)
			}
			if outbound.StatusOf(err) != 409 || outbound.ClassOf(err) != domain.ClassTerminal {
				t.Fatalf("status %d class %s", outbound.StatusOf(err), outbound.ClassOf(err))
			}
			if gorgias.VendorMessage(err) == "" {
				t.Fatalf("no vendor message in %v", err)
			}
		}},
		{"find customer by email", func(t *testing.T, b *testBundle) {
			want, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "find@example.com"})
			got, err := b.c.FindCustomerByEmail(ctx, "Find@Example.com")
			if err != nil || got.ID != want.ID {
				t.Fatalf("Find = %+v, %v", got, err)
			}
			_, err = b.c.FindCustomerByEmail(ctx, "absent@example.com")
			if !errors.Is(err, gorgias.ErrNotFound) || !domain.IsNotFound(err) {
				t.Fatalf("absent: %v", err)
			}
		}},
		{"customer data: an older version does not overwrite", func(t *testing.T, b *testBundle) {
			c, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "data@example.com"})
			t2 := time.Date(2025, 5, 13, 12, 34, 21, 918927000, time.UTC)
			if err := b.c.SetCustomerData(ctx, c.ID, map[string]any{"whiplash": map[string]any{"status": "shipped"}}, t2); err != nil {
				t.Fatal(err)
			}
			if err := b.c.SetCustomerData(ctx, c.ID, map[string]any{"whiplash": map[string]any{"status": "processing"}}, t2.Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			got, _ := b.c.GetCustomer(ctx, c.ID)
			if diff := cmp.Diff(`{"whiplash":{"status":"shipped"}}`, string(got.Data)); diff != "" {
				t.Fatalf("data (-want +got):\n%s", diff)
			}
			if err := b.c.SetCustomerData(ctx, c.ID, map[string]any{"n": 3}, t2.Add(time.Microsecond)); err != nil {
				t.Fatal(err)
			}
			got, _ = b.c.GetCustomer(ctx, c.ID)
			if string(got.DataObject()["n"]) != "3" {
				t.Fatalf("newer version not applied: %s", got.Data)
			}
		}},
		{"customer data of a merged customer: a bare 301 is ErrMerged", func(t *testing.T, b *testBundle) {
			src, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "src@example.com"})
			tgt, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "tgt@example.com"})
			if _, err := b.c.MergeCustomers(ctx, src.ID, tgt.ID, gorgias.CustomerFields{}); err != nil {
				t.Fatal(err)
			}
			landed, err := b.c.SetCustomerDataTo(ctx, src.ID, map[string]any{"k": "v"}, time.Time{})
			if !errors.Is(err, gorgias.ErrMerged) || landed != src.ID {
				t.Fatalf("SetCustomerDataTo = %d, %v; want %d, ErrMerged", landed, err, src.ID)
			}
			if outbound.ClassOf(err) != domain.ClassTransient {
				t.Fatalf("class %s, want transient when not handled", outbound.ClassOf(err))
			}
			if _, err := b.c.GetCustomer(ctx, src.ID); !errors.Is(err, gorgias.ErrMerged) {
				t.Fatalf("GetCustomer of a merged id: %v, want ErrMerged", err)
			}
			if _, err := b.c.UpdateCustomer(ctx, src.ID, gorgias.CustomerFields{Name: "x"}); !errors.Is(err, gorgias.ErrMerged) {
				t.Fatalf("UpdateCustomer of a merged id: %v, want ErrMerged", err)
			}
			if err := b.c.DeleteCustomer(ctx, src.ID); !errors.Is(err, gorgias.ErrMerged) {
				t.Fatalf("DeleteCustomer of a merged id: %v, want ErrMerged", err)
			}
			got, _ := b.c.FindCustomerByEmail(ctx, "src@example.com") // the target holds the source's channel
			if got == nil || got.ID != tgt.ID {
				t.Fatalf("found again by email: %+v, want %d", got, tgt.ID)
			}
		}},
		{"list customers follows cursors to the end", func(t *testing.T, b *testBundle) {
			if _, _, err := b.emu.Seed(emulator.SeedSpec{Customers: 75}); err != nil {
				t.Fatal(err)
			}
			seen := map[gorgias.ID]bool{}
			for c, err := range b.c.ListCustomers(ctx, gorgias.ListCustomersOptions{ListOptions: gorgias.ListOptions{Limit: 20}}) {
				if err != nil {
					t.Fatal(err)
				}
				if seen[c.ID] {
					t.Fatalf("customer %d twice", c.ID)
				}
				seen[c.ID] = true
			}
			if len(seen) != 75 {
				t.Fatalf("listed %d customers, want 75", len(seen))
			}
			n := 0
			for range b.c.ListCustomers(ctx, gorgias.ListCustomersOptions{}) {
				if n++; n == 5 {
					break
				}
			}
			if n != 5 {
				t.Fatalf("early break: %d", n)
			}
			p, err := b.c.ListCustomersPage(ctx, gorgias.ListCustomersOptions{ListOptions: gorgias.ListOptions{Limit: 50}}, "")
			if err != nil || len(p.Data) != 50 || p.Next() == "" {
				t.Fatalf("page: %d items, next %q, %v", len(p.Data), p.Next(), err)
			}
		}},
		{"delete customer", func(t *testing.T, b *testBundle) {
			c, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "del@example.com"})
			if err := b.c.DeleteCustomer(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := b.c.GetCustomer(ctx, c.ID); !errors.Is(err, gorgias.ErrNotFound) || outbound.StatusOf(err) != 404 {
				t.Fatalf("after delete: %v", err)
			}
		}},
		{"integrations CRUD", func(t *testing.T, b *testBundle) {
			in, err := b.c.CreateIntegration(ctx, gorgias.Integration{Name: "Konnektive Integration", HTTP: &gorgias.HTTPConfig{
				URL: "https://hub.example.com/hooks/gorgias/konnektive/1?email={{ticket.customer.email}}", Method: "GET",
				Headers:  gorgias.StringMap{"X-Switchyard-Token": "tok"},
				Triggers: map[string]bool{gorgias.TriggerTicketCreated: true, gorgias.TriggerTicketMessageCreated: true},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if in.ID == 0 || !in.Active() || in.Type != "http" || in.HTTP.Headers["X-Switchyard-Token"] != "tok" || !in.HTTP.Triggered("ticket-created") || in.HTTP.Triggered("ticket_updated") {
				t.Fatalf("created = %+v / %+v", in, in.HTTP)
			}
			got, err := b.c.GetIntegration(ctx, in.ID)
			if err != nil || got.HTTP.URL != in.HTTP.URL {
				t.Fatalf("get = %+v, %v", got, err)
			}
			got.Name = "Renamed"
			got.HTTP.Triggers = map[string]bool{gorgias.TriggerTicketUpdated: true}
			up, err := b.c.UpdateIntegration(ctx, in.ID, *got)
			if err != nil || up.Name != "Renamed" || !up.HTTP.Triggered(gorgias.TriggerTicketUpdated) {
				t.Fatalf("update = %+v, %v", up, err)
			}
			if _, err := b.c.ReactivateIntegration(ctx, in.ID, "Renamed"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.c.CreateIntegration(ctx, gorgias.Integration{Name: "Other", HTTP: &gorgias.HTTPConfig{URL: "https://x.example.com"}}); err != nil {
				t.Fatal(err)
			}
			var names []string
			for it, err := range b.c.ListIntegrations(ctx, "http", gorgias.ListOptions{Limit: 1}) {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, it.Name)
			}
			if len(names) != 2 {
				t.Fatalf("listed %v", names)
			}
			if err := b.c.DeleteIntegration(ctx, in.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := b.c.GetIntegration(ctx, in.ID); !errors.Is(err, gorgias.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			_, err = b.c.CreateIntegration(ctx, gorgias.Integration{Name: "bad", HTTP: &gorgias.HTTPConfig{URL: "https://x.example.com", Triggers: map[string]bool{"ticket_exploded": true}}})
			if outbound.StatusOf(err) != 400 || outbound.ClassOf(err) != domain.ClassTerminal {
				t.Fatalf("unknown trigger: %v", err)
			}
		}},
		{"widgets CRUD", func(t *testing.T, b *testBundle) {
			iid := gorgias.ID(4242)
			tpl := &gorgias.WidgetNode{Type: "wrapper", Widgets: []gorgias.WidgetNode{
				{Type: "card", Title: "Order", Path: "order", Widgets: []gorgias.WidgetNode{{Type: "text", Title: "Number", Path: "number"}}}}}
			w, err := b.c.CreateWidget(ctx, gorgias.Widget{Type: "http", IntegrationID: &iid, Order: 2, Template: tpl})
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.c.GetWidget(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tpl, got.Template); diff != "" || got.Context != "ticket" || *got.IntegrationID != iid {
				t.Fatalf("template round trip (-want +got):\n%s", diff)
			}
			got.Template.Widgets[0].Title = "Latest order"
			up, err := b.c.UpdateWidget(ctx, w.ID, *got)
			if err != nil || up.Template.Widgets[0].Title != "Latest order" {
				t.Fatalf("update = %+v, %v", up, err)
			}
			_, _ = b.c.CreateWidget(ctx, gorgias.Widget{Type: "custom", Template: &gorgias.WidgetNode{Type: "wrapper"}})
			n := 0
			for _, err := range b.c.ListWidgets(ctx, iid, gorgias.ListOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 1 {
				t.Fatalf("widgets for integration = %d", n)
			}
			if err := b.c.DeleteWidget(ctx, w.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := b.c.GetWidget(ctx, w.ID); !errors.Is(err, gorgias.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
		}},
		{"macros CRUD with an http action", func(t *testing.T, b *testBundle) {
			act, err := gorgias.NewHTTPAction("HTTP hook", gorgias.HTTPActionArgs{Method: "POST", URL: "https://hub.example.com/m/refund?t={{ticket.id}}",
				Form:        []gorgias.KeyValue{{Key: "amount", Value: "0", Editable: true}},
				ContentType: "application/json"})
			if err != nil {
				t.Fatal(err)
			}
			tags, _ := json.Marshal(map[string]string{"tags": "konnektive"})
			m, err := b.c.CreateMacro(ctx, gorgias.Macro{Name: "Konnektive Full Refund", Actions: []gorgias.MacroAction{act, {Name: "addTags", Arguments: tags}}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.c.GetMacro(ctx, m.ID)
			if err != nil || len(got.Actions) != 2 {
				t.Fatalf("get = %+v, %v", got, err)
			}
			args, err := got.Actions[0].HTTPArgs()
			if err != nil || args.URL != "https://hub.example.com/m/refund?t={{ticket.id}}" || len(args.Form) != 1 || !bool(args.Form[0].Editable) {
				t.Fatalf("http args = %+v, %v", args, err)
			}
			up, err := b.c.UpdateMacro(ctx, m.ID, gorgias.Macro{Name: "Konnektive Partial Refund", Actions: got.Actions[:1]})
			if err != nil || up.Name != "Konnektive Partial Refund" || len(up.Actions) != 1 {
				t.Fatalf("update = %+v, %v", up, err)
			}
			n := 0
			for mm, err := range b.c.ListMacros(ctx, "konnektive", gorgias.ListOptions{}) {
				if err != nil || mm.ID != m.ID {
					t.Fatalf("list: %+v %v", mm, err)
				}
				n++
			}
			if n != 1 {
				t.Fatalf("search found %d", n)
			}
			if err := b.c.DeleteMacro(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := b.c.GetMacro(ctx, m.ID); !errors.Is(err, gorgias.ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
		}},
		{"tickets, internal notes and messages", func(t *testing.T, b *testBundle) {
			tk, err := b.c.CreateTicket(ctx, gorgias.TicketCreate{Channel: "api", Via: "api", Subject: "Order #1002",
				Customer: &gorgias.Person{Email: "t@example.com", Name: "Tess"},
				Tags:     []gorgias.Tag{{Name: "from-switchyard"}},
				Messages: []gorgias.Message{{Channel: "api", Via: "api", Sender: &gorgias.Person{Email: "t@example.com"}, BodyText: "Where is it?"}}})
			if err != nil {
				t.Fatal(err)
			}
			if tk.ID == 0 || tk.Customer == nil || tk.Customer.Email != "t@example.com" || len(tk.Messages) != 1 || tk.Status != "open" {
				t.Fatalf("ticket = %+v", tk)
			}
			note, err := b.c.CreateMessage(ctx, tk.ID, gorgias.InternalNote("", "Refund done (switchyard)", "<p>Refund done</p>"))
			if err != nil || !note.IsInternalNote() || note.Public == nil || *note.Public {
				t.Fatalf("note = %+v, %v", note, err)
			}
			msgs, err := b.c.ListTicketMessages(ctx, tk.ID)
			if err != nil || len(msgs) != 2 || !msgs[1].IsInternalNote() || msgs[0].IsInternalNote() {
				t.Fatalf("messages = %+v, %v", msgs, err)
			}
			up, err := b.c.UpdateTicket(ctx, tk.ID, gorgias.TicketUpdate{Status: "closed"})
			if err != nil || up.Status != "closed" {
				t.Fatalf("update = %+v, %v", up, err)
			}
			got, err := b.c.GetTicket(ctx, tk.ID)
			if err != nil || got.Status != "closed" || len(got.Messages) != 2 || got.Tags[0].Name != "from-switchyard" {
				t.Fatalf("get = %+v, %v", got, err)
			}
			if _, err := b.c.GetTicket(ctx, 1); !errors.Is(err, gorgias.ErrNotFound) {
				t.Fatalf("missing ticket: %v", err)
			}
		}},
		{"apply macro", func(t *testing.T, b *testBundle) {
			var got atomic.Value
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Store(r.URL.Query().Get("amount"))
				fmt.Fprint(w, `{"ok":true}`)
			}))
			defer target.Close()
			act, _ := gorgias.NewHTTPAction("hook", gorgias.HTTPActionArgs{Method: "GET", URL: target.URL + "/refund",
				Params: []gorgias.KeyValue{{Key: "amount", Value: "0", Editable: true}}})
			m, _ := b.c.CreateMacro(ctx, gorgias.Macro{Name: "Refund", Actions: []gorgias.MacroAction{act}})
			tk, _ := b.c.CreateTicket(ctx, gorgias.TicketCreate{Channel: "api", Via: "api", Customer: &gorgias.Person{Email: "a@example.com"},
				Messages: []gorgias.Message{{Channel: "api", Via: "api", BodyText: "x"}}})
			res, err := b.c.ApplyMacro(ctx, tk.ID, m.ID, map[string]string{"amount": "19.99"})
			if err != nil || len(res.Actions) != 1 || res.Actions[0].Status != "applied" || res.Actions[0].HTTPStatus != 200 {
				t.Fatalf("apply = %+v, %v", res, err)
			}
			if got.Load() != "19.99" {
				t.Fatalf("hook got amount %v", got.Load())
			}
		}},
		{"bad API key is an auth error", func(t *testing.T, b *testBundle) {
			c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: b.srv.URL, Email: emulator.DefaultUserEmail, APIKey: "wrong"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetAccount(ctx)
			if outbound.ClassOf(err) != domain.ClassAuth || outbound.StatusOf(err) != 401 {
				t.Fatalf("err = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, setup(t, emulator.Config{}, nil))
		})
	}
}

// With the emulator's optional Location header, the 301 of a merged
// customer is followed to the survivor in one more call.
func TestSetCustomerDataFollowsMergeLocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, emulator.Config{MergeLocation: true}, nil)
	src, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "src@example.com"})
	tgt, _ := b.c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "tgt@example.com"})
	if _, err := b.c.MergeCustomers(ctx, src.ID, tgt.ID, gorgias.CustomerFields{}); err != nil {
		t.Fatal(err)
	}
	landed, err := b.c.SetCustomerDataTo(ctx, src.ID, map[string]any{"k": "v"}, time.Time{})
	if err != nil || landed != tgt.ID {
		t.Fatalf("SetCustomerDataTo = %d, %v; want %d", landed, err, tgt.ID)
	}
	got, _ := b.c.GetCustomer(ctx, tgt.ID)
	if string(got.DataObject()["k"]) != `"v"` {
		t.Fatalf("target data = %s", got.Data)
	}
	if n := b.emu.Snapshot().Accounts["acme"].CallsByEndpoint["PUT /api/customers/{id}/data"]; n != 2 {
		t.Fatalf("%d data PUTs, want 2 (301, then the target)", n)
	}
}

// FindCustomerByEmail takes only a customer whose primary email or an
// email channel matches: a search answering someone else is not found.
func TestFindCustomerByEmailNeverTakesAnotherCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	answer := `{"data":[{"id":7,"email":"other@example.com","channels":[{"type":"email","address":"other@example.com"},{"type":"phone","address":"jane@example.com"}]}],"meta":{"next_cursor":null},"object":"list"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/api/customers" || !strings.EqualFold(r.URL.Query().Get("email"), "jane@example.com") {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer) // a search that ignored the filter
	}))
	t.Cleanup(srv.Close)
	c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: srv.URL, Email: "a@b.c", APIKey: "k", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.FindCustomerByEmail(ctx, " Jane@Example.com "); !errors.Is(err, gorgias.ErrNotFound) {
		t.Fatalf("Find = %+v, %v; want ErrNotFound", got, err)
	}
	cs := []gorgias.Customer{
		{ID: 1, Email: "x@example.com", Channels: []gorgias.Channel{{Type: "email", Address: " JANE@example.com"}}},
		{ID: 2, Email: "Jane@Example.com "},
	}
	if got := gorgias.MatchEmail(cs, "jane@example.com"); got == nil || got.ID != 2 {
		t.Fatalf("MatchEmail = %+v, want the primary-email match 2", got)
	}
	if got := gorgias.MatchEmail(cs[:1], "jane@example.com"); got == nil || got.ID != 1 {
		t.Fatalf("MatchEmail = %+v, want the channel match 1", got)
	}
}

// CreateCustomer and CreateIntegration send what the API requires:
// channels and no data; method and both content types, underscore triggers.
func TestCreateBodiesCarryRequiredFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bodies := map[string]map[string]any{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		}
		mu.Lock()
		bodies[r.Method+" "+r.URL.Path] = m
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1}`)
	}))
	t.Cleanup(srv.Close)
	c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: srv.URL, Email: "a@b.c", APIKey: "k", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCustomer(ctx, gorgias.CustomerFields{Email: "jane@example.com", Name: "Jane"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIntegration(ctx, gorgias.Integration{Name: "n", HTTP: &gorgias.HTTPConfig{URL: "https://x.example.com",
		Triggers: map[string]bool{"ticket-created": true, gorgias.TriggerTicketMessageCreated: true}}}); err != nil {
		t.Fatal(err)
	}
	wantCustomer := map[string]any{"email": "jane@example.com", "name": "Jane",
		"channels": []any{map[string]any{"type": "email", "address": "jane@example.com", "preferred": true}}}
	if diff := cmp.Diff(wantCustomer, bodies["POST /api/customers"]); diff != "" {
		t.Errorf("customer body (-want +got):\n%s", diff)
	}
	h, _ := bodies["POST /api/integrations"]["http"].(map[string]any)
	wantHTTP := map[string]any{"url": "https://x.example.com", "method": "GET", "request_content_type": "application/json",
		"response_content_type": "application/json", "triggers": map[string]any{"ticket_created": true, "ticket_message_created": true}}
	if diff := cmp.Diff(wantHTTP, h); diff != "" {
		t.Errorf("integration http block (-want +got):\n%s", diff)
	}
}

func TestRateLimited429(t *testing.T) {
	t.Parallel()
	clk := newFakeClock() // frozen: the emulator's bucket does not drain
	b := setup(t, emulator.Config{Now: clk.Now}, nil)
	// Another caller with the same key fills the account's bucket.
	for i := 0; i < 40; i++ {
		req, _ := http.NewRequest("GET", b.srv.URL+"/api/account", nil)
		req.SetBasicAuth(emulator.DefaultUserEmail, emulator.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: %d", i, resp.StatusCode)
		}
	}
	_, err := b.c.GetAccount(context.Background())
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Status != 429 || oe.Class != domain.ClassRateLimited {
		t.Fatalf("err = %v, want a 429 rate-limited error", err)
	}
	if oe.RetryAfter < time.Second || oe.RetryAfter > 20*time.Second {
		t.Fatalf("RetryAfter = %v", oe.RetryAfter)
	}
	if gorgias.VendorMessage(err) == "" {
		t.Fatalf("no envelope message: %v", err)
	}
	var paused bool
	for _, st := range b.lim.Status() {
		if st.Key == "gorgias:acme" && st.PausedUntil.After(clk.Now()) && st.LastQuota != nil && st.LastQuota.Remaining == 0 {
			paused = true
		}
	}
	if !paused {
		t.Fatalf("budget not paused after 429: %+v", b.lim.Status())
	}
}

// budgetRun sends calls through the client, 4 at a time, against a
// 40-per-window leaky bucket. It returns the elapsed time and the emulator's
// 429 count.
func budgetRun(tb testing.TB, calls int, window time.Duration) (time.Duration, int) {
	b := setup(tb, emulator.Config{Window: window}, nil)
	const workers = 4
	var wg sync.WaitGroup
	jobs := make(chan struct{}, calls)
	for range calls {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if _, err := b.c.GetAccount(context.Background()); err != nil {
					tb.Errorf("call failed: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), int(b.emu.Snapshot().Accounts["acme"].Throttled)
}

// budgetUse is calls over what the bucket allowed in elapsed: its capacity
// plus what leaked meanwhile.
func budgetUse(calls int, elapsed, window time.Duration) float64 {
	limit := float64(gorgias.APIKeyLimit)
	return float64(calls) / (limit + elapsed.Seconds()*limit/window.Seconds())
}

// TestBudgetNo429: 200 calls through the client against a 40-per-2 s bucket
// all succeed without one 429. (How much of the budget they use is a
// benchmark: BenchmarkBudgetUse.)
func TestBudgetNo429(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Second
	elapsed, throttled := budgetRun(t, 200, window)
	if throttled != 0 {
		t.Fatalf("429s: %d", throttled)
	}
	t.Logf("200 calls in %v: budget use %.1f%%", elapsed.Round(time.Millisecond), 100*budgetUse(200, elapsed, window))
}

// BenchmarkBudgetUse reports the share of the leaky bucket's budget that
// 200 paced calls use (target ≥ 0.90) and their 429 count (target 0).
func BenchmarkBudgetUse(b *testing.B) {
	const window = 2 * time.Second
	for range b.N {
		elapsed, throttled := budgetRun(b, 200, window)
		b.ReportMetric(budgetUse(200, elapsed, window), "budget_use")
		b.ReportMetric(float64(throttled), "429s")
	}
}

func TestBudgetAndQuota(t *testing.T) {
	t.Parallel()
	b := gorgias.BudgetFor("acme", false, 0)
	if b.Key != "gorgias:acme" || b.Burst != 36 || b.Rate < 1.89 || b.Rate > 1.91 {
		t.Errorf("api-key budget = %+v", b)
	}
	o := gorgias.BudgetFor("acme", true, 2*time.Second)
	if o.Key != "gorgias:acme:oauth" || o.Burst != 72 || o.Rate < 37.9 || o.Rate > 38.1 {
		t.Errorf("oauth budget = %+v", o)
	}
	tests := []struct {
		header string
		ok     bool
		want   outbound.Quota
	}{
		{"10/40", true, outbound.Quota{Limit: 40, Remaining: 30}},
		{" 40 / 40 ", true, outbound.Quota{Limit: 40, Remaining: 0, Reset: 500 * time.Millisecond}},
		{"80/80", true, outbound.Quota{Limit: 80, Remaining: 0, Reset: 250 * time.Millisecond}},
		{"", false, outbound.Quota{}},
		{"abc", false, outbound.Quota{}},
		{"3/0", false, outbound.Quota{}},
	}
	parse := gorgias.QuotaFunc(20 * time.Second)
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set(gorgias.CallLimitHeader, tt.header)
		}
		q, ok := parse(h)
		if ok != tt.ok || q != tt.want {
			t.Errorf("QuotaFunc(%q) = %+v, %v; want %+v, %v", tt.header, q, ok, tt.want, tt.ok)
		}
	}
}

func TestTolerantDecoding(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/customers/123":
			fmt.Fprint(w, `{"id":"123","email":"x@example.com","external_id":98765,"created_datetime":"2019-04-13T03:27:56.973873",
				"updated_datetime":"2021-11-02T21:58:43.171610+00:00","brand_new_field":{"a":1},"channels":[{"id":"9","type":"email","address":"x@example.com"}]}`)
		case "/api/integrations/5":
			fmt.Fprint(w, `{"id":5.0,"type":"http","name":"n","http":{"url":"u","form":"{{context}}","headers":{"n":1}},"deactivated_datetime":"not a date"}`)
		default:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"message":"Invalid cursor.","data":{"cursor":["Invalid cursor."]}}}`)
		}
	}))
	defer srv.Close()
	c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: srv.URL, Email: "a", APIKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cu, err := c.GetCustomer(ctx, 123)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2019, 4, 13, 3, 27, 56, 973873000, time.UTC)
	if cu.ID != 123 || string(cu.ExternalID) != "98765" || !cu.CreatedDatetime.Equal(want) || cu.UpdatedDatetime.IsZero() || cu.Channels[0].ID != 9 {
		t.Fatalf("customer = %+v", cu)
	}
	in, err := c.GetIntegration(ctx, 5)
	if err != nil || in.ID != 5 || in.HTTP.Headers["n"] != "1" || len(in.HTTP.Form) != 0 {
		t.Fatalf("integration = %+v, %v", in, err)
	}
	_, err = c.GetMacro(ctx, 1)
	if gorgias.VendorMessage(err) != "Invalid cursor." || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Fatalf("error message = %q (%v)", gorgias.VendorMessage(err), err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []gorgias.Config{
		{},
		{Account: "acme"},
		{Account: "acme", OAuth: &gorgias.OAuthConfig{ClientID: "x"}},
	} {
		if _, err := gorgias.New(cfg); err == nil || domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("New(%+v) = %v, want EINVALID", cfg, err)
		}
	}
	c, err := gorgias.New(gorgias.Config{Account: "acme", Email: "a", APIKey: "b"})
	if err != nil || c.Budget().Key != "gorgias:acme" {
		t.Fatalf("New = %v", err)
	}
}
