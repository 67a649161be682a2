package klaviyo

import (
	"context"
	"errors"
	"fmt"
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

// Klaviyo's OAuth endpoints (reference A1). Token and revoke traffic must go
// to a.klaviyo.com.
const (
	DefaultAuthURL   = "https://www.klaviyo.com/oauth/authorize"
	DefaultTokenURL  = "https://a.klaviyo.com/oauth/token"
	DefaultRevokeURL = "https://a.klaviyo.com/oauth/revoke"
)

// TokenStore persists an installation's OAuth tokens. The client calls Save
// after every refresh, so rotated refresh tokens are never lost; Load is
// called on first use and before refreshing (another worker may already
// have refreshed).
type TokenStore = oauthstore.TokenStore

// OAuth describes the OAuth app and where the install's tokens live.
type OAuth struct {
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// AuthURL, TokenURL, RevokeURL default to Klaviyo's, or to BaseURL +
	// /oauth/… when the client's BaseURL is not Klaviyo's (emulator).
	AuthURL, TokenURL, RevokeURL string
	// Store is required for API calls; Exchange saves into it when set.
	Store TokenStore
	// Now is the clock token expiries are computed with (default time.Now;
	// the client's Config.Now when used through New).
	Now func() time.Time
}

// withDefaults fills the endpoint URLs for baseURL.
func (o OAuth) withDefaults(baseURL string) OAuth {
	base := strings.TrimRight(baseURL, "/")
	if base == "" || base == DefaultBaseURL {
		if o.AuthURL == "" {
			o.AuthURL = DefaultAuthURL
		}
		if o.TokenURL == "" {
			o.TokenURL = DefaultTokenURL
		}
		if o.RevokeURL == "" {
			o.RevokeURL = DefaultRevokeURL
		}
		return o
	}
	if o.AuthURL == "" {
		o.AuthURL = base + "/oauth/authorize"
	}
	if o.TokenURL == "" {
		o.TokenURL = base + "/oauth/token"
	}
	if o.RevokeURL == "" {
		o.RevokeURL = base + "/oauth/revoke"
	}
	return o
}

// OAuthApp runs the install side of the OAuth flow: consent URL (PKCE S256),
// code exchange, refresh and revoke.
type OAuthApp struct {
	o   OAuth
	cfg *oauth2.Config
	hc  *http.Client
}

// NewOAuthApp returns the app for a base URL (DefaultBaseURL or the
// emulator's). hc may be nil.
func NewOAuthApp(o OAuth, baseURL string, hc *http.Client) *OAuthApp {
	o = o.withDefaults(baseURL)
	if o.Now == nil {
		o.Now = time.Now
	}
	if hc == nil {
		hc = &http.Client{Timeout: outbound.DefaultTimeout}
	}
	return &OAuthApp{o: o, hc: hc, cfg: &oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL, Scopes: o.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}}
}

// Config returns the underlying x/oauth2 configuration.
func (a *OAuthApp) Config() *oauth2.Config { return a.cfg }

// AuthCodeURL returns the consent URL for state, with the S256 challenge of
// verifier (make one with oauth2.GenerateVerifier and keep it for Exchange).
func (a *OAuthApp) AuthCodeURL(state, verifier string, extra ...oauth2.AuthCodeOption) string {
	return a.cfg.AuthCodeURL(state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, extra...)...)
}

// Exchange trades an authorization code for tokens and saves them in the
// store when one is configured.
func (a *OAuthApp) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	tok, err := a.cfg.Exchange(a.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError("POST /oauth/token", err)
	}
	a.setExpiry(tok)
	if a.o.Store != nil {
		if err := a.o.Store.Save(ctx, tok); err != nil {
			return nil, fmt.Errorf("error saving Klaviyo tokens: %w", err)
		}
	}
	return tok, nil
}

// Refresh trades a refresh token for a new token. When Klaviyo does not
// return a new refresh token the old one is kept.
func (a *OAuthApp) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	tok, err := a.cfg.TokenSource(a.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, tokenError("POST /oauth/token", err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	a.setExpiry(tok)
	return tok, nil
}

// setExpiry recomputes Expiry from expires_in on the app's clock (x/oauth2
// uses the wall clock).
func (a *OAuthApp) setExpiry(tok *oauth2.Token) {
	if tok.ExpiresIn > 0 {
		tok.Expiry = a.o.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
}

// Revoke revokes a token (access or refresh) at Klaviyo.
func (a *OAuthApp) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.o.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("error building revoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.o.ClientID), url.QueryEscape(a.o.ClientSecret))
	resp, err := a.hc.Do(req)
	if err != nil {
		return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: "POST /oauth/revoke", Class: outbound.Classify(0, err), Err: err}
	}
	resp.Body.Close()
	if class := outbound.Classify(resp.StatusCode, nil); class != domain.ClassOK {
		return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: "POST /oauth/revoke", Status: resp.StatusCode, Class: class}
	}
	return nil
}

func (a *OAuthApp) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, a.hc)
}

// tokenError classifies a token-endpoint failure: a refused grant or client
// (4xx) is an auth failure, the rest transient.
func tokenError(label string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		class := outbound.Classify(re.Response.StatusCode, nil)
		if class == domain.ClassTerminal {
			class = domain.ClassAuth
		}
		return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: label, Status: re.Response.StatusCode, Class: class,
			Body: re.ErrorCode, Err: errors.New("token request refused")}
	}
	return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: label, Class: outbound.ClassOf(err), Err: err}
}

// expiryLeeway refreshes tokens this long before they expire.
const expiryLeeway = 30 * time.Second

// recentRefresh skips a second refresh asked for right after one (several
// calls that failed with the same old token).
const recentRefresh = 5 * time.Second

// oauthAuth is the outbound.Authenticator for OAuth installs.
type oauthAuth struct {
	app   *OAuthApp
	store TokenStore
	now   func() time.Time

	mu          sync.Mutex
	tok         *oauth2.Token
	refreshedAt time.Time
}

func newOAuthAuth(o OAuth, baseURL string, hc *http.Client, now func() time.Time) (*oauthAuth, error) {
	if o.Store == nil {
		return nil, errors.New("klaviyo: OAuth needs a TokenStore")
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("klaviyo: OAuth needs a client id and secret")
	}
	if o.Now == nil {
		o.Now = now
	}
	return &oauthAuth{app: NewOAuthApp(o, baseURL, hc), store: o.Store, now: now}, nil
}

// Apply implements outbound.Authenticator: it loads the token on first use
// and refreshes it when it is about to expire.
func (a *oauthAuth) Apply(ctx context.Context, req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil {
		tok, err := a.store.Load(ctx)
		if err != nil {
			return fmt.Errorf("error loading Klaviyo tokens: %w", err)
		}
		if tok == nil || (tok.AccessToken == "" && tok.RefreshToken == "") {
			return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: "oauth", Class: domain.ClassAuth, Err: errors.New("no Klaviyo OAuth token stored")}
		}
		a.tok = tok
	}
	if a.tok.AccessToken == "" || (!a.tok.Expiry.IsZero() && !a.now().Add(expiryLeeway).Before(a.tok.Expiry)) {
		if err := a.refreshLocked(ctx); err != nil {
			return err
		}
	}
	req.Header.Set("Authorization", "Bearer "+a.tok.AccessToken)
	return nil
}

// Refresh implements outbound.Authenticator (called after a 401).
func (a *oauthAuth) Refresh(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.refreshedAt.IsZero() && a.now().Sub(a.refreshedAt) < recentRefresh {
		return nil
	}
	// Another worker may have refreshed already.
	if stored, err := a.store.Load(ctx); err == nil && stored != nil && a.tok != nil &&
		stored.AccessToken != "" && stored.AccessToken != a.tok.AccessToken &&
		(stored.Expiry.IsZero() || a.now().Add(expiryLeeway).Before(stored.Expiry)) {
		a.tok, a.refreshedAt = stored, a.now()
		return nil
	}
	return a.refreshLocked(ctx)
}

func (a *oauthAuth) refreshLocked(ctx context.Context) error {
	if a.tok == nil || a.tok.RefreshToken == "" {
		return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: "POST /oauth/token", Class: domain.ClassAuth, Err: errors.New("no refresh token")}
	}
	tok, err := a.app.Refresh(ctx, a.tok.RefreshToken)
	if err != nil {
		return err
	}
	if err := a.store.Save(ctx, tok); err != nil {
		return fmt.Errorf("error saving refreshed Klaviyo tokens: %w", err)
	}
	a.tok, a.refreshedAt = tok, a.now()
	return nil
}
