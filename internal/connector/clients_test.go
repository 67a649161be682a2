package connector_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
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
	clients := &connector.Clients{Store: st, Limiter: outbound.NewLocalLimiter(nil)}
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
