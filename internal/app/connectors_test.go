package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/apitest"
)

// hub is a running app with real connectors and the three emulators.
type hub struct {
	t        *testing.T
	ctx      context.Context
	app      *app.App
	url      string
	gorgias  *gorgiasemu.Emulator
	gURL     string
	klaviyo  *klaviyoemu.Emulator
	kURL     string
	whiplash *whiplashemu.Emulator
	wURL     string
	merchant string
	c1, c2   string
}

// startHub starts the hub with the emulators allow-listed; opts adjust the
// app's config before it starts.
func startHub(t *testing.T, gorgiasWindow time.Duration, opts ...func(*app.Config)) *hub {
	t.Helper()
	return startHubAfter(t, gorgiasWindow, nil, opts...)
}

// startHubAfter is startHub with before run once the emulators listen and
// before the hub starts (e.g. to leave a vendor's state as a previous
// process would have).
func startHubAfter(t *testing.T, gorgiasWindow time.Duration, before func(*hub), opts ...func(*app.Config)) *hub {
	t.Helper()
	h := &hub{t: t, ctx: context.Background()}
	h.gorgias = gorgiasemu.New(gorgiasemu.Config{Window: gorgiasWindow})
	h.klaviyo = klaviyoemu.New(klaviyoemu.Config{DisableRateLimits: true})
	h.whiplash = whiplashemu.New(whiplashemu.Config{Seed: 3, AllowClientCredentials: true})
	for _, e := range []struct {
		h   http.Handler
		url *string
		c   func()
	}{{h.gorgias, &h.gURL, h.gorgias.Close}, {h.klaviyo, &h.kURL, h.klaviyo.Close}, {h.whiplash, &h.wURL, h.whiplash.Close}} {
		srv := httptest.NewServer(e.h)
		*e.url = srv.URL
		t.Cleanup(func() { srv.Close(); e.c() })
	}
	cfg := app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{5}, 32),
		AdminToken: adminToken, Coalesce: 200 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffCap: time.Second,
		AllowVendorHosts: hostsOf(h.gURL, h.kURL, h.wURL)}
	for _, o := range opts {
		o(&cfg)
	}
	if before != nil {
		before(h)
	}
	a, err := app.New(h.ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	h.app, h.url = a, a.URL()

	var m, wl, gg, kl, c1, c2 struct{ ID string }
	h.api("POST", "/api/v1/merchants", `{"name":"Acme"}`, 201, &m)
	h.merchant = m.ID
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"whiplash-app-secret"}}`, h.wURL), 201, &wl)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":%q},"secrets":{"api_key":%q}}`,
		h.gURL, gorgiasemu.DefaultUserEmail, gorgiasWindow.String(), gorgiasemu.DefaultAPIKey), 201, &gg)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_demo"}}`, h.kURL), 201, &kl)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kl.ID), 201, &c2)
	h.c1, h.c2 = c1.ID, c2.ID
	return h
}

// hostsOf returns the host:port of each URL (the emulators the operator
// allow-lists).
func hostsOf(urls ...string) []string {
	out := make([]string, 0, len(urls))
	for _, u := range urls {
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
	}
	return out
}

func (h *hub) api(method, path, body string, want int, out any) {
	h.t.Helper()
	apitest.Do(h.t, h.url, adminToken, method, path, body, want, out)
}

// idle waits until no job is queued, scheduled, retrying or running.
func (h *hub) idle(timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	quiet := 0
	for quiet < 3 {
		counts, err := h.app.Store().JobCounts(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		busy := 0
		for _, c := range counts {
			switch c.State {
			case "available", "scheduled", "running", "retryable", "pending":
				busy += c.Count
			}
		}
		if busy == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("jobs still busy after %v: %+v", timeout, counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *hub) gorgiasCustomers() map[string]gorgiasCustomer {
	h.t.Helper()
	raw, _ := json.Marshal(h.gorgias.Snapshot())
	var st struct {
		Accounts map[string]struct {
			Customers []gorgiasCustomer `json:"customers"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]gorgiasCustomer{}
	for _, c := range st.Accounts["acme"].Customers {
		if _, dup := out[c.Email]; dup {
			h.t.Errorf("two Gorgias customers with email %s", c.Email)
		}
		out[c.Email] = c
	}
	return out
}

type gorgiasCustomer struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Data  struct {
		Whiplash *whiplashgorgias.Data `json:"whiplash"`
		Other    string                `json:"other_app"`
	} `json:"data"`
}

// expected is the final truth from the Whiplash emulator, by email.
type expected struct {
	orders map[string][]whiplash.Order // newest first
}

func finalOrders(t *testing.T, emu *whiplashemu.Emulator, rep whiplashemu.SimReport) expected {
	t.Helper()
	seen := map[int64]bool{}
	ex := expected{orders: map[string][]whiplash.Order{}}
	for _, ev := range rep.Events {
		if seen[ev.OrderID] {
			continue
		}
		seen[ev.OrderID] = true
		var o whiplash.Order
		if ok, err := emu.DecodeOrder(ev.OrderID, &o); !ok || err != nil {
			t.Fatalf("order %d missing from the emulator (%v)", ev.OrderID, err)
		}
		e := domain.NormalizeEmail(o.Email)
		ex.orders[e] = append(ex.orders[e], o)
	}
	for _, os := range ex.orders {
		sort.Slice(os, func(i, j int) bool { return os[i].UpdatedAt.After(os[j].UpdatedAt.Time) })
	}
	return ex
}

func TestWhiplashToGorgiasAndKlaviyoEndToEnd(t *testing.T) {
	t.Parallel()
	h := startHub(t, 250*time.Millisecond)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c1+"/install", "", 200, nil)
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/install", "", 200, nil)
	// Re-installing (repair) finds what exists instead of duplicating it.
	var in domain.Installation
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.c2+"/install", "", 200, &in)
	kst := h.klaviyo.State()
	if n := len(kst.Accounts[0].Lists); n != 1 || in.RemoteIDs[whiplashklaviyo.RemoteList] != kst.Accounts[0].Lists[0].ID {
		t.Fatalf("lists after re-install: %d (%+v)", n, in.RemoteIDs)
	}

	h.whiplash.SetWebhookTarget(h.url+"/hooks/whiplash/"+h.c2, "whiplash-app-secret")
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Minute)
	defer cancel()
	rep, err := h.whiplash.Simulate(ctx, whiplashemu.SimOptions{
		Stores: []int64{1, 2, 3}, Orders: 500, Duration: 24 * time.Hour, FullLifecycle: true,
		DuplicateRate: 0.15, ReorderRate: 0.15, RepeatRate: 0.3, Concurrency: 8, Seed: 42,
		TargetURL: h.url + "/hooks/whiplash/" + h.c1, TargetSecret: "whiplash-app-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Duplicates == 0 || rep.Reordered == 0 {
		t.Fatalf("simulation: failed %d, duplicates %d, reordered %d", rep.Failed, rep.Duplicates, rep.Reordered)
	}
	simulated := time.Now()
	h.idle(3 * time.Minute)
	t.Logf("simulation delivered in %v; hub idle %v later", rep.Elapsed.Round(time.Millisecond), time.Since(simulated).Round(time.Millisecond))
	if resp, err := http.Get(h.url + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "switchyard_deliveries_total") || strings.HasPrefix(l, "switchyard_jobs") || strings.HasPrefix(l, "switchyard_ingest_requests_total") {
				t.Log(l)
			}
		}
	}
	ex := finalOrders(t, h.whiplash, rep)
	multiStore := 0
	for _, os := range ex.orders {
		stores := map[int64]bool{}
		for _, o := range os {
			stores[o.StoreID()] = true
		}
		if len(stores) > 1 {
			multiStore++
		}
	}
	if multiStore == 0 {
		t.Fatal("no customer ordered from two stores: the test proves nothing about merging")
	}
	dls, _ := h.app.Store().ListDeadLetters(h.ctx, domain.DeadLetterFilter{MerchantID: h.merchant})
	if len(dls) != 0 {
		t.Fatalf("%d dead letters, first: %+v", len(dls), dls[0])
	}

	// Gorgias: one customer per email, widget data section by section.
	customers := h.gorgiasCustomers()
	if len(customers) != len(ex.orders) {
		t.Errorf("Gorgias has %d customers, Whiplash has %d emails", len(customers), len(ex.orders))
	}
	for email, os := range ex.orders {
		c, ok := customers[email]
		if !ok || c.Data.Whiplash == nil {
			t.Errorf("%s: no Gorgias customer with Whiplash data", email)
			continue
		}
		latest := os[0]
		d := c.Data.Whiplash
		if c.Name != latest.DisplayName() || d.Customer.FullName != latest.DisplayName() || d.Customer.Email != email || d.Customer.Phone != latest.ShippingPhone {
			t.Errorf("%s: Customer section %+v (name %q), want %q / %q", email, d.Customer, c.Name, latest.DisplayName(), latest.ShippingPhone)
		}
		wantAddr := whiplashgorgias.AddressData{Address1: latest.ShippingAddress1, Address2: latest.ShippingAddress2, City: latest.ShippingCity, State: latest.ShippingState, Zip: latest.ShippingZip, Country: latest.ShippingCountry}
		if d.Address != wantAddr {
			t.Errorf("%s: Address section %+v, want %+v", email, d.Address, wantAddr)
		}
		if len(d.Orders) != len(os) {
			t.Errorf("%s: %d orders in the widget, want %d", email, len(d.Orders), len(os))
			continue
		}
		for i, o := range os {
			got := d.Orders[i]
			if got.OrderNumber != o.HumanizeID || got.Status != whiplashgorgias.StatusName(&o) || got.StatusCode != int(o.Status) ||
				got.RequiresSignature != (o.RequireSignature || o.RequireAdultSig) || got.ShippingMethod != o.ShippingMethodName() ||
				got.Store != strconv.FormatInt(o.StoreID(), 10) || got.DateCreated != o.CreatedAt.Format(time.RFC3339) {
				t.Errorf("%s: Order section %+v, want order %d status %d", email, got, int64(o.ID), int64(o.Status))
			}
			if len(got.Products) != len(o.OrderItems) {
				t.Errorf("%s: %d products, want %d", email, len(got.Products), len(o.OrderItems))
				continue
			}
			for j, it := range o.OrderItems {
				if got.Products[j].SKU != it.SKU || got.Products[j].Quantity != int64(it.Quantity) {
					t.Errorf("%s: Product %+v, want %s × %d", email, got.Products[j], it.SKU, int64(it.Quantity))
				}
			}
		}
	}

	// Klaviyo: one profile per email with the right name; one event per
	// (order, bucket) reached, never a lower bucket after a higher one.
	kst = h.klaviyo.State()
	acct := kst.Accounts[0]
	profiles := map[string]klaviyoemu.ProfileState{}
	byID := map[string]string{}
	for _, p := range acct.Profiles {
		if _, dup := profiles[p.Email]; dup {
			t.Errorf("two Klaviyo profiles for %s", p.Email)
		}
		profiles[p.Email] = p
		byID[p.ID] = p.Email
	}
	listID := in.RemoteIDs[whiplashklaviyo.RemoteList]
	for email, os := range ex.orders {
		p, ok := profiles[email]
		if !ok {
			t.Errorf("%s: no Klaviyo profile", email)
			continue
		}
		name := whiplashklaviyo.ProfileName(&os[0])
		if got := strings.TrimSpace(p.FirstName + " " + p.LastName); got != name {
			t.Errorf("%s: Klaviyo name %q, want %q", email, got, name)
		}
		if !contains(p.Lists, listID) {
			t.Errorf("%s: profile not on the Whiplash list", email)
		}
	}
	events := map[string][]klaviyoemu.EventState{} // by order
	for _, ev := range acct.Events {
		if ev.Backfill {
			t.Errorf("live event %s marked backfill", ev.UniqueID)
		}
		parts := strings.Split(ev.UniqueID, ":")
		if len(parts) != 4 {
			t.Fatalf("unexpected unique id %q", ev.UniqueID)
		}
		events[parts[2]] = append(events[parts[2]], ev)
	}
	rank := map[string]int{"Processing order": 1, "Order shipped": 2, "Order delivered": 3, "Order cancelled": 4}
	total := 0
	for _, os := range ex.orders {
		for _, o := range os {
			var want []string
			for _, b := range whiplashklaviyo.Reached(&o) {
				want = append(want, b.Metric())
			}
			evs := events[strconv.FormatInt(int64(o.ID), 10)]
			sort.SliceStable(evs, func(i, j int) bool { return evs[i].Received.Before(evs[j].Received) })
			var got []string
			for i, ev := range evs {
				got = append(got, ev.Metric)
				if i > 0 && rank[ev.Metric] < rank[evs[i-1].Metric] {
					t.Errorf("order %d: %s after %s", int64(o.ID), ev.Metric, evs[i-1].Metric)
				}
				if byID[ev.ProfileID] != domain.NormalizeEmail(o.Email) {
					t.Errorf("order %d: event on profile %s", int64(o.ID), byID[ev.ProfileID])
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("order %d (status %d, previous %d): events %v, want %v", int64(o.ID), int64(o.Status), int64(o.PreviousStatus), got, want)
			}
			total += len(want)
		}
	}
	t.Logf("%d orders, %d emails (%d across stores), %d webhooks sent (%d duplicates, %d reordered); Klaviyo: %d profiles, %d events",
		len(events), len(ex.orders), multiStore, rep.Sent, rep.Duplicates, rep.Reordered, len(acct.Profiles), total)

	// The agent page shows the widget with the customer's data.
	var email string
	for e := range ex.orders {
		if email == "" || e < email {
			email = e
		}
	}
	g, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: h.gURL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := g.CreateTicket(h.ctx, gorgias.TicketCreate{Subject: "Where is my order?", Channel: "email", Via: "api",
		Customer: &gorgias.Person{Email: email},
		Messages: []gorgias.Message{{Channel: "email", Via: "api", BodyText: "Hello", Sender: &gorgias.Person{Email: email}}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("%s/app/ticket/%d", h.gURL, int64(tk.ID)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	latest := ex.orders[email][0]
	for field, want := range map[string]string{"full_name": latest.DisplayName(), "city": latest.ShippingCity, "order_number": latest.HumanizeID, "status": whiplashgorgias.StatusName(&latest)} {
		re := regexp.MustCompile(`data-field="[^"]*\b` + field + `" data-type="[^"]*" data-value="([^"]*)"`)
		m := re.FindSubmatch(page)
		if m == nil || html.UnescapeString(string(m[1])) != want {
			t.Errorf("agent page %s = %q, want %q", field, m, want)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
