package connector

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/klaviyo"
	"switchyard/internal/provider/whiplash"
)

// Clients builds vendor clients from stored connections, sharing one rate
// limiter, delivery recorder and HTTP client, and caches them per connection
// version.
//
// Connection conventions (Config keys / Secrets keys):
//   - gorgias: Account = subdomain; config base_url (default
//     https://<account>.gorgias.com), email (REST user), rate_window (the
//     account's leaky-bucket window, default 20s; 10s on Enterprise); secret
//     api_key, or for an OAuth app config client_id, redirect_url and secrets
//     client_secret, access_token, refresh_token (config token_expiry).
//   - klaviyo: config base_url (default https://a.klaviyo.com); secret
//     private_key, or OAuth as for gorgias.
//   - whiplash: Account = customer id; config base_url (default
//     https://www.getwhiplash.com), client_id, redirect_url, grant
//     ("client_credentials" for app tokens, else authorization code);
//     secrets client_secret, access_token, refresh_token (+ config
//     token_expiry, RFC 3339).
//
// A base_url must name one of the vendor's own hosts (domain.VendorHosts)
// or a host on Allow; this is checked again here, when a client is built,
// so a stored row cannot bypass the check made at creation.
//
// Rate budgets are keyed by BudgetKey: vendor, host, account and a keyed
// hash of the credential, so only holders of the same credential share
// (and can pause) a budget.
type Clients struct {
	Store    domain.Store
	Limiter  outbound.Limiter
	Recorder outbound.Recorder
	HTTP     *http.Client
	Now      func() time.Time
	Logger   *slog.Logger
	// Allow is the operator's allow-list of extra vendor hosts (nil: none).
	Allow *outbound.AllowList
	// FingerprintKey keys the credential fingerprints in budget keys; derive
	// it from the hub's secret key (FingerprintKeyFrom). Empty: fingerprints
	// are unkeyed hashes.
	FingerprintKey []byte

	mu    sync.Mutex
	cache map[string]cachedClient
}

type cachedClient struct {
	version time.Time
	client  any
}

// Target is what a vendor client of one connection is built from: the
// connection, its validated base URL and the hub's shared pieces (HTTP
// client with the dial guard, rate limiter, delivery recorder, clock,
// logger). Builders pass them into the provider's config unchanged.
type Target struct {
	Conn *domain.Connection
	// BaseURL is the checked base URL without a trailing slash: one of the
	// vendor's own hosts, or a host the operator allow-listed.
	BaseURL string
	// Canonical is true when BaseURL is one of the vendor's own hosts.
	Canonical bool
	HTTP      *http.Client
	Limiter   outbound.Limiter
	Recorder  outbound.Recorder
	Now       func() time.Time
	Logger    *slog.Logger

	clients *Clients
	base    *url.URL
}

// BudgetKey is the connection's rate-budget key for the credential parts
// given (see Clients.BudgetKey).
func (t Target) BudgetKey(credential ...string) string {
	return t.clients.BudgetKey(t.Conn, t.base, t.Canonical, credential...)
}

// Tokens persists the connection's OAuth tokens in its encrypted secrets,
// so a rotated refresh token survives restarts.
func (t Target) Tokens() *ConnTokens { return t.clients.tokens(t.Conn) }

// ClientFor returns the client of a merchant's connection of vendor, built
// by build and cached until the connection changes. The connection must be
// the merchant's and of that vendor, and its base URL one of the vendor's
// own hosts or operator-allowed: checked here, each time a client is built,
// so a stored row cannot bypass the check made at creation. A connector
// builds the clients of vendors only it uses with this, in its own package;
// the vendors several connectors share have methods below.
func ClientFor[T any](ctx context.Context, c *Clients, merchantID, connID, vendor string, build func(t Target) (T, error)) (T, error) {
	var zero T
	conn, err := c.Store.GetConnection(ctx, merchantID, connID)
	if err != nil {
		return zero, err
	}
	if conn.Vendor != vendor {
		return zero, domain.Errorf(domain.EINVALID, "connection %s is a %s connection, not %s", connID, conn.Vendor, vendor)
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]cachedClient{}
	}
	cc, ok := c.cache[connID]
	c.mu.Unlock()
	if cl, isT := cc.client.(T); ok && isT && cc.version.Equal(conn.UpdatedAt) {
		return cl, nil
	}
	cl, err := buildTarget(c, conn, build)
	if err != nil {
		msg := err.Error()
		if domain.ErrorCode(err) != domain.EINTERNAL {
			msg = domain.ErrorMessage(err)
		}
		return zero, domain.WrapError(domain.EINVALID, fmt.Sprintf("%s connection %s is misconfigured: %s", vendor, connID, msg), err)
	}
	c.mu.Lock()
	c.cache[connID] = cachedClient{version: conn.UpdatedAt, client: cl}
	c.mu.Unlock()
	return cl, nil
}

func buildTarget[T any](c *Clients, conn *domain.Connection, build func(t Target) (T, error)) (T, error) {
	base, canonical, err := conn.ValidateBaseURL(c.Allow)
	if err != nil {
		var zero T
		return zero, err
	}
	return build(Target{Conn: conn, BaseURL: strings.TrimRight(base.String(), "/"), Canonical: canonical,
		HTTP: c.HTTP, Limiter: c.Limiter, Recorder: c.Recorder, Now: c.Now, Logger: c.Logger, clients: c, base: base})
}

// FingerprintKeyFrom derives the budget-fingerprint key from the hub's
// secret key (HKDF-SHA256), so the key is stable across restarts and
// replicas and never equals the encryption key.
func FingerprintKeyFrom(secretKey []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secretKey, nil, "switchyard budget fingerprint v1", 32)
	if err != nil {
		return nil, fmt.Errorf("error deriving the budget fingerprint key: %w", err)
	}
	return k, nil
}

// BudgetKey returns the rate-budget key of a connection whose calls go to
// base: "<vendor>:<host>:<account>:<fingerprint of the credential>", plus
// ":conn=<id>" when base is not the vendor's own host (an operator-allowed
// emulator, sandbox or proxy: its 429s pause that connection only). The
// fingerprint is an HMAC of the parts that authenticate the calls (API key,
// private key, or OAuth client id and secret with the account), so only a
// holder of the same credential shares a budget.
func (c *Clients) BudgetKey(conn *domain.Connection, base *url.URL, canonical bool, credential ...string) string {
	mac := hmac.New(sha256.New, c.FingerprintKey)
	for _, part := range append([]string{conn.Vendor, strings.ToLower(conn.Account)}, credential...) {
		fmt.Fprintf(mac, "%d:%s;", len(part), part)
	}
	host := strings.ToLower(base.Hostname()) // a vendor's own host is https on 443 however it is written
	if p := base.Port(); p != "" && !canonical {
		host = net.JoinHostPort(host, p)
	}
	key := conn.Vendor + ":" + host + ":" + strings.ToLower(conn.Account) + ":" + hex.EncodeToString(mac.Sum(nil)[:8])
	if !canonical {
		key += ":conn=" + conn.ID
	}
	return key
}

// Gorgias returns the client of a merchant's Gorgias connection.
func (c *Clients) Gorgias(ctx context.Context, merchantID, connID string) (*gorgias.Client, error) {
	return ClientFor(ctx, c, merchantID, connID, domain.VendorGorgias, func(t Target) (*gorgias.Client, error) {
		conn := t.Conn
		var window time.Duration
		if w := conn.Config["rate_window"]; w != "" {
			d, err := time.ParseDuration(w)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("rate_window %q is not a positive duration", w)
			}
			window = d
		}
		cfg := gorgias.Config{Account: conn.Account, BaseURL: t.BaseURL, Email: conn.Config["email"], APIKey: conn.Secrets["api_key"], Window: window,
			HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger}
		credential := []string{"api_key", conn.Config["email"], cfg.APIKey}
		if cfg.APIKey == "" && conn.Config["client_id"] != "" {
			// OAuth app: tokens live in the connection and rotate through the store.
			cfg.OAuth = &gorgias.OAuthConfig{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"], RedirectURL: conn.Config["redirect_url"]}
			cfg.Tokens = t.Tokens()
			credential = []string{"oauth", cfg.OAuth.ClientID, cfg.OAuth.ClientSecret}
		}
		cfg.BudgetKey = t.BudgetKey(credential...)
		if cfg.OAuth != nil {
			cfg.BudgetKey += ":oauth"
		}
		if window > 0 {
			// A merchant's window sizes a budget of its own, never one it
			// shares with a connection that did not set it.
			cfg.BudgetKey += ":window=" + window.String()
		}
		return gorgias.New(cfg)
	})
}

// Klaviyo returns the client of a merchant's Klaviyo connection.
func (c *Clients) Klaviyo(ctx context.Context, merchantID, connID string) (*klaviyo.Client, error) {
	return ClientFor(ctx, c, merchantID, connID, domain.VendorKlaviyo, func(t Target) (*klaviyo.Client, error) {
		conn := t.Conn
		cfg := klaviyo.Config{BaseURL: t.BaseURL, Account: conn.Account, PrivateKey: conn.Secrets["private_key"],
			HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger}
		credential := []string{"private_key", cfg.PrivateKey}
		if cfg.PrivateKey == "" && conn.Config["client_id"] != "" {
			cfg.OAuth = &klaviyo.OAuth{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"], RedirectURL: conn.Config["redirect_url"], Store: t.Tokens()}
			credential = []string{"oauth", cfg.OAuth.ClientID, cfg.OAuth.ClientSecret}
		}
		cfg.BudgetKey = t.BudgetKey(credential...)
		return klaviyo.New(cfg)
	})
}

// Whiplash returns the client of a merchant's Whiplash connection; rotated
// OAuth tokens are written back to the connection.
func (c *Clients) Whiplash(ctx context.Context, merchantID, connID string) (*whiplash.Client, error) {
	return ClientFor(ctx, c, merchantID, connID, domain.VendorWhiplash, func(t Target) (*whiplash.Client, error) {
		conn := t.Conn
		cfg := whiplash.Config{BaseURL: t.BaseURL, ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"],
			RedirectURL: conn.Config["redirect_url"], CustomerID: conn.Account, ClientCredentials: conn.Config["grant"] == "client_credentials", Tokens: t.Tokens(),
			HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger}
		cfg.BudgetKey = t.BudgetKey("oauth", cfg.ClientID, cfg.ClientSecret)
		return whiplash.NewClient(cfg)
	})
}

func (c *Clients) tokens(conn *domain.Connection) *ConnTokens {
	return &ConnTokens{store: c.Store, merchantID: conn.MerchantID, connID: conn.ID}
}

// ConnTokens persists OAuth tokens in a connection's secrets (encrypted at
// rest), so a rotated refresh token survives restarts. Its Load and Save
// fit the providers' token-store interfaces.
type ConnTokens struct {
	store      domain.Store
	merchantID string
	connID     string
}

func (t *ConnTokens) Load(ctx context.Context) (*oauth2.Token, error) {
	conn, err := t.store.GetConnection(ctx, t.merchantID, t.connID)
	if err != nil {
		return nil, err
	}
	if conn.Secrets["access_token"] == "" && conn.Secrets["refresh_token"] == "" {
		return nil, nil
	}
	tok := &oauth2.Token{AccessToken: conn.Secrets["access_token"], RefreshToken: conn.Secrets["refresh_token"], TokenType: "Bearer"}
	if exp := conn.Config["token_expiry"]; exp != "" {
		tok.Expiry, _ = time.Parse(time.RFC3339, exp)
	}
	return tok, nil
}

func (t *ConnTokens) Save(ctx context.Context, tok *oauth2.Token) error {
	conn, err := t.store.GetConnection(ctx, t.merchantID, t.connID)
	if err != nil {
		return err
	}
	if conn.Config == nil {
		conn.Config = map[string]string{}
	}
	conn.Secrets["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		conn.Secrets["refresh_token"] = tok.RefreshToken
	}
	if !tok.Expiry.IsZero() {
		conn.Config["token_expiry"] = tok.Expiry.UTC().Format(time.RFC3339)
	}
	return t.store.UpdateConnection(ctx, conn)
}
