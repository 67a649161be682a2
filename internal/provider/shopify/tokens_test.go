package shopify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	"switchyard/internal/emulator/emukit"
	shopifyemu "switchyard/internal/emulator/shopify"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/oauthstore"
	"switchyard/internal/provider/shopify"
)

// gatedStore is a token store whose Save waits for a gate: it holds a
// refresh in flight while other callers arrive.
type gatedStore struct {
	*oauthstore.Memory
	saving chan struct{} // closed at the first Save
	gate   chan struct{} // Save waits for it
	once   sync.Once
}

func (g *gatedStore) Save(ctx context.Context, t *oauth2.Token) error {
	g.once.Do(func() { close(g.saving) })
	<-g.gate
	return g.Memory.Save(ctx, t)
}

func TestExpiringTokenRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *shopifyemu.Config) { c.OfflineTokenTTL = 10 * time.Minute })
	ctx := context.Background()
	access, refresh := b.emu.IssueExpiringToken("", "read_orders", "read_customers")
	now := b.clock.Now()
	store := &gatedStore{Memory: oauthstore.NewMemory(&oauth2.Token{AccessToken: access, RefreshToken: refresh, Expiry: now.Add(10 * time.Minute)}),
		saving: make(chan struct{}), gate: make(chan struct{})}
	close(store.gate) // no holding yet
	c, _ := b.client(t, "", func(cfg *shopify.Config) { cfg.Tokens, cfg.OAuth = store, b.oauth(t, nil) })
	since := now.AddDate(0, 0, -30)
	if _, err := c.OrdersByEmail(ctx, seeded, since); err != nil || store.Saves() != 0 {
		t.Fatalf("fresh token: %v, %d saves", err, store.Saves())
	}

	t.Run("two callers during one refresh", func(t *testing.T) {
		store.saving, store.gate, store.once = make(chan struct{}), make(chan struct{}), sync.Once{}
		b.clock.Add(9 * time.Minute) // within RefreshBefore of the expiry
		var wg sync.WaitGroup
		var failed atomic.Int32
		query := func() {
			if _, err := c.OrdersByEmail(ctx, seeded, since); err != nil {
				t.Error(err)
				failed.Add(1)
			}
		}
		wg.Go(query)
		<-store.saving // the first caller has the new token and is saving it
		wg.Go(query)
		time.Sleep(50 * time.Millisecond) // let the second caller reach the refresh lock (not an assertion)
		close(store.gate)
		wg.Wait()
		if store.Saves() != 1 {
			t.Fatalf("%d refreshes saved, want 1", store.Saves())
		}
		tok, _ := store.Load(ctx)
		if tok.RefreshToken == refresh || tok.AccessToken == access || !tok.Expiry.After(b.clock.Now().Add(5*time.Minute)) {
			t.Fatalf("stored token %+v: want a rotated refresh token and a new expiry", tok)
		}
		if shopify.RefreshExpiry(tok).IsZero() {
			t.Fatal("the refresh token's expiry was not carried")
		}
	})

	t.Run("after a 401 a revoked refresh token is invalid_grant", func(t *testing.T) {
		before := store.Saves()
		tok, _ := store.Load(ctx)
		// Another process refreshed: the access token we hold is revoked.
		b.emu.IssueExpiringToken("", "read_orders", "read_customers")
		_, err := c.OrdersByEmail(ctx, seeded, since)
		// The new grant also revoked our refresh token: invalid_grant.
		if !errors.Is(err, shopify.ErrTokenRevoked) || outbound.ClassOf(err) != domain.ClassAuth || store.Saves() != before {
			t.Fatalf("err = %v (class %s), saves %d → %d; want ErrTokenRevoked", err, outbound.ClassOf(err), before, store.Saves())
		}
		if cur, _ := store.Load(ctx); cur.RefreshToken != tok.RefreshToken {
			t.Fatal("a failed refresh changed the stored token")
		}
	})
}

func TestRefreshErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	o := b.oauth(t, nil)
	if _, err := o.Refresh(ctx, shopifyemu.DefaultShop, "shprt_unknown"); !errors.Is(err, shopify.ErrTokenRevoked) {
		t.Fatalf("unknown refresh token: %v", err)
	}
	if _, err := o.Refresh(ctx, shopifyemu.DefaultShop, ""); !errors.Is(err, shopify.ErrTokenRevoked) {
		t.Fatalf("no refresh token: %v", err)
	}
	bad := b.oauth(t, func(c *shopify.OAuthConfig) { c.ClientSecret = "wrong" })
	_, refresh := b.emu.IssueExpiringToken("", "read_orders")
	if _, err := bad.Refresh(ctx, shopifyemu.DefaultShop, refresh); err == nil || errors.Is(err, shopify.ErrTokenRevoked) || outbound.ClassOf(err) != domain.ClassAuth {
		t.Fatalf("wrong client secret: %v", err)
	}
	b.emu.Kit().SetFaults(emukit.Faults{Outage: true})
	if _, err := o.Refresh(ctx, shopifyemu.DefaultShop, refresh); outbound.ClassOf(err) != domain.ClassTransient || errors.Is(err, shopify.ErrTokenRevoked) {
		t.Fatalf("503: %v (class %s)", err, outbound.ClassOf(err))
	}
	b.emu.Kit().SetFaults(emukit.Faults{})
	tok, err := o.Refresh(ctx, shopifyemu.DefaultShop, refresh)
	if err != nil || tok.RefreshToken == "" || tok.RefreshToken == refresh || tok.ExpiresIn <= 0 || !strings.HasPrefix(tok.AccessToken, "shpat_") {
		t.Fatalf("refresh = %+v, %v", tok, err)
	}
}

// The customer's email is read as defaultEmailAddress.emailAddress
// (Customer.email is deprecated); the emulator's schema has both.
func TestCustomerEmailIsTheDefaultAddress(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, _ := b.client(t, b.emu.IssueToken("", "read_orders", "read_customers"), nil)
	orders, err := c.OrdersByEmail(context.Background(), seeded, time.Time{})
	if err != nil || len(orders) == 0 {
		t.Fatalf("orders: %d %v", len(orders), err)
	}
	for _, o := range orders {
		if o.Customer == nil || !strings.EqualFold(o.Customer.Email, seeded) {
			t.Fatalf("order %s customer = %+v, want the default email %s", o.Name, o.Customer, seeded)
		}
	}
}

func TestPinnedAPIVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		b.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, _ := b.client(t, b.emu.IssueToken("", "read_orders", "read_customers"), func(c *shopify.Config) { c.BaseURL = srv.URL })
	if _, err := c.OrdersByEmail(context.Background(), seeded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := path.Load(); got != "/admin/api/2026-07/graphql.json" || shopify.DefaultAPIVersion < "2026-07" {
		t.Fatalf("path = %v, want API version 2026-07", got)
	}
}

func TestUninstallRevokesEveryToken(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	access, refresh := b.emu.IssueExpiringToken("", "read_orders")
	store := oauthstore.NewMemory(&oauth2.Token{AccessToken: access, RefreshToken: refresh, Expiry: b.clock.Now().Add(time.Hour)})
	c, _ := b.client(t, "", func(cfg *shopify.Config) { cfg.Tokens, cfg.OAuth = store, b.oauth(t, nil) })
	if a, r := b.emu.TokenCount("", ""); a != 1 || r != 1 {
		t.Fatalf("before: %d access, %d refresh tokens", a, r)
	}
	if err := c.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if a, r := b.emu.TokenCount("", ""); a != 0 || r != 0 {
		t.Fatalf("after: %d access, %d refresh tokens", a, r)
	}
	// Already gone: the 401 triggers a refresh that is refused; not an error.
	if err := c.Uninstall(ctx); err != nil {
		t.Fatalf("second uninstall: %v", err)
	}
	b.emu.Kit().SetFaults(emukit.Faults{Outage: true})
	if _, _ = b.emu.IssueExpiringToken("", "read_orders"); c.Uninstall(ctx) == nil {
		t.Fatal("an outage is reported")
	}
}

// Every query of the client is valid against the emulator's Admin API
// schema and selects no deprecated field.
func TestQueriesMatchTheSchema(t *testing.T) {
	t.Parallel()
	for name, q := range shopify.Queries {
		deprecated, err := shopifyemu.CheckQuery(q)
		if err != nil || len(deprecated) > 0 {
			t.Errorf("%s: %v, deprecated %v", name, err, deprecated)
		}
	}
	if _, err := shopifyemu.CheckQuery(`{ orders(first: 1) { edges { node { customer { email } } } } }`); err != nil {
		t.Fatalf("the check itself: %v", err)
	}
	if d, _ := shopifyemu.CheckQuery(`{ orders(first: 1) { edges { node { customer { email } } } } }`); len(d) == 0 {
		t.Fatal("the check does not report Customer.email as deprecated")
	}
}
