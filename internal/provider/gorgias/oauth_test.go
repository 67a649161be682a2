package gorgias_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	emulator "switchyard/internal/emulator/gorgias"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
)

// authorize runs the consent step with auto-approval and returns the code.
func authorize(t *testing.T, o *gorgias.OAuth, state string) string {
	t.Helper()
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(o.AuthCodeURL(state, "nonce-1") + "&auto_approve=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != state || loc.Host != "hub.example.com" {
		t.Fatalf("redirect = %s", loc)
	}
	return loc.Query().Get("code")
}

func TestOAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newFakeClock()
	// The real service was seen answering expires_in: 0.
	b := setup(t, emulator.Config{Now: clk.Now, ZeroExpiresIn: true}, nil)
	ocfg := gorgias.OAuthConfig{ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		RedirectURL: "https://hub.example.com/oauth/callback/gorgias?account=acme"}
	o := gorgias.NewOAuth(b.srv.URL, ocfg, nil)

	tok, err := o.Exchange(ctx, authorize(t, o, "st-1"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v", tok)
	}
	if want := clk.Now().Add(24 * time.Hour); !tok.Expiry.Equal(want) {
		t.Fatalf("expiry = %v, want %v (read from the JWT)", tok.Expiry, want)
	}
	if _, err := o.Exchange(ctx, "not-a-code"); outbound.ClassOf(err) != domain.ClassAuth || !errors.Is(err, gorgias.ErrTokenRevoked) {
		t.Fatalf("bad code: %v", err)
	}

	newClient := func(t *testing.T, store gorgias.TokenStore) *gorgias.Client {
		t.Helper()
		c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: b.srv.URL, OAuth: &ocfg, Tokens: store, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("bearer calls", func(t *testing.T) {
		store := gorgias.NewMemoryTokenStore(tok)
		c := newClient(t, store)
		if a, err := c.GetAccount(ctx); err != nil || a.Domain != "acme" {
			t.Fatalf("GetAccount = %+v, %v", a, err)
		}
		if store.Saves() != 0 {
			t.Fatalf("fresh token was refreshed")
		}
		if n := b.emu.Snapshot().Accounts["acme"].CallsByCredential["oauth:switchyard"]; n < 1 {
			t.Fatalf("call not counted on the OAuth bucket")
		}
		if c.Budget().Key != "gorgias:acme:oauth" || c.Budget().Burst != 72 {
			t.Fatalf("budget = %+v", c.Budget())
		}
	})

	t.Run("refresh keeps the old refresh token valid", func(t *testing.T) {
		r1, err := o.Refresh(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if r1.RefreshToken != tok.RefreshToken || r1.AccessToken == tok.AccessToken || r1.Expiry.IsZero() {
			t.Fatalf("refreshed = %+v", r1)
		}
		r2, err := o.Refresh(ctx, tok) // the old refresh token again
		if err != nil || r2.AccessToken == "" {
			t.Fatalf("second refresh: %v", err)
		}
	})

	t.Run("expired token is refreshed before the call and saved", func(t *testing.T) {
		old := *tok
		old.Expiry = clk.Now().Add(-time.Minute)
		store := gorgias.NewMemoryTokenStore(&old)
		c := newClient(t, store)
		if _, err := c.GetAccount(ctx); err != nil {
			t.Fatal(err)
		}
		saved, _ := store.Load(ctx)
		if store.Saves() != 1 || saved.AccessToken == old.AccessToken || saved.RefreshToken != old.RefreshToken {
			t.Fatalf("saves=%d saved=%+v", store.Saves(), saved)
		}
	})

	t.Run("401 triggers one refresh", func(t *testing.T) {
		store := gorgias.NewMemoryTokenStore(&oauth2.Token{AccessToken: "stale", RefreshToken: tok.RefreshToken, Expiry: clk.Now().Add(time.Hour)})
		c := newClient(t, store)
		if _, err := c.GetAccount(ctx); err != nil {
			t.Fatal(err)
		}
		if store.Saves() != 1 {
			t.Fatalf("saves = %d", store.Saves())
		}
	})

	t.Run("revoke", func(t *testing.T) {
		code := authorize(t, o, "st-2")
		t2, err := o.Exchange(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Revoke(ctx, t2.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err = o.Refresh(ctx, t2)
		if !errors.Is(err, gorgias.ErrTokenRevoked) || outbound.ClassOf(err) != domain.ClassAuth {
			t.Fatalf("refresh after revoke: %v", err)
		}
		expired := *t2
		expired.Expiry = clk.Now().Add(-time.Second)
		c := newClient(t, gorgias.NewMemoryTokenStore(&expired))
		_, err = c.GetAccount(ctx)
		if !errors.Is(err, gorgias.ErrTokenRevoked) || outbound.ClassOf(err) != domain.ClassAuth {
			t.Fatalf("call after revoke: %v", err)
		}
		// The first grant is unaffected.
		if _, err := o.Refresh(ctx, tok); err != nil {
			t.Fatalf("other grant: %v", err)
		}
	})

	t.Run("no stored token", func(t *testing.T) {
		c := newClient(t, gorgias.NewMemoryTokenStore(nil))
		if _, err := c.GetAccount(ctx); outbound.ClassOf(err) != domain.ClassAuth {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("server rejects an access token past its 24 h exp", func(t *testing.T) {
		// The client believes the token valid (wrong Expiry stored); the
		// emulator checks the JWT exp: 401, one refresh, success.
		believed := *tok
		believed.Expiry = clk.Now().Add(72 * time.Hour)
		clk.Add(25 * time.Hour)
		store := gorgias.NewMemoryTokenStore(&believed)
		if _, err := newClient(t, store).GetAccount(ctx); err != nil || store.Saves() != 1 {
			t.Fatalf("err=%v saves=%d", err, store.Saves())
		}
	})
}
