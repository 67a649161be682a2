package whiplash_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	emu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/whiplash"
)

// recorder keeps the deliveries the client records.
type recorder struct {
	mu sync.Mutex
	ds []domain.Delivery
}

func (r *recorder) Record(d *domain.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, *d)
}

func (r *recorder) statuses() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, d := range r.ds {
		out = append(out, d.Status)
	}
	return out
}

type bundle struct {
	emu     *emu.Emulator
	srv     *httptest.Server
	tokens  *whiplash.MemoryTokenStore
	client  *whiplash.Client
	rec     *recorder
	limiter *outbound.LocalLimiter
}

// setup starts an emulator (orders fixtures, none by default) and a client
// with a fast budget; mod adjusts the client config.
func setup(t *testing.T, ecfg emu.Config, mod func(*whiplash.Config)) *bundle {
	t.Helper()
	if ecfg.Fixtures == nil {
		ecfg.Fixtures = &emu.SeedOptions{}
	}
	e := emu.New(ecfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	b := &bundle{emu: e, srv: srv, tokens: &whiplash.MemoryTokenStore{}, rec: &recorder{}, limiter: outbound.NewLocalLimiter(nil)}
	cfg := whiplash.Config{
		BaseURL: srv.URL, ClientID: emu.DefaultClientID, ClientSecret: emu.DefaultClientSecret,
		RedirectURL: "http://127.0.0.1/oauth/callback/whiplash", Tokens: b.tokens, CustomerID: "1",
		Rate: 1000, Burst: 1000, Limiter: b.limiter, Recorder: b.rec,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := whiplash.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	return b
}

// authorize runs the consent (auto-approved) and the code exchange.
func (b *bundle) authorize(t *testing.T, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	u := b.client.AuthCodeURL("state-1", opts...) + "&auto_approve=true"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirect %q (%d)", resp.Header.Get("Location"), resp.StatusCode)
	}
	tok, err := b.client.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestClientAuthFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("invalid token is 401 auth", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		_ = b.tokens.Save(ctx, &oauth2.Token{AccessToken: "bogus", Expiry: time.Now().Add(time.Hour)})
		_, err := b.client.ListOrders(ctx, whiplash.SearchParams{})
		if outbound.ClassOf(err) != domain.ClassAuth || outbound.StatusOf(err) != 401 || !errors.Is(err, whiplash.ErrNoRefreshToken) {
			t.Fatalf("err %v", err)
		}
		if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Fatalf("code %q", domain.ErrorCode(err))
		}
	})
	t.Run("no token yet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		_, err := b.client.CountOrders(ctx, whiplash.SearchParams{})
		if !errors.Is(err, whiplash.ErrNoToken) || outbound.ClassOf(err) != domain.ClassAuth {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, func(c *whiplash.Config) { c.ClientSecret = "wrong" })
		_, err := b.client.Exchange(ctx, "some-code")
		if outbound.ClassOf(err) != domain.ClassAuth || outbound.StatusOf(err) != 401 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad code", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		_, err := b.client.Exchange(ctx, "not-a-code")
		if outbound.ClassOf(err) != domain.ClassAuth || outbound.StatusOf(err) != 400 {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("after a 401", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{Fixtures: &emu.SeedOptions{Orders: 3}}, nil)
		first := b.authorize(t)
		if first.RefreshToken == "" || b.tokens.Saves() != 1 {
			t.Fatalf("exchange: %+v saves %d", first, b.tokens.Saves())
		}
		b.emu.ExpireTokens()
		n, err := b.client.CountOrders(ctx, whiplash.SearchParams{})
		if err != nil || n != 3 {
			t.Fatalf("count after expiry: %d %v", n, err)
		}
		saved, _ := b.tokens.Load(ctx)
		if b.tokens.Saves() != 2 || saved.AccessToken == first.AccessToken || saved.RefreshToken == first.RefreshToken || saved.RefreshToken == "" {
			t.Fatalf("rotated token not saved: saves %d, %+v", b.tokens.Saves(), saved)
		}
		if got := b.rec.statuses(); !slices.Equal(got, []int{401, 200}) {
			t.Fatalf("attempts %v, want a 401 then a 200", got)
		}
	})
	t.Run("before expiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		tok := b.authorize(t)
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		// A fresh client (a restarted worker) loads the expired token from the store.
		_ = b.tokens.Save(ctx, &expired)
		c, err := whiplash.NewClient(whiplash.Config{BaseURL: b.srv.URL, ClientID: emu.DefaultClientID, ClientSecret: emu.DefaultClientSecret,
			Tokens: b.tokens, Recorder: b.rec, CustomerID: "1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListOrders(ctx, whiplash.SearchParams{}); err != nil {
			t.Fatal(err)
		}
		if got := b.rec.statuses(); !slices.Equal(got, []int{200}) {
			t.Fatalf("attempts %v: the refresh should happen before the call", got)
		}
		if saved, _ := b.tokens.Load(ctx); saved.AccessToken == tok.AccessToken || !saved.Expiry.After(time.Now()) {
			t.Fatalf("refreshed token not saved: %+v", saved)
		}
	})
	t.Run("token rotated by another process", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		b.authorize(t)
		other, err := whiplash.NewClient(whiplash.Config{BaseURL: b.srv.URL, ClientID: emu.DefaultClientID, ClientSecret: emu.DefaultClientSecret, Tokens: b.tokens})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.CountOrders(ctx, whiplash.SearchParams{}); err != nil {
			t.Fatal(err)
		}
		b.emu.ExpireTokens()
		if _, err := b.client.CountOrders(ctx, whiplash.SearchParams{}); err != nil { // rotates the refresh token
			t.Fatal(err)
		}
		// other still holds the old pair; it must adopt the stored token
		// rather than spend the revoked refresh token.
		if _, err := other.CountOrders(ctx, whiplash.SearchParams{}); err != nil {
			t.Fatalf("second process: %v", err)
		}
		if b.tokens.Saves() != 2 {
			t.Fatalf("%d saves, want exchange + one refresh", b.tokens.Saves())
		}
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		b.authorize(t)
		resp, err := http.Post(b.srv.URL+"/_emulator/reset", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = b.client.ListOrders(ctx, whiplash.SearchParams{})
		if outbound.ClassOf(err) != domain.ClassAuth {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientClientCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cc := func(c *whiplash.Config) { c.ClientCredentials = true; c.Tokens = nil }
	b := setup(t, emu.Config{AllowClientCredentials: true, Fixtures: &emu.SeedOptions{Orders: 4}}, cc)
	if n, err := b.client.CountOrders(ctx, whiplash.SearchParams{}); err != nil || n != 4 {
		t.Fatalf("count %d %v", n, err)
	}
	b.emu.ExpireTokens()
	if n, err := b.client.CountOrders(ctx, whiplash.SearchParams{}); err != nil || n != 4 {
		t.Fatalf("count after expiry %d %v", n, err)
	}
	off := setup(t, emu.Config{}, cc)
	_, err := off.client.CountOrders(ctx, whiplash.SearchParams{})
	if outbound.ClassOf(err) != domain.ClassAuth || !strings.Contains(err.Error(), "unsupported_grant_type") {
		t.Fatalf("client_credentials disabled: %v", err)
	}
}

// fixture is one emulator with 1,200 seeded orders shared by read-only tests.
var fixture struct {
	once sync.Once
	b    *bundle
	all  []whiplash.Order
}

func seeded(t *testing.T) (*bundle, []whiplash.Order) {
	t.Helper()
	fixture.once.Do(func() {
		e := emu.New(emu.Config{Seed: 7, Fixtures: &emu.SeedOptions{Orders: 1200, Seed: 7, Days: 20}})
		srv := httptest.NewServer(e)
		b := &bundle{emu: e, srv: srv, tokens: &whiplash.MemoryTokenStore{}, rec: &recorder{}}
		c, err := whiplash.NewClient(whiplash.Config{BaseURL: srv.URL, ClientID: emu.DefaultClientID, ClientSecret: emu.DefaultClientSecret,
			RedirectURL: "http://127.0.0.1/cb", Tokens: b.tokens, Rate: 1000, Burst: 1000, Limiter: outbound.NewLocalLimiter(nil), CustomerID: "1"})
		if err != nil {
			panic(err)
		}
		b.client = c
		b.authorize(t)
		for o, err := range c.AllOrders(context.Background(), whiplash.SearchParams{PerPage: 250}) {
			if err != nil {
				panic(err)
			}
			fixture.all = append(fixture.all, o)
		}
		fixture.b = b
	})
	if fixture.b == nil {
		t.Fatal("fixture setup failed")
	}
	return fixture.b, fixture.all
}

func ids(os []whiplash.Order) []int64 {
	var out []int64
	for _, o := range os {
		out = append(out, int64(o.ID))
	}
	slices.Sort(out)
	return out
}

func TestClientSearchPredicates(t *testing.T) {
	t.Parallel()
	b, all := seeded(t)
	if len(all) != 1200 {
		t.Fatalf("fixture has %d orders", len(all))
	}
	mid := all[len(all)/2].UpdatedAt.Time
	q1 := all[len(all)/4].UpdatedAt.Time
	someEmail := all[123].Email
	someOriginal := all[456].Originator.OriginalID
	for _, tc := range []struct {
		name string
		p    whiplash.SearchParams
		keep func(o whiplash.Order) bool
	}{
		{"everything", whiplash.SearchParams{}, func(whiplash.Order) bool { return true }},
		{"status in shipped/delivered", whiplash.SearchParams{Status: []int{300, 350}},
			func(o whiplash.Order) bool { return o.Status == 300 || o.Status == 350 }},
		{"cancelled", whiplash.SearchParams{Status: []int{40}}, func(o whiplash.Order) bool { return o.Status == 40 }},
		{"email", whiplash.SearchParams{Email: someEmail}, func(o whiplash.Order) bool { return o.Email == someEmail }},
		{"updated_at range", whiplash.SearchParams{UpdatedAtGTE: q1, UpdatedAtLT: mid},
			func(o whiplash.Order) bool { return !o.UpdatedAt.Before(q1) && o.UpdatedAt.Before(mid) }},
		{"updated_at from, UTC input", whiplash.SearchParams{UpdatedAtGTE: mid.UTC()},
			func(o whiplash.Order) bool { return !o.UpdatedAt.Before(mid) }},
		{"created_at before", whiplash.SearchParams{CreatedAtLT: mid},
			func(o whiplash.Order) bool { return o.CreatedAt.Before(mid) }},
		{"shop 2", whiplash.SearchParams{ShopID: 2}, func(o whiplash.Order) bool { return o.StoreID() == 2 }},
		{"originator id", whiplash.SearchParams{Predicates: map[string]any{"originator_original_id_eq": someOriginal}},
			func(o whiplash.Order) bool { return o.Originator != nil && o.Originator.OriginalID == someOriginal }},
		{"combined", whiplash.SearchParams{UpdatedAtGTE: q1, Status: []int{100, 120, 150, 160, 250}, ShopID: 3},
			func(o whiplash.Order) bool {
				return !o.UpdatedAt.Before(q1) && o.Status >= 100 && o.Status <= 250 && o.StoreID() == 3
			}},
		{"status below", whiplash.SearchParams{Predicates: map[string]any{"status_lt": 300, "status_gt": 40}},
			func(o whiplash.Order) bool { return o.Status < 300 && o.Status > 40 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []whiplash.Order
			for _, o := range all {
				if tc.keep(o) {
					want = append(want, o)
				}
			}
			var got []whiplash.Order
			p := tc.p
			p.PerPage = 100
			for o, err := range b.client.AllOrders(context.Background(), p) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, o)
			}
			if len(want) == 0 && tc.name != "email" {
				t.Fatalf("case matches nothing; it tests nothing")
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("got %d orders, want %d", len(got), len(want))
			}
			n, err := b.client.CountOrders(context.Background(), tc.p)
			if err != nil || n != len(want) {
				t.Fatalf("count %d (%v), want %d", n, err, len(want))
			}
		})
	}
}

func TestClientSortAndPagingToTheEnd(t *testing.T) {
	t.Parallel()
	b, all := seeded(t)
	ctx := context.Background()
	for _, per := range []int{50, 70} {
		pg := b.client.Pager(whiplash.SearchParams{PerPage: per})
		var got []whiplash.Order
		pages := 0
		for !pg.Done() {
			os, err := pg.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, os...)
		}
		// The emulator caps per_page at 50 (as Whiplash may; its gem never
		// asks for more), so 70 gets pages of 50 that are not the end.
		eff := min(per, 50)
		wantPages := len(all)/eff + 1 // a short page or, when it divides evenly, an empty one ends it
		if pages != wantPages || pg.Page != wantPages+1 || len(got) != len(all) {
			t.Fatalf("per_page %d: %d pages (next %d), %d orders; want %d pages, %d orders", per, pages, pg.Page, len(got), wantPages, len(all))
		}
		seen := map[int64]bool{}
		for i, o := range got {
			if seen[int64(o.ID)] {
				t.Fatalf("order %d twice", o.ID)
			}
			seen[int64(o.ID)] = true
			if i > 0 && o.UpdatedAt.Before(got[i-1].UpdatedAt.Time) {
				t.Fatalf("default sort is not updated_at asc at %d", i)
			}
		}
		if os, err := pg.Next(ctx); os != nil || err != nil {
			t.Fatal("Next after the end should return nothing")
		}
	}
	desc, err := b.client.ListOrders(ctx, whiplash.SearchParams{Sort: "updated_at desc", PerPage: 5})
	if err != nil || len(desc) != 5 {
		t.Fatal(err)
	}
	latest := slices.MaxFunc(all, func(a, b whiplash.Order) int { return a.UpdatedAt.Compare(b.UpdatedAt.Time) })
	if !desc[0].UpdatedAt.Equal(latest.UpdatedAt.Time) {
		t.Fatalf("desc sort starts at %v, latest is %v", desc[0].UpdatedAt, latest.UpdatedAt)
	}
	// A resumed pager starts where a stored page number says.
	pg := b.client.Pager(whiplash.SearchParams{Page: 3, PerPage: 50})
	os, err := pg.Next(ctx)
	if err != nil || len(os) != 50 || os[0].ID != all[100].ID {
		t.Fatalf("resumed page: %d orders, err %v", len(os), err)
	}
	// An invalid sort is a terminal 422 with the vendor's message.
	_, err = b.client.ListOrders(ctx, whiplash.SearchParams{Sort: "colour asc"})
	if outbound.ClassOf(err) != domain.ClassTerminal || domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "colour") {
		t.Fatalf("bad sort: %v", err)
	}
}

func TestClientGetOrder(t *testing.T) {
	t.Parallel()
	b, all := seeded(t)
	ctx := context.Background()
	want := all[17]
	o, err := b.client.GetOrder(ctx, int64(want.ID))
	if err != nil || o.ID != want.ID || o.Email != want.Email || !o.UpdatedAt.Equal(want.UpdatedAt.Time) || len(o.OrderItems) != len(want.OrderItems) {
		t.Fatalf("get: %+v %v", o, err)
	}
	_, err = b.client.GetOrder(ctx, 987654321)
	var ae *whiplash.APIError
	if !domain.IsNotFound(err) || outbound.StatusOf(err) != 404 || outbound.ClassOf(err) != domain.ClassTerminal ||
		!errors.As(err, &ae) || !strings.Contains(ae.Message, "Couldn't find Order") {
		t.Fatalf("unknown order: %v", err)
	}
}

func TestClientRateLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("leaky bucket", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{RateLimit: emu.LeakyBucket{Capacity: 2, LeakPerSecond: 0.25}}, nil)
		b.authorize(t)
		for range 2 {
			if _, err := b.client.CountOrders(ctx, whiplash.SearchParams{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.client.CountOrders(ctx, whiplash.SearchParams{})
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.Status != 429 || oe.RetryAfter != 4*time.Second {
			t.Fatalf("err %v", err)
		}
		var ae *whiplash.APIError
		if !errors.As(err, &ae) || ae.Message != "Rate limit exceeded" {
			t.Fatalf("message: %v", err)
		}
		// The budget is paused until Retry-After.
		st := b.limiter.Status()
		if len(st) != 1 || st[0].Key != "whiplash:1" || st[0].PausedUntil.IsZero() {
			t.Fatalf("limiter %+v", st)
		}
	})
	t.Run("injected fault", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		b.authorize(t)
		resp, err := http.Post(b.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"rate_limit_rate":1,"retry_after":7}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = b.client.ListOrders(ctx, whiplash.SearchParams{})
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.RetryAfter != 7*time.Second {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("outage is transient", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Config{}, nil)
		b.authorize(t)
		resp, _ := http.Post(b.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"outage":true}`))
		resp.Body.Close()
		_, err := b.client.GetOrder(ctx, 1)
		if outbound.ClassOf(err) != domain.ClassTransient || outbound.StatusOf(err) != 503 {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, emu.Config{}, nil)
	b.authorize(t)
	events, err := b.client.ListNotificationEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int64{}
	for _, e := range events {
		names[e.Name] = int64(e.ID)
	}
	for _, n := range []string{"order.created", "order.status_changed", "order.shipped", "order.delivered", "order.cancelled"} {
		if names[n] == 0 {
			t.Fatalf("catalogue lacks %s", n)
		}
	}
	const hook = "https://hub.example.com/hooks/whiplash/inst-1"
	want := []string{"order.created", "order.status_changed", "order.shipped"}
	subs, err := b.client.EnsureSubscriptions(ctx, hook, want)
	if err != nil || len(subs) != 3 {
		t.Fatalf("ensure: %v %v", subs, err)
	}
	again, err := b.client.EnsureSubscriptions(ctx, hook, want)
	if err != nil || !slices.EqualFunc(again, subs, func(a, b whiplash.Subscription) bool { return a.ID == b.ID }) {
		t.Fatalf("ensure is not idempotent: %v %v", again, err)
	}
	if _, err := b.client.EnsureSubscriptions(ctx, hook, []string{"order.teleported"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("unknown event: %v", err)
	}
	_, err = b.client.CreateSubscription(ctx, whiplash.SubscriptionParams{NotificationEventID: names["order.shipped"], Endpoint: hook})
	if domain.ErrorCode(err) != domain.ECONFLICT || outbound.StatusOf(err) != 409 {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = b.client.CreateSubscription(ctx, whiplash.SubscriptionParams{NotificationEventID: names["order.shipped"], Endpoint: "not a url"})
	if domain.ErrorCode(err) != domain.EINVALID || outbound.StatusOf(err) != 422 {
		t.Fatalf("invalid: %v", err)
	}
	if err := b.client.SetSubscriptionActive(ctx, int64(subs[0].ID), false); err != nil {
		t.Fatal(err)
	}
	if err := b.client.DeleteSubscription(ctx, int64(subs[1].ID)); err != nil {
		t.Fatal(err)
	}
	if err := b.client.DeleteSubscription(ctx, int64(subs[1].ID)); !domain.IsNotFound(err) {
		t.Fatalf("delete twice: %v", err)
	}
	list, err := b.client.ListSubscriptions(ctx)
	if err != nil || len(list) != 2 || list[0].Active || list[0].Version != 2 || list[0].NotificationType != "webhook" || list[0].Endpoint != hook {
		t.Fatalf("list %+v %v", list, err)
	}
	// Ensure re-creates the deleted one and reactivates the switched-off one.
	subs, err = b.client.EnsureSubscriptions(ctx, hook, want)
	if err != nil || len(subs) != 3 {
		t.Fatal(err)
	}
	list, _ = b.client.ListSubscriptions(ctx)
	for _, s := range list {
		if !s.Active {
			t.Fatalf("subscription %d still inactive", s.ID)
		}
	}
	if len(list) != 3 {
		t.Fatalf("%d subscriptions", len(list))
	}
}

// TestClientReadsEveryPageOfCatalogueAndSubscriptions: both lists are
// paged (V2 spec: page, per_page); against a server that serves 3 rows a
// page whatever is asked, the client still sees the whole catalogue and
// every subscription, so EnsureSubscriptions maps late names and never
// re-creates a subscription that sits on a later page.
func TestClientReadsEveryPageOfCatalogueAndSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var listCalls atomic.Int64
	b := setup(t, emu.Config{MaxPerPage: 3}, nil)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/api/v2/notification_events" || r.URL.Path == "/api/v2/notification_subscriptions") {
			listCalls.Add(1)
		}
		b.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	c, err := whiplash.NewClient(whiplash.Config{BaseURL: counting.URL, ClientID: emu.DefaultClientID, ClientSecret: emu.DefaultClientSecret,
		RedirectURL: "http://127.0.0.1/oauth/callback/whiplash", Tokens: b.tokens, CustomerID: "1", Rate: 1000, Burst: 1000, Limiter: b.limiter})
	if err != nil {
		t.Fatal(err)
	}
	b.authorize(t) // stores the token c reads too
	events, err := c.ListNotificationEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 10 || listCalls.Load() < 4 {
		t.Fatalf("read %d catalogue entries in %d calls; want the whole catalogue over several pages", len(events), listCalls.Load())
	}
	seen := map[int64]bool{}
	for _, e := range events {
		if seen[int64(e.ID)] {
			t.Fatalf("catalogue entry %d read twice", e.ID)
		}
		seen[int64(e.ID)] = true
	}
	last := events[len(events)-1].Name // on the last page
	const hook = "https://hub.example.com/hooks/whiplash/inst-9"
	want := []string{"order.created", "order.status_changed", "order.shipped", "order.delivered", "order.cancelled", "order.packed", "order.paused", last}
	subs, err := c.EnsureSubscriptions(ctx, hook, want)
	if err != nil || len(subs) != len(want) {
		t.Fatalf("ensure: %d subscriptions, %v", len(subs), err)
	}
	list, err := c.ListSubscriptions(ctx)
	if err != nil || len(list) != len(want) {
		t.Fatalf("list: %d subscriptions over pages of 3, want %d (%v)", len(list), len(want), err)
	}
	again, err := c.EnsureSubscriptions(ctx, hook, want)
	if err != nil || !slices.EqualFunc(again, subs, func(a, b whiplash.Subscription) bool { return a.ID == b.ID }) {
		t.Fatalf("second ensure re-created subscriptions from later pages: %v", err)
	}
}

func TestClientReadOnlyScopeCannotWrite(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Config{}, func(c *whiplash.Config) { c.Scopes = []string{"user_read"} })
	b.authorize(t)
	_, err := b.client.CreateSubscription(context.Background(), whiplash.SubscriptionParams{NotificationEventID: 1, Endpoint: "https://x.example.com"})
	if domain.ErrorCode(err) != domain.EFORBIDDEN || outbound.ClassOf(err) != domain.ClassTerminal {
		t.Fatalf("err %v", err)
	}
}

func TestClientShopScopeAndBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Config{Fixtures: &emu.SeedOptions{Orders: 30}}, func(c *whiplash.Config) {
		c.ShopID, c.SendCustomerHeader, c.Rate, c.Burst = 2, true, 0, 0 // default budget
	})
	b.authorize(t)
	ctx := context.Background()
	n, err := b.client.CountOrders(ctx, whiplash.SearchParams{})
	if err != nil || n != 10 {
		t.Fatalf("X-SHOP-ID 2 count %d %v (30 orders over 3 stores)", n, err)
	}
	st := b.limiter.Status()
	if len(st) != 1 || st[0].Key != "whiplash:1" || st[0].Rate != whiplash.DefaultRate {
		t.Fatalf("budget %+v", st)
	}
	b.rec.mu.Lock()
	defer b.rec.mu.Unlock()
	for _, d := range b.rec.ds {
		if d.Vendor != domain.VendorWhiplash || d.Account != "1" || d.Endpoint != "GET /api/v2/orders/count" {
			t.Fatalf("delivery %+v", d)
		}
	}
}

func TestClientCanceledContext(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Config{}, nil)
	b.authorize(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.client.ListOrders(ctx, whiplash.SearchParams{})
	if outbound.ClassOf(err) != domain.ClassCanceled {
		t.Fatalf("err %v", err)
	}
}

func TestSearchParamsSearch(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("EST", -5*3600))
	for _, tc := range []struct {
		p    whiplash.SearchParams
		want string
	}{
		{whiplash.SearchParams{}, ""},
		{whiplash.SearchParams{UpdatedAtGTE: from}, `{"updated_at_gteq":"2026-03-01T00:00:00.000-05:00"}`},
		{whiplash.SearchParams{UpdatedAtLT: from.UTC()}, `{"updated_at_lt":"2026-03-01T05:00:00.000+00:00"}`},
		{whiplash.SearchParams{Status: []int{300, 350}, Email: "a@b.c", ShopID: 3}, `{"email_eq":"a@b.c","shop_id_eq":3,"status_in":[300,350]}`},
	} {
		if got := tc.p.Search(); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"message":"Couldn't find Order"}`, "Couldn't find Order"},
		{`{"error":"Rate limit exceeded"}`, "Rate limit exceeded"},
		{`{"error":{"message":"nested"}}`, "nested"},
		{`{"error":"invalid_grant","error_description":"The refresh token is invalid"}`, "The refresh token is invalid"},
		{`{"errors":["a is bad","b is bad"]}`, "a is bad; b is bad"},
		{`"plain json string"`, "plain json string"},
		{`<html>Bad Gateway</html>`, "<html>Bad Gateway</html>"},
		{``, ""},
		{`{"other":1}`, `{"other":1}`},
	} {
		if got := whiplash.ErrorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	if _, err := whiplash.NewClient(whiplash.Config{ClientID: "x"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := whiplash.NewClient(whiplash.Config{ClientID: "x", ClientSecret: "y"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("missing token store: %v", err)
	}
	c, err := whiplash.NewClient(whiplash.Config{ClientID: "x", ClientSecret: "y", ClientCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	if u := c.AuthCodeURL("s"); !strings.HasPrefix(u, whiplash.ProductionURL+"/oauth/authorize?") {
		t.Fatalf("auth URL %s", u)
	}
}
