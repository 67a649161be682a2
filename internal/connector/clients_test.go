package connector_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
)

// A Gorgias OAuth connection whose access token expired is refreshed on
// use, and the new tokens are written back to the connection, encrypted.
func TestOAuthRefreshPersistedThroughTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := gorgiasemu.New(gorgiasemu.Config{AutoApprove: true, AccessTokenTTL: time.Hour})
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()

	// A real token pair from the emulator's OAuth flow.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	o := gorgias.NewOAuth(srv.URL, gorgias.OAuthConfig{ClientID: "switchyard", ClientSecret: "gorgias-app-secret", RedirectURL: "http://127.0.0.1/cb"}, nil)
	resp, err := noRedirect.Get(o.AuthCodeURL("st", ""))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := o.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange (redirect %q): %v", resp.Header.Get("Location"), err)
	}

	back, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := back.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(bytes.Repeat([]byte{4}, 32))
	st := sqlstore.New(back, box, nil)
	m := &domain.Merchant{Name: "m"}
	if err := st.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	conn := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorGorgias, Account: "acme",
		Config:  map[string]string{"base_url": srv.URL, "client_id": "switchyard", "token_expiry": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)},
		Secrets: domain.Secrets{"client_secret": "gorgias-app-secret", "access_token": "expired-" + tok.AccessToken, "refresh_token": tok.RefreshToken}}
	if err := st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	allow, err := outbound.ParseAllowList([]string{srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	clients := &connector.Clients{Store: st, Limiter: outbound.NewLocalLimiter(nil), Allow: allow}
	g, err := clients.Gorgias(ctx, m.ID, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.GetAccount(ctx); err != nil {
		t.Fatalf("call with an expired token: %v", err)
	}
	got, err := st.GetConnection(ctx, m.ID, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets["access_token"] == conn.Secrets["access_token"] || got.Secrets["access_token"] == "" {
		t.Fatal("refreshed access token not written back to the connection")
	}
	if exp, err := time.Parse(time.RFC3339, got.Config["token_expiry"]); err != nil || !exp.After(time.Now()) {
		t.Fatalf("token_expiry = %q", got.Config["token_expiry"])
	}
	var raw []byte
	if err := back.DB().QueryRowContext(ctx, `SELECT secrets FROM connections WHERE id = ?`, conn.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(got.Secrets["access_token"])) {
		t.Fatal("token stored in clear")
	}
	// A client built after the rotation uses the stored token without a refresh.
	g2, err := clients.Gorgias(ctx, m.ID, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g2.GetAccount(ctx); err != nil {
		t.Fatalf("call with the persisted token: %v", err)
	}
}

func openStore(t *testing.T) (*sqlstore.Store, *domain.Merchant) {
	t.Helper()
	ctx := context.Background()
	back, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	if err := back.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, _ := secret.New(bytes.Repeat([]byte{4}, 32))
	st := sqlstore.New(back, box, nil)
	m := &domain.Merchant{Name: "m"}
	if err := st.CreateMerchant(ctx, m); err != nil {
		t.Fatal(err)
	}
	return st, m
}

// A stored connection whose base_url is not allow-listed (written straight
// to the store, past the admin API's check) gets no client, and its host
// no connection.
func TestClientBuildRevalidatesTheBaseURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	st, m := openStore(t)
	other, _ := outbound.ParseAllowList([]string{"127.0.0.1:1"})
	clients := &connector.Clients{Store: st, Limiter: outbound.NewLocalLimiter(nil), Allow: other, HTTP: srv.Client()}
	for _, conn := range []*domain.Connection{
		{MerchantID: m.ID, Vendor: domain.VendorGorgias, Account: "acme", Config: map[string]string{"base_url": srv.URL, "email": "e"}, Secrets: domain.Secrets{"api_key": "k"}},
		{MerchantID: m.ID, Vendor: domain.VendorKlaviyo, Account: "acme", Config: map[string]string{"base_url": srv.URL}, Secrets: domain.Secrets{"private_key": "pk"}},
		{MerchantID: m.ID, Vendor: domain.VendorWhiplash, Account: "1", Config: map[string]string{"base_url": srv.URL, "client_id": "c", "grant": "client_credentials"}, Secrets: domain.Secrets{"client_secret": "s"}},
	} {
		if err := st.CreateConnection(ctx, conn); err != nil {
			t.Fatal(err)
		}
		var err error
		switch conn.Vendor {
		case domain.VendorGorgias:
			_, err = clients.Gorgias(ctx, m.ID, conn.ID)
		case domain.VendorKlaviyo:
			_, err = clients.Klaviyo(ctx, m.ID, conn.ID)
		case domain.VendorWhiplash:
			_, err = clients.Whiplash(ctx, m.ID, conn.ID)
		}
		if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "allow") {
			t.Errorf("%s client for a non-allowed base_url: %v", conn.Vendor, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the non-allowed host got %d requests", hits.Load())
	}
}

// Budgets are keyed by host, account and a keyed fingerprint of the
// credential: another credential naming the same account, or the same
// account on an operator-allowed host, never shares the budget.
func TestBudgetKeysFollowTheCredential(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, m := openStore(t)
	allow, _ := outbound.ParseAllowList([]string{"127.0.0.1:9999"})
	key, err := connector.FingerprintKeyFrom(bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clients := &connector.Clients{Store: st, Limiter: outbound.NewLocalLimiter(nil), Allow: allow, FingerprintKey: key}
	gorgiasKey := func(apiKey, base, window string) string {
		t.Helper()
		conn := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorGorgias, Account: "acme", Config: map[string]string{"email": "e"}, Secrets: domain.Secrets{"api_key": apiKey}}
		if base != "" {
			conn.Config["base_url"] = base
		}
		if window != "" {
			conn.Config["rate_window"] = window
		}
		if err := st.CreateConnection(ctx, conn); err != nil {
			t.Fatal(err)
		}
		g, err := clients.Gorgias(ctx, m.ID, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g.Budget().Key
	}
	klaviyoKey := func(pk, base string) string {
		t.Helper()
		conn := &domain.Connection{MerchantID: m.ID, Vendor: domain.VendorKlaviyo, Account: "acme", Config: map[string]string{}, Secrets: domain.Secrets{"private_key": pk}}
		if base != "" {
			conn.Config["base_url"] = base
		}
		if err := st.CreateConnection(ctx, conn); err != nil {
			t.Fatal(err)
		}
		k, err := clients.Klaviyo(ctx, m.ID, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return k.Budgets()["POST /api/events"].Key
	}
	v1, v2, v3 := gorgiasKey("victim-key", "", ""), gorgiasKey("victim-key", "https://acme.gorgias.com", ""), gorgiasKey("victim-key", "https://ACME.gorgias.com:443/", "")
	if v1 != v2 || v1 != v3 || !strings.HasPrefix(v1, "gorgias:acme.gorgias.com:acme:") {
		t.Fatalf("one credential, several budgets: %q %q %q", v1, v2, v3)
	}
	if strings.Contains(v1, "victim-key") {
		t.Fatalf("budget key %q shows the credential", v1)
	}
	if e := gorgiasKey("attacker-key", "", ""); e == v1 {
		t.Fatal("another API key for the same account shares the budget")
	}
	if e := gorgiasKey("victim-key", "http://127.0.0.1:9999", ""); e == v1 || !strings.Contains(e, ":conn=") {
		t.Fatalf("an allow-listed host shares the canonical budget: %q", e)
	}
	if e := gorgiasKey("victim-key", "", "10s"); e == v1 {
		t.Fatal("a merchant's rate_window rebuilds a shared budget")
	}
	k1, k2 := klaviyoKey("pk_victim", ""), klaviyoKey("pk_victim", "")
	if k1 != k2 || !strings.HasPrefix(k1, "klaviyo:a.klaviyo.com:acme:") {
		t.Fatalf("klaviyo keys %q %q", k1, k2)
	}
	if e := klaviyoKey("pk_attacker", ""); e == k1 {
		t.Fatal("another private key for the same account shares the klaviyo budget")
	}
	if e := klaviyoKey("pk_victim", "http://127.0.0.1:9999"); e == k1 {
		t.Fatal("an allow-listed host shares the canonical klaviyo budget")
	}
	// Another hub secret key gives other fingerprints.
	other, _ := connector.FingerprintKeyFrom(bytes.Repeat([]byte{5}, 32))
	c2 := &connector.Clients{FingerprintKey: other}
	c1 := &connector.Clients{FingerprintKey: key}
	conn := &domain.Connection{ID: "c", Vendor: domain.VendorGorgias, Account: "acme"}
	base, _ := url.Parse("https://acme.gorgias.com")
	if c1.BudgetKey(conn, base, true, "k") == c2.BudgetKey(conn, base, true, "k") {
		t.Fatal("the fingerprint does not depend on the hub's key")
	}
}
