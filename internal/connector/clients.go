package connector

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
//   - whiplash: Account = customer id; config base_url, client_id, redirect_url,
//     grant ("client_credentials" for app tokens, else authorization code);
//     secrets client_secret, access_token, refresh_token (+ config token_expiry, RFC 3339).
type Clients struct {
	Store    domain.Store
	Limiter  outbound.Limiter
	Recorder outbound.Recorder
	HTTP     *http.Client
	Now      func() time.Time
	Logger   *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedClient
}

type cachedClient struct {
	version time.Time
	client  any
}

func (c *Clients) get(ctx context.Context, merchantID, connID, vendor string, build func(conn *domain.Connection) (any, error)) (any, error) {
	conn, err := c.Store.GetConnection(ctx, merchantID, connID)
	if err != nil {
		return nil, err
	}
	if conn.Vendor != vendor {
		return nil, domain.Errorf(domain.EINVALID, "connection %s is a %s connection, not %s", connID, conn.Vendor, vendor)
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]cachedClient{}
	}
	cc, ok := c.cache[connID]
	c.mu.Unlock()
	if ok && cc.version.Equal(conn.UpdatedAt) {
		return cc.client, nil
	}
	cl, err := build(conn)
	if err != nil {
		return nil, domain.WrapError(domain.EINVALID, fmt.Sprintf("%s connection %s is misconfigured: %v", vendor, connID, err), err)
	}
	c.mu.Lock()
	c.cache[connID] = cachedClient{version: conn.UpdatedAt, client: cl}
	c.mu.Unlock()
	return cl, nil
}

// Gorgias returns the client of a merchant's Gorgias connection.
func (c *Clients) Gorgias(ctx context.Context, merchantID, connID string) (*gorgias.Client, error) {
	cl, err := c.get(ctx, merchantID, connID, domain.VendorGorgias, func(conn *domain.Connection) (any, error) {
		base := conn.Config["base_url"]
		if base == "" {
			base = gorgias.BaseURLFor(conn.Account)
		}
		var window time.Duration
		if w := conn.Config["rate_window"]; w != "" {
			d, err := time.ParseDuration(w)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("rate_window %q is not a positive duration", w)
			}
			window = d
		}
		cfg := gorgias.Config{Account: conn.Account, BaseURL: base, Email: conn.Config["email"], APIKey: conn.Secrets["api_key"], Window: window,
			HTTPClient: c.HTTP, Limiter: c.Limiter, Recorder: c.Recorder, Now: c.Now, Logger: c.Logger}
		if cfg.APIKey == "" && conn.Config["client_id"] != "" {
			// OAuth app: tokens live in the connection and rotate through the store.
			cfg.OAuth = &gorgias.OAuthConfig{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"], RedirectURL: conn.Config["redirect_url"]}
			cfg.Tokens = c.tokens(conn)
		}
		return gorgias.New(cfg)
	})
	if err != nil {
		return nil, err
	}
	return cl.(*gorgias.Client), nil
}

// Klaviyo returns the client of a merchant's Klaviyo connection.
func (c *Clients) Klaviyo(ctx context.Context, merchantID, connID string) (*klaviyo.Client, error) {
	cl, err := c.get(ctx, merchantID, connID, domain.VendorKlaviyo, func(conn *domain.Connection) (any, error) {
		cfg := klaviyo.Config{BaseURL: conn.Config["base_url"], Account: conn.Account, PrivateKey: conn.Secrets["private_key"],
			HTTPClient: c.HTTP, Limiter: c.Limiter, Recorder: c.Recorder, Now: c.Now, Logger: c.Logger}
		if cfg.PrivateKey == "" && conn.Config["client_id"] != "" {
			cfg.OAuth = &klaviyo.OAuth{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"], RedirectURL: conn.Config["redirect_url"], Store: c.tokens(conn)}
		}
		return klaviyo.New(cfg)
	})
	if err != nil {
		return nil, err
	}
	return cl.(*klaviyo.Client), nil
}

// Whiplash returns the client of a merchant's Whiplash connection; rotated
// OAuth tokens are written back to the connection.
func (c *Clients) Whiplash(ctx context.Context, merchantID, connID string) (*whiplash.Client, error) {
	cl, err := c.get(ctx, merchantID, connID, domain.VendorWhiplash, func(conn *domain.Connection) (any, error) {
		return whiplash.NewClient(whiplash.Config{BaseURL: conn.Config["base_url"], ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"],
			RedirectURL: conn.Config["redirect_url"], CustomerID: conn.Account, ClientCredentials: conn.Config["grant"] == "client_credentials", Tokens: c.tokens(conn),
			HTTPClient: c.HTTP, Limiter: c.Limiter, Recorder: c.Recorder, Now: c.Now, Logger: c.Logger})
	})
	if err != nil {
		return nil, err
	}
	return cl.(*whiplash.Client), nil
}

func (c *Clients) tokens(conn *domain.Connection) *connTokens {
	return &connTokens{store: c.Store, merchantID: conn.MerchantID, connID: conn.ID}
}

// connTokens persists OAuth tokens in a connection's secrets (encrypted at
// rest), so a rotated refresh token survives restarts.
type connTokens struct {
	store      domain.Store
	merchantID string
	connID     string
}

func (t *connTokens) Load(ctx context.Context) (*oauth2.Token, error) {
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

func (t *connTokens) Save(ctx context.Context, tok *oauth2.Token) error {
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
