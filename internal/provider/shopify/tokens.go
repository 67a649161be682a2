package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/oauthstore"
)

// TokenStore persists a shop's OAuth token (oauthstore.TokenStore).
type TokenStore = oauthstore.TokenStore

// ErrTokenRevoked is an invalid_grant from the token endpoint: the refresh
// token is unknown, expired or revoked (the app was uninstalled, or another
// process used it and its replacement). Only a new install (reconnect)
// gets a new one.
var ErrTokenRevoked = domain.Errorf(domain.EUNAUTHORIZED, "shopify refresh token is invalid, expired or revoked; reconnect the store")

// ExtraRefreshExpiry is the oauth2.Token extra holding the refresh token's
// own expiry (time.Time), set by Token.OAuth2.
const ExtraRefreshExpiry = "refresh_token_expiry"

// DefaultRefreshBefore is how long before its expiry an access token is
// refreshed.
const DefaultRefreshBefore = 2 * time.Minute

// OAuth2 converts an access-token answer received at now to an
// oauth2.Token: Expiry from expires_in (zero for a non-expiring token) and
// the refresh token's expiry as the extra ExtraRefreshExpiry.
func (t Token) OAuth2(now time.Time) *oauth2.Token {
	ot := &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: "Bearer"}
	if t.ExpiresIn > 0 {
		ot.Expiry = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	if t.RefreshTokenExpiresIn > 0 {
		ot = ot.WithExtra(map[string]any{ExtraRefreshExpiry: now.Add(time.Duration(t.RefreshTokenExpiresIn) * time.Second)})
	}
	return ot
}

// RefreshExpiry returns the refresh token's expiry carried by tok (zero
// when unknown).
func RefreshExpiry(tok *oauth2.Token) time.Time {
	if tok == nil {
		return time.Time{}
	}
	t, _ := tok.Extra(ExtraRefreshExpiry).(time.Time)
	return t
}

// Refresh trades a refresh token for a new expiring offline token
// (grant_type=refresh_token). Shopify rotates the refresh token: the answer
// carries a new one, which must be saved. An invalid_grant answer is
// ErrTokenRevoked (class auth); 5xx and network failures are transient.
func (o *OAuth) Refresh(ctx context.Context, shop, refreshToken string) (Token, error) {
	if !ValidShop(shop) {
		return Token{}, domain.WrapError(domain.EINVALID, "invalid shop domain", ErrBadShop)
	}
	if refreshToken == "" {
		return Token{}, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: "POST /admin/oauth/access_token refresh", Class: domain.ClassAuth,
			Err: fmt.Errorf("no refresh token stored: %w", ErrTokenRevoked)}
	}
	c, err := outbound.NewClient(outbound.Config{Vendor: domain.VendorShopify, Account: shop, BaseURL: o.cfg.AdminURL(shop),
		HTTPClient: o.cfg.HTTPClient, Recorder: o.cfg.Recorder, Now: o.Now, Logger: o.Logger})
	if err != nil {
		return Token{}, fmt.Errorf("error creating shopify oauth client: %w", err)
	}
	endpoint := "POST /admin/oauth/access_token refresh"
	resp, err := c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/admin/oauth/access_token", NoAuth: true, Endpoint: endpoint,
		JSON: map[string]string{"client_id": o.cfg.ClientID, "client_secret": o.cfg.ClientSecret, "grant_type": "refresh_token", "refresh_token": refreshToken}})
	if err != nil {
		var oe *outbound.Error
		if errors.As(err, &oe) && oe.Status >= 400 && oe.Status < 500 && oe.Status != http.StatusTooManyRequests {
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal([]byte(oe.Body), &body)
			cause := err
			if body.Error == "invalid_grant" {
				cause = fmt.Errorf("%w: %w", ErrTokenRevoked, err)
			}
			return Token{}, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: endpoint, Status: oe.Status, Class: domain.ClassAuth,
				Err: fmt.Errorf("error refreshing shopify token: %w", cause)}
		}
		return Token{}, fmt.Errorf("error refreshing shopify token: %w", err)
	}
	var t Token
	if err := resp.DecodeJSON(&t); err != nil {
		return Token{}, fmt.Errorf("error refreshing shopify token: %w", err)
	}
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("error refreshing shopify token: no access_token in response")
	}
	if t.RefreshToken == "" {
		// Not rotated: the old one stays in use.
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// tokenAuth authenticates with the token in a TokenStore and refreshes an
// expiring offline token before it expires (or after a 401). Refreshes are
// serialised by lock, which callers share between every client of one
// connection: the second caller that waited for a refresh reads the new
// token from the store instead of refreshing again (Shopify rotates the
// refresh token, and a new access token revokes the previous one).
type tokenAuth struct {
	shop   string
	store  TokenStore
	oauth  *OAuth
	lock   sync.Locker
	before time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu  sync.Mutex
	tok *oauth2.Token
}

func (a *tokenAuth) fresh(t *oauth2.Token) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || t.Expiry.After(a.now().Add(a.before)))
}

func (a *tokenAuth) cached() *oauth2.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tok
}

func (a *tokenAuth) adopt(t *oauth2.Token) *oauth2.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tok = t
	return t
}

// renew returns a usable token: the stored one when another caller has
// already replaced seen (or, unless force, when it is still fresh), else a
// refreshed one, saved before it is used.
func (a *tokenAuth) renew(ctx context.Context, seen string, force bool) (*oauth2.Token, error) {
	a.lock.Lock()
	defer a.lock.Unlock()
	cur, err := a.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("error loading shopify token: %w", err)
	}
	if cur == nil || (cur.AccessToken == "" && cur.RefreshToken == "") {
		return nil, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: "load token", Class: domain.ClassAuth,
			Err: domain.Errorf(domain.EUNAUTHORIZED, "no shopify token stored; connect the store")}
	}
	if a.fresh(cur) && (!force || cur.AccessToken != seen) {
		return a.adopt(cur), nil
	}
	if cur.RefreshToken == "" {
		if force || cur.AccessToken == "" {
			return nil, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: "refresh token", Class: domain.ClassAuth,
				Err: fmt.Errorf("shopify token cannot be refreshed: %w", ErrTokenRevoked)}
		}
		return a.adopt(cur), nil
	}
	now := a.now()
	nt, err := a.oauth.Refresh(ctx, a.shop, cur.RefreshToken)
	if err != nil {
		return nil, err
	}
	tok := nt.OAuth2(now)
	if err := a.store.Save(ctx, tok); err != nil {
		// The answer's refresh token replaced the stored one: losing it would
		// leave only the used one, which Shopify accepts again for a while.
		return nil, fmt.Errorf("error saving refreshed shopify token: %w", err)
	}
	a.log.DebugContext(ctx, "shopify token refreshed", slog.String("shop", a.shop))
	return a.adopt(tok), nil
}

// Apply implements outbound.Authenticator.
func (a *tokenAuth) Apply(ctx context.Context, r *http.Request) error {
	t := a.cached()
	if !a.fresh(t) {
		seen := ""
		if t != nil {
			seen = t.AccessToken
		}
		var err error
		if t, err = a.renew(ctx, seen, false); err != nil {
			return err
		}
	}
	r.Header.Set("X-Shopify-Access-Token", t.AccessToken)
	return nil
}

// Refresh implements outbound.Authenticator (after a 401).
func (a *tokenAuth) Refresh(ctx context.Context) error {
	seen := ""
	if t := a.cached(); t != nil {
		seen = t.AccessToken
	}
	_, err := a.renew(ctx, seen, true)
	return err
}

// Uninstall removes the app from the shop (DELETE
// /admin/api_permissions/current.json with the current access token,
// refreshed first when expired): every token of the app for the shop stops
// working at once. An app already gone (401, 403 or 404 after a refresh
// attempt, or a refresh token Shopify refuses) is not an error.
func (c *Client) Uninstall(ctx context.Context) error {
	_, err := c.c.Do(ctx, &outbound.Request{Method: http.MethodDelete, Path: "/admin/api_permissions/current.json",
		Endpoint: "DELETE /admin/api_permissions/current.json"})
	if err == nil || errors.Is(err, ErrTokenRevoked) {
		return nil
	}
	switch outbound.StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return nil
	}
	var oe *outbound.Error
	if errors.As(err, &oe) && oe.Class == domain.ClassAuth {
		// No token stored (never connected, or forgotten already).
		return nil
	}
	return fmt.Errorf("error uninstalling the shopify app: %w", err)
}
