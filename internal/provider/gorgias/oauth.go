package gorgias

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"

	"switchyard/internal/provider/oauthstore"
)

// OAuthConfig identifies switchyard's Gorgias app.
type OAuthConfig struct {
	ClientID     string
	ClientSecret string
	RedirectURL  string
	// Scopes default to DefaultScopes().
	Scopes []string
}

// DefaultScopes returns the scopes switchyard asks for: identity,
// offline (for a refresh token) and the resources it manages.
func DefaultScopes() []string {
	return []string{"openid", "email", "profile", "offline",
		"account:read", "customers:read", "customers:write", "integrations:read", "integrations:write",
		"tickets:read", "tickets:write", "macros:read", "macros:write", "users:read"}
}

// TokenStore persists the account's OAuth token (oauthstore.TokenStore).
type TokenStore = oauthstore.TokenStore

// MemoryTokenStore is a TokenStore in memory (tests, demos).
type MemoryTokenStore = oauthstore.Memory

// NewMemoryTokenStore returns a store holding tok.
func NewMemoryTokenStore(tok *oauth2.Token) *MemoryTokenStore { return oauthstore.NewMemory(tok) }

// OAuth runs the authorization-code flow against one Gorgias account.
type OAuth struct {
	cfg     oauth2.Config
	baseURL string
	hc      *http.Client
}

// NewOAuth returns the OAuth helper for baseURL (https://<sub>.gorgias.com
// or the emulator). httpClient may be nil.
func NewOAuth(baseURL string, cfg OAuthConfig, httpClient *http.Client) *OAuth {
	base := strings.TrimRight(baseURL, "/")
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes()
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: outbound.DefaultTimeout}
	}
	return &OAuth{
		cfg: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL, Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		},
		baseURL: base, hc: httpClient,
	}
}

// AuthCodeURL is where to send the merchant's browser for consent.
func (o *OAuth) AuthCodeURL(state, nonce string) string {
	var opts []oauth2.AuthCodeOption
	if nonce != "" {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	return o.cfg.AuthCodeURL(state, opts...)
}

func (o *OAuth) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, o.hc)
}

// Exchange trades an authorization code for tokens. Expiry is set from the
// JWT's exp when Gorgias reports expires_in 0.
func (o *OAuth) Exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	tok, err := o.cfg.Exchange(o.ctx(ctx), code)
	if err != nil {
		return nil, tokenError("exchanging gorgias authorization code", err)
	}
	fixExpiry(tok, time.Now())
	return tok, nil
}

// Refresh returns a new access token for tok's refresh token; the refresh
// token is carried over (Gorgias does not rotate it).
func (o *OAuth) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, tokenError("refreshing gorgias token", fmt.Errorf("no refresh token: %w", ErrTokenRevoked))
	}
	src := o.cfg.TokenSource(o.ctx(ctx), &oauth2.Token{RefreshToken: tok.RefreshToken})
	nt, err := src.Token()
	if err != nil {
		return nil, tokenError("refreshing gorgias token", err)
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = tok.RefreshToken
	}
	fixExpiry(nt, time.Now())
	return nt, nil
}

// Revoke revokes a token (the refresh token on uninstall).
func (o *OAuth) Revoke(ctx context.Context, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.baseURL+"/oauth/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("error building gorgias revoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(o.cfg.ClientID), url.QueryEscape(o.cfg.ClientSecret))
	resp, err := o.hc.Do(req)
	if err != nil {
		return &outbound.Error{Vendor: domain.VendorGorgias, Endpoint: "POST /oauth/revoke", Class: outbound.Classify(0, err), Err: fmt.Errorf("error revoking gorgias token: %w", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &outbound.Error{Vendor: domain.VendorGorgias, Endpoint: "POST /oauth/revoke", Status: resp.StatusCode,
			Class: outbound.Classify(resp.StatusCode, nil), Body: strings.TrimSpace(string(body))}
	}
	return nil
}

// tokenError classifies a token-endpoint failure: invalid_grant →
// ErrTokenRevoked (class auth), 5xx/network → transient, other → auth.
func tokenError(action string, err error) error {
	oe := &outbound.Error{Vendor: domain.VendorGorgias, Endpoint: "POST /oauth/token", Class: domain.ClassAuth, Err: fmt.Errorf("error %s: %w", action, err)}
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(err, ErrTokenRevoked):
	case errors.As(err, &re):
		if re.Response != nil {
			oe.Status = re.Response.StatusCode
		}
		if re.ErrorCode == "invalid_grant" {
			oe.Err = fmt.Errorf("error %s: %w: %w", action, ErrTokenRevoked, err)
		} else if oe.Status >= 500 || oe.Status == http.StatusTooManyRequests {
			oe.Class = outbound.Classify(oe.Status, nil)
		}
	default:
		oe.Class = domain.ClassTransient
	}
	return oe
}

// fixExpiry sets Expiry from the access token's JWT exp claim when the
// server reported none (expires_in 0), else assumes 24 h.
func fixExpiry(tok *oauth2.Token, now time.Time) {
	if !tok.Expiry.IsZero() {
		return
	}
	if exp, ok := jwtExpiry(tok.AccessToken); ok {
		tok.Expiry = exp
		return
	}
	tok.Expiry = now.Add(24 * time.Hour)
}

// jwtExpiry reads the exp claim without verifying the signature.
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil {
		return time.Time{}, false
	}
	n, err := c.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// refreshSkew refreshes tokens this long before they expire.
const refreshSkew = 5 * time.Minute

// oauthAuth is the Bearer authenticator: it loads the token from the store,
// refreshes it before expiry or after a 401, and saves refreshed tokens.
type oauthAuth struct {
	o     *OAuth
	store TokenStore
	now   func() time.Time
	log   *slog.Logger

	mu          sync.Mutex
	tok         *oauth2.Token
	refreshedAt time.Time
}

func (a *oauthAuth) current(ctx context.Context, force bool) (*oauth2.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil {
		t, err := a.store.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("error loading gorgias token: %w", err)
		}
		if t == nil || (t.AccessToken == "" && t.RefreshToken == "") {
			return nil, &outbound.Error{Vendor: domain.VendorGorgias, Endpoint: "load token", Class: domain.ClassAuth,
				Err: domain.Errorf(domain.EUNAUTHORIZED, "no gorgias OAuth token stored")}
		}
		fixExpiry(t, a.now())
		a.tok = t
	}
	now := a.now()
	// After a 401, refresh unless another caller just did.
	stale := force && now.Sub(a.refreshedAt) > 10*time.Second
	if a.tok.AccessToken == "" || stale || !a.tok.Expiry.After(now.Add(refreshSkew)) {
		nt, err := a.o.Refresh(ctx, a.tok)
		if err != nil {
			return nil, err
		}
		if err := a.store.Save(ctx, nt); err != nil {
			// The old refresh token stays valid, so carry on with the new
			// access token; the next refresh will try to save again.
			a.log.Warn("gorgias: could not persist refreshed token", "error", err)
		}
		a.tok, a.refreshedAt = nt, now
	}
	return a.tok, nil
}

// Apply implements outbound.Authenticator.
func (a *oauthAuth) Apply(ctx context.Context, req *http.Request) error {
	t, err := a.current(ctx, false)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	return nil
}

// Refresh implements outbound.Authenticator (called after a 401).
func (a *oauthAuth) Refresh(ctx context.Context) error {
	_, err := a.current(ctx, true)
	return err
}
