package shopify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/domain"
	shopifyemu "switchyard/internal/emulator/shopify"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/shopify"
)

const (
	seeded = "seeded.buyer@example.com"
	secret = shopifyemu.DefaultClientSecret
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	emu   *shopifyemu.Emulator
	srv   *httptest.Server
	clock *clock
}

func setup(t *testing.T, mod func(*shopifyemu.Config)) *bundle {
	t.Helper()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	cfg := shopifyemu.Config{Now: clk.Now, Seed: 9, Customers: 10, Emails: []string{seeded}}
	if mod != nil {
		mod(&cfg)
	}
	emu := shopifyemu.New(cfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return &bundle{emu: emu, srv: srv, clock: clk}
}

func (b *bundle) client(t *testing.T, token string, mod func(*shopify.Config)) (*shopify.Client, *outbound.LocalLimiter) {
	t.Helper()
	lim := outbound.NewLocalLimiter(b.clock.Now)
	cfg := shopify.Config{Shop: shopifyemu.DefaultShop, AccessToken: token, BaseURL: b.srv.URL, Now: b.clock.Now, Limiter: lim}
	if mod != nil {
		mod(&cfg)
	}
	c, err := shopify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, lim
}

func (b *bundle) oauth(t *testing.T, mod func(*shopify.OAuthConfig)) *shopify.OAuth {
	t.Helper()
	cfg := shopify.OAuthConfig{ClientID: shopifyemu.DefaultClientID, ClientSecret: secret, Scopes: []string{"read_orders", "read_customers"},
		RedirectURL: "http://127.0.0.1:9/oauth/callback/shopify", AdminURL: func(string) string { return b.srv.URL }, Now: b.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	o, err := shopify.NewOAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func location(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestOAuthInstall(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	o := b.oauth(t, nil)

	// 1. The signed install request verifies; tampering breaks it.
	install, err := b.emu.InstallURL("", "http://127.0.0.1:9/install/together")
	if err != nil {
		t.Fatal(err)
	}
	iu, _ := url.Parse(install)
	if err := o.VerifyQuery(iu.Query()); err != nil {
		t.Fatalf("install query: %v", err)
	}
	tampered := iu.Query()
	tampered.Set("shop", "evil-store.myshopify.com")
	if err := o.VerifyQuery(tampered); !errors.Is(err, shopify.ErrBadHMAC) {
		t.Fatalf("tampered install = %v, want bad hmac", err)
	}

	// 2. Consent page, then the callback with code+hmac+state+shop.
	authURL, err := o.AuthorizeURL(iu.Query().Get("shop"), "nonce-1", false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("Install app")) || !bytes.Contains(page, []byte("read orders")) {
		t.Fatalf("consent page %d: %s", resp.StatusCode, page)
	}
	au, _ := url.Parse(authURL)
	form := au.Query()
	form.Set("action", "install")
	resp, err = noFollow.PostForm(b.srv.URL+"/admin/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	cb := location(t, resp)
	for _, k := range []string{"code", "hmac", "host", "shop", "state", "timestamp"} {
		if cb.Get(k) == "" {
			t.Fatalf("callback lacks %s: %v", k, cb)
		}
	}

	// Tampered callbacks fail before any exchange.
	for name, mutate := range map[string]func(url.Values){
		"code":      func(q url.Values) { q.Set("code", "0000") },
		"state":     func(q url.Values) { q.Set("state", "other") },
		"timestamp": func(q url.Values) { q.Set("timestamp", "1") },
		"no hmac":   func(q url.Values) { q.Del("hmac") },
	} {
		q := url.Values{}
		for k, v := range cb {
			q[k] = append([]string(nil), v...)
		}
		mutate(q)
		if _, _, err := o.Callback(ctx, q, "nonce-1"); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
			t.Errorf("tampered %s: err = %v, want unauthorized", name, err)
		}
	}
	if _, _, err := o.Callback(ctx, cb, "nonce-2"); !errors.Is(err, shopify.ErrBadState) {
		t.Fatalf("wrong state err = %v", err)
	}

	shop, tok, err := o.Callback(ctx, cb, "nonce-1")
	if err != nil {
		t.Fatal(err)
	}
	if shop != shopifyemu.DefaultShop || !strings.HasPrefix(tok.AccessToken, "shpat_") || strings.Join(tok.Scopes(), ",") != "read_orders,read_customers" {
		t.Fatalf("token = %s %+v", shop, tok)
	}
	// An expiring offline token (expiring=1): an hour, with a refresh token.
	if tok.ExpiresIn != 3600 || tok.RefreshToken == "" || tok.RefreshTokenExpiresIn <= 0 {
		t.Fatalf("token = %+v, want an expiring offline token with its refresh token", tok)
	}
	if _, err := o.Exchange(ctx, shop, cb.Get("code")); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("code reuse err = %v, want invalid", err)
	}

	// The token reads orders.
	c, _ := b.client(t, tok.AccessToken, nil)
	if got, err := c.OrdersByEmail(ctx, seeded, b.clock.Now().AddDate(0, 0, -30)); err != nil || len(got) == 0 {
		t.Fatalf("orders with installed token: %d %v", len(got), err)
	}

	// 3. Per-user (online) tokens, auto-approved; a stale callback fails.
	authURL, _ = o.AuthorizeURL(shopifyemu.DefaultShop, "nonce-3", true)
	resp, err = noFollow.Get(authURL + "&auto_approve=1")
	if err != nil {
		t.Fatal(err)
	}
	cb = location(t, resp)
	_, tok, err = o.Callback(ctx, cb, "nonce-3")
	if err != nil || tok.ExpiresIn == 0 || tok.AssociatedUser == nil {
		t.Fatalf("online token = %+v, %v", tok, err)
	}
	b.clock.Add(25 * time.Hour)
	if err := o.VerifyQuery(cb); !errors.Is(err, shopify.ErrStaleQuery) {
		t.Fatalf("stale callback err = %v", err)
	}
	// Bad inputs.
	if _, err := o.AuthorizeURL("evil.example.com", "s", false); !errors.Is(err, shopify.ErrBadShop) {
		t.Fatalf("bad shop err = %v", err)
	}
	wrong := b.oauth(t, func(c *shopify.OAuthConfig) { c.ClientSecret = "wrong" })
	if _, err := wrong.Exchange(ctx, shopifyemu.DefaultShop, "whatever"); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("wrong secret exchange err = %v", err)
	}
}

// goldenDir holds the openssl-signed vectors shared with the emulator.
const goldenDir = "../../testdata/golden/shopify"

// TestGoldenQueries: the verifier accepts the openssl-signed queries
// (Shopify's own published example, a callback, and one that needs the
// documented escapes and the array rule) and rejects them tampered.
func TestGoldenQueries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, secret string }{
		{"docs_example", "hush"},
		{"oauth_callback", secret},
		{"escaping", secret},
	} {
		raw, err := os.ReadFile(goldenDir + "/" + tc.name + ".query")
		if err != nil {
			t.Fatal(err)
		}
		q, err := url.ParseQuery(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if err := shopify.VerifyQueryHMAC(q, []string{"old-secret", tc.secret}); err != nil {
			t.Errorf("%s: openssl-signed query rejected: %v", tc.name, err)
		}
		if got := shopify.SignQuery(tc.secret, q); got != q.Get("hmac") {
			t.Errorf("%s: SignQuery = %s, openssl says %s", tc.name, got, q.Get("hmac"))
		}
		for k := range q {
			if k == "hmac" || k == "signature" {
				continue
			}
			bad := url.Values{}
			for k2, v := range q {
				bad[k2] = append([]string(nil), v...)
			}
			bad[k][0] += "x"
			if err := shopify.VerifyQueryHMAC(bad, []string{tc.secret}); !errors.Is(err, shopify.ErrBadHMAC) {
				t.Errorf("%s: query with %s changed: err = %v", tc.name, k, err)
			}
		}
	}
}

func TestGoldenFixtures(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(goldenDir + "/orders_updated.json")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(goldenDir + "/orders_updated.hmac")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(shopify.SignatureHeader, strings.TrimSpace(string(sig)))
	if got := shopify.Sign(secret, body); got != strings.TrimSpace(string(sig)) {
		t.Fatalf("Sign = %s, openssl says %s", got, sig)
	}
	tampered := bytes.Replace(body, []byte(`"quantity":1`), []byte(`"quantity":2`), 1)
	tests := []struct {
		name    string
		h       http.Header
		body    []byte
		secrets []string
		want    error
	}{
		{"valid", h, body, []string{secret}, nil},
		{"valid with rotated secret", h, body, []string{"new-secret", secret}, nil},
		{"tampered body", h, tampered, []string{secret}, shopify.ErrBadSignature},
		{"wrong secret", h, body, []string{"nope"}, shopify.ErrBadSignature},
		{"no secrets", h, body, []string{""}, shopify.ErrNoSecret},
		{"missing header", http.Header{}, body, []string{secret}, shopify.ErrMissingSignature},
		{"not base64", http.Header{shopify.SignatureHeader: {"%%%"}}, body, []string{secret}, shopify.ErrBadSignature},
	}
	for _, tc := range tests {
		if err := (shopify.Verifier{}).Verify(tc.h, tc.body, tc.secrets); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	wo, err := shopify.DecodeOrderWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	o := wo.AsOrder()
	rule := shopify.FinalSaleRule{}
	if !rule.IsFinalSale(o, o.LineItems[0]) || rule.IsFinalSale(o, o.LineItems[1]) {
		t.Fatalf("final-sale lines of golden order: %+v", o.LineItems)
	}

	raw, err := os.ReadFile(goldenDir + "/oauth_callback.query")
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.ParseQuery(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := shopify.VerifyQueryHMAC(q, []string{secret}); err != nil {
		t.Fatalf("golden callback: %v", err)
	}
	if got := shopify.SignQuery(secret, q); got != q.Get("hmac") {
		t.Fatalf("SignQuery = %s, openssl says %s", got, q.Get("hmac"))
	}
	q.Set("state", "nonce-4f2b")
	if err := shopify.VerifyQueryHMAC(q, []string{secret}); !errors.Is(err, shopify.ErrBadHMAC) {
		t.Fatalf("tampered golden callback err = %v", err)
	}
}

// expected computes from the emulator what OrdersByEmail should return.
func expected(b *bundle, email string, since time.Time, allOrders bool) []shopifyemu.Order {
	var out []shopifyemu.Order
	cutoff := b.clock.Now().AddDate(0, 0, -60)
	for _, o := range b.emu.Orders("") {
		if !strings.EqualFold(o.Email, email) || (!since.IsZero() && o.CreatedAt.Before(since)) || (!allOrders && o.CreatedAt.Before(cutoff)) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

func TestOrdersByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	now := b.clock.Now()
	all := b.emu.IssueToken("", "read_orders", "read_customers", "read_all_orders")
	recent := b.emu.IssueToken("", "read_orders")
	tests := []struct {
		name      string
		token     string
		since     time.Time
		pageSize  int
		lineSize  int
		allOrders bool
	}{
		{"all orders, pages of 1", all, time.Time{}, 1, 1, true},
		{"all orders, one page", all, time.Time{}, 20, 5, true},
		{"since 30 days", all, now.AddDate(0, 0, -30), 2, 2, true},
		{"60-day visibility without read_all_orders", recent, now.AddDate(0, 0, -90), 1, 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := b.client(t, tc.token, func(c *shopify.Config) { c.PageSize, c.LineItemPageSize = tc.pageSize, tc.lineSize })
			got, err := c.OrdersByEmail(context.Background(), seeded, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(b, seeded, tc.since, tc.allOrders)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("got %d orders, want %d (>0)", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Name != w.Name() || !g.CreatedAt.Equal(w.CreatedAt) || len(g.LineItems) != len(w.LineItems) || g.Total.Amount != w.Total() {
					t.Errorf("order %d = %s %s %d lines %s, want %s %s %d lines %s", i, g.Name, g.CreatedAt, len(g.LineItems),
						g.Total.Amount, w.Name(), w.CreatedAt, len(w.LineItems), w.Total())
				}
				for j, li := range g.LineItems {
					if li.SKU != w.LineItems[j].SKU || li.Quantity != w.LineItems[j].Quantity || len(li.CustomAttributes) != len(w.LineItems[j].Properties) {
						t.Errorf("order %s line %d = %+v, want %+v", g.Name, j, li, w.LineItems[j])
					}
				}
			}
		})
	}
	t.Run("unknown email", func(t *testing.T) {
		t.Parallel()
		c, _ := b.client(t, all, nil)
		got, err := c.OrdersByEmail(context.Background(), "nobody@example.com", time.Time{})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %d, %v", len(got), err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		bad, _ := b.client(t, "shpat_wrong", nil)
		if _, err := bad.OrdersByEmail(context.Background(), seeded, time.Time{}); outbound.ClassOf(err) != domain.ClassAuth {
			t.Errorf("bad token class = %s (%v)", outbound.ClassOf(err), err)
		}
		noScope, _ := b.client(t, b.emu.IssueToken("", "read_products"), nil)
		_, err := noScope.OrdersByEmail(context.Background(), seeded, time.Time{})
		var ge shopify.GraphQLErrors
		if outbound.ClassOf(err) != domain.ClassTerminal || !errors.As(err, &ge) || ge[0].Code() != "ACCESS_DENIED" {
			t.Errorf("no scope err = %v", err)
		}
		c, _ := b.client(t, all, nil)
		_, err = c.Query(context.Background(), "Bad", `{ orders(first: 1) { edges { node { id secretField } } } }`, nil, nil)
		if outbound.ClassOf(err) != domain.ClassTerminal || !errors.As(err, &ge) || ge[0].Code() != "undefinedField" {
			t.Errorf("unknown field err = %v", err)
		}
		if _, err := c.OrdersByEmail(context.Background(), "not-an-email", time.Time{}); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("bad email err = %v", err)
		}
	})
}

func TestFinalSaleOrders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	now := b.clock.Now()
	// Edge orders: one 59 days old, one 61 days old, both final sale.
	for _, days := range []int{59, 61} {
		at := now.AddDate(0, 0, -days)
		n := shopifyemu.NewOrder{Email: "edge@example.com", CreatedAt: &at}
		n.LineItems = append(n.LineItems, struct {
			Title     string `json:"title"`
			SKU       string `json:"sku"`
			Quantity  int    `json:"quantity"`
			Price     string `json:"price"`
			FinalSale bool   `json:"final_sale"`
		}{Title: "Tee", SKU: "TEE", Quantity: 1, Price: "20.00", FinalSale: true})
		if _, err := b.emu.CreateOrder(n); err != nil {
			t.Fatal(err)
		}
	}
	// Even with read_all_orders, the 60-day window applies.
	c, _ := b.client(t, b.emu.IssueToken("", "read_orders", "read_all_orders"), nil)
	tests := []struct {
		email string
	}{{seeded}, {"edge@example.com"}, {"nobody@example.com"}}
	for _, tc := range tests {
		got, err := c.FinalSaleOrders(ctx, tc.email, now)
		if err != nil {
			t.Fatal(err)
		}
		var want []shopifyemu.Order
		for _, o := range expected(b, tc.email, now.Add(-shopify.FinalSaleWindow), true) {
			for _, li := range o.LineItems {
				if li.FinalSale() {
					want = append(want, o)
					break
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d final-sale orders, want %d", tc.email, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			nFinal := 0
			for _, li := range w.LineItems {
				if li.FinalSale() {
					nFinal++
				}
			}
			if g.Name != w.Name() || len(g.Items) != nFinal || g.UpgradedAt.IsZero() || now.Sub(g.CreatedAt) > shopify.FinalSaleWindow {
				t.Errorf("%s: order %s items %d upgraded %s, want %s items %d", tc.email, g.Name, len(g.Items), g.UpgradedAt, w.Name(), nFinal)
			}
		}
	}
	// The seeded email has a final-sale order older than 60 days that is excluded.
	old := 0
	for _, o := range expected(b, seeded, time.Time{}, true) {
		for _, li := range o.LineItems {
			if li.FinalSale() && now.Sub(o.CreatedAt) > shopify.FinalSaleWindow {
				old++
				break
			}
		}
	}
	if old == 0 {
		t.Fatal("fixture has no final-sale order outside the window")
	}
	edge, _ := c.FinalSaleOrders(ctx, "edge@example.com", now)
	if len(edge) != 1 || now.Sub(edge[0].CreatedAt) != 59*24*time.Hour {
		t.Fatalf("edge orders = %+v", edge)
	}
	// A tag-based rule marks every line of tagged orders.
	tagged, _ := b.client(t, b.emu.IssueToken("", "read_orders"), func(c *shopify.Config) {
		c.FinalSale = shopify.FinalSaleRule{Keys: []string{"no-such-key"}, Tags: []string{shopifyemu.FinalSaleTag}}
	})
	got, err := tagged.FinalSaleOrders(ctx, seeded, now)
	if err != nil || len(got) == 0 || len(got[0].Items) != len(got[0].LineItems) {
		t.Fatalf("tag rule: %+v %v", got, err)
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("THROTTLED then recovery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *shopifyemu.Config) { c.BucketSize, c.RestoreRate = 1000, 50 })
		c, lim := b.client(t, b.emu.IssueToken("", "read_orders"), nil)
		b.emu.SetBucket("", 100)
		_, err := c.OrdersByEmail(ctx, seeded, time.Time{})
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited {
			t.Fatalf("err = %v, want rate limited", err)
		}
		st, _ := c.Throttle()
		cost := 0
		// requested cost is reported even when throttled: wait = (requested − available)/restore.
		var ge shopify.GraphQLErrors
		if !errors.As(err, &ge) || ge[0].Code() != "THROTTLED" || st.CurrentlyAvailable != 100 || st.RestoreRate != 50 {
			t.Fatalf("throttle status %+v, err %v", st, err)
		}
		if oe.RetryAfter <= 0 {
			t.Fatalf("retry after = %s", oe.RetryAfter)
		}
		cost = int(100 + oe.RetryAfter.Seconds()*50 + 0.5)
		if cost < 101 || cost > 1000 {
			t.Fatalf("implied requested cost %d out of range (retry after %s)", cost, oe.RetryAfter)
		}
		if p := pausedUntil(lim); !p.Equal(b.clock.Now().Add(oe.RetryAfter)) {
			t.Fatalf("limiter paused until %s, want %s", p, b.clock.Now().Add(oe.RetryAfter))
		}
		// After Retry-After the bucket holds the query's cost; 2 s more
		// restore the client's 10 % reserve, so the call goes out at once.
		b.clock.Add(oe.RetryAfter + 2*time.Second)
		if _, avail, _ := b.emu.ThrottleStatus(""); int(avail) != cost+100 {
			t.Fatalf("emulator bucket %v, want %d", avail, cost+100)
		}
		got, err := c.OrdersByEmail(ctx, seeded, time.Time{})
		if err != nil || len(got) == 0 {
			t.Fatalf("after waiting: %d %v", len(got), err)
		}
	})
	t.Run("slows down when the bucket is low", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *shopifyemu.Config) { c.BucketSize, c.RestoreRate = 1000, 50 })
		c, lim := b.client(t, b.emu.IssueToken("", "read_orders"), nil)
		b.emu.SetBucket("", 500)
		since := b.clock.Now().AddDate(0, 0, -3)
		cost, err := c.Query(ctx, "OrdersByEmail", probeQuery, map[string]any{"q": "email:" + seeded}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := c.Throttle()
		if st.CurrentlyAvailable >= 500 || !pausedUntil(lim).IsZero() {
			t.Fatalf("after first call: %+v paused %s", st, pausedUntil(lim))
		}
		// The next call waits until the bucket holds its expected cost plus
		// 10 % of the maximum: (requested + 100 − available) / restore.
		want := b.clock.Now().Add(time.Duration((float64(cost.RequestedQueryCost)+100-st.CurrentlyAvailable)/50*1000) * time.Millisecond)
		cctx, cancel := context.WithCancel(ctx)
		cancel() // do not actually wait: the pause is what is checked
		_, err = c.OrdersByEmail(cctx, seeded, since)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled while waiting", err)
		}
		if p := pausedUntil(lim); !p.Equal(want) {
			t.Fatalf("paused until %s, want %s (status %+v, cost %+v)", p, want, st, cost)
		}
	})
	t.Run("429 variant", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *shopifyemu.Config) { c.ThrottleStatus = http.StatusTooManyRequests })
		c, _ := b.client(t, b.emu.IssueToken("", "read_orders"), nil)
		b.emu.SetBucket("", 0)
		_, err := c.OrdersByEmail(ctx, seeded, time.Time{})
		var oe *outbound.Error
		if !errors.As(err, &oe) || oe.Class != domain.ClassRateLimited || oe.Status != 429 || oe.RetryAfter <= 0 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("query over the single-query maximum", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		c, _ := b.client(t, b.emu.IssueToken("", "read_orders"), func(c *shopify.Config) { c.PageSize, c.LineItemPageSize = 250, 250 })
		_, err := c.OrdersByEmail(ctx, seeded, time.Time{})
		var ge shopify.GraphQLErrors
		if outbound.ClassOf(err) != domain.ClassTerminal || !errors.As(err, &ge) || ge[0].Code() != "MAX_COST_EXCEEDED" {
			t.Fatalf("err = %v", err)
		}
	})
}

// probeQuery has the cost of one OrdersByEmail page (10 orders, 10 lines).
const probeQuery = `query P($q: String!) { orders(first: 10, query: $q) { edges { node { id
  totalPriceSet { shopMoney { amount } } customer { id } customAttributes { key }
  lineItems(first: 10) { edges { node { id originalUnitPriceSet { shopMoney { amount } } customAttributes { key } } } } } } } }`

func pausedUntil(l *outbound.LocalLimiter) time.Time {
	for _, s := range l.Status() {
		return s.PausedUntil
	}
	return time.Time{}
}

func TestEmulatorWebhooksVerify(t *testing.T) {
	t.Parallel()
	type hit struct {
		h    http.Header
		body []byte
	}
	hits := make(chan hit, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Clone(), body}
	}))
	t.Cleanup(recv.Close)
	b := setup(t, func(c *shopifyemu.Config) { c.WebhookURL = recv.URL + "/hooks/shopify/inst-1" })
	// Upgrade a normal order of the seeded email (the Together action).
	var target shopifyemu.Order
	for _, o := range b.emu.Orders("") {
		if o.Email == seeded && !o.LineItems[0].FinalSale() {
			target = o
		}
	}
	if _, err := b.emu.UpgradeFinalSale("", target.ID, []int64{target.LineItems[0].ID}); err != nil {
		t.Fatal(err)
	}
	got := <-hits
	v := shopify.Verifier{}
	if err := v.Verify(got.h, got.body, []string{"rotated", secret}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	bad := append([]byte(nil), got.body...)
	bad[10] ^= 0x01
	if err := v.Verify(got.h, bad, []string{secret}); !errors.Is(err, shopify.ErrBadSignature) {
		t.Fatalf("tampered body err = %v", err)
	}
	m := shopify.MetaFrom(got.h)
	if m.Topic != "orders/updated" || m.ShopDomain != shopifyemu.DefaultShop || m.WebhookID == "" || m.TriggeredAt.IsZero() {
		t.Fatalf("meta = %+v", m)
	}
	wo, err := shopify.DecodeOrderWebhook(got.body)
	if err != nil || wo.ID != target.ID {
		t.Fatalf("decoded %+v %v", wo, err)
	}
	o := wo.AsOrder()
	if !(shopify.FinalSaleRule{}).IsFinalSale(o, o.LineItems[0]) {
		t.Fatalf("upgraded line not final sale: %+v", o.LineItems[0])
	}
	// orders/create is signed the same way.
	n := shopifyemu.NewOrder{Email: "new@example.com"}
	n.LineItems = append(n.LineItems, struct {
		Title     string `json:"title"`
		SKU       string `json:"sku"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
		FinalSale bool   `json:"final_sale"`
	}{SKU: "MUG-12OZ", Quantity: 2})
	if _, err := b.emu.CreateOrder(n); err != nil {
		t.Fatal(err)
	}
	got = <-hits
	if err := v.Verify(got.h, got.body, []string{secret}); err != nil || shopify.MetaFrom(got.h).Topic != "orders/create" {
		t.Fatalf("orders/create: %v %s", err, shopify.MetaFrom(got.h).Topic)
	}
	if a, b2 := shopify.MetaFrom(got.h).DedupKey(got.body), m.DedupKey(nil); a == b2 || a == "" {
		t.Fatalf("dedup keys %q %q", a, b2)
	}
}
