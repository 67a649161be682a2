package togethergorgias

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/shopify"
)

// MinAPIVersion is the oldest Shopify Admin API version a connection may
// pin (config api_version); the default is shopify.DefaultAPIVersion.
const MinAPIVersion = "2026-07"

var apiVersionRE = regexp.MustCompile(`^\d{4}-(01|04|07|10)$`)

// ShopifyScopes are asked for at install: orders (the final-sale view)
// and customers (the customer's email).
var ShopifyScopes = []string{"read_orders", "read_customers"}

// shopifyKit is what one Shopify connection builds: the GraphQL client and
// the OAuth app that installs and refreshes its token.
type shopifyKit struct {
	// shop is the connection's account, <store>.myshopify.com.
	shop   string
	client *shopify.Client
	oauth  *shopify.OAuth
	tokens shopify.TokenStore
}

// Shopify connection conventions (Config keys / Secrets keys): Account =
// <store>.myshopify.com; config base_url (default https://<store>),
// client_id, redirect_url (ending in CallbackShopify), max_rps (the
// request rate cap, default 10 per second; the points budget is read from
// each answer's throttle status), api_version
// (default shopify.DefaultAPIVersion), token_expiry and
// refresh_token_expiry (RFC 3339, written by the hub); secrets
// client_secret, access_token, refresh_token.
func (c *Connector) shopify(ctx context.Context, merchantID, connID string) (*shopifyKit, error) {
	return connector.ClientFor(ctx, c.d.Clients, merchantID, connID, domain.VendorShopify, func(t connector.Target) (*shopifyKit, error) {
		conn := t.Conn
		o, err := shopify.NewOAuth(shopify.OAuthConfig{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"],
			Scopes: ShopifyScopes, RedirectURL: conn.Config["redirect_url"], AdminURL: func(string) string { return t.BaseURL },
			HTTPClient: t.HTTP, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger})
		if err != nil {
			return nil, err
		}
		if v := conn.Config["api_version"]; v != "" && (!apiVersionRE.MatchString(v) || v < MinAPIVersion) {
			return nil, fmt.Errorf("api_version %q must be a stable version YYYY-MM, %s or later", v, MinAPIVersion)
		}
		// The orders queries record no delivery rows: they run only while
		// answering an event, and nothing of an event is stored (not even
		// that it happened). The token calls above are recorded.
		tokens := &shopifyTokens{ConnTokens: t.Tokens(), store: c.d.Store, merchantID: conn.MerchantID, connID: conn.ID}
		budget := shopify.DefaultBudget(conn.Account)
		budget.Key = t.BudgetKey("oauth", conn.Config["client_id"], conn.Secrets["client_secret"]) + ":graphql"
		if v := conn.Config["max_rps"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1000 {
				return nil, fmt.Errorf("max_rps %q is not a whole number of requests per second from 1 to 1000", v)
			}
			// A merchant's rate sizes a budget of its own.
			budget.Rate, budget.Burst, budget.Key = float64(n), n, budget.Key+":rps="+v
		}
		cl, err := shopify.New(shopify.Config{Shop: strings.ToLower(conn.Account), BaseURL: t.BaseURL, APIVersion: conn.Config["api_version"],
			Tokens: tokens, OAuth: o, RefreshLock: c.refreshLock(conn.ID), Budget: budget,
			HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: nil, Now: t.Now, Logger: t.Logger})
		if err != nil {
			return nil, err
		}
		return &shopifyKit{shop: strings.ToLower(conn.Account), client: cl, oauth: o, tokens: tokens}, nil
	})
}

// refreshLock is the one lock of a connection's token refreshes, shared by
// every client built for it (a client is rebuilt whenever the connection
// changes, and a refresh changes it).
func (c *Connector) refreshLock(connID string) sync.Locker {
	l, _ := c.locks.LoadOrStore(connID, &sync.Mutex{})
	return l.(*sync.Mutex)
}

// shopifyTokens is the connection's token store (connector.ConnTokens)
// that also records the refresh token's own expiry.
type shopifyTokens struct {
	*connector.ConnTokens
	store      domain.Store
	merchantID string
	connID     string
}

// Save implements shopify.TokenStore.
func (s *shopifyTokens) Save(ctx context.Context, tok *oauth2.Token) error {
	if err := s.ConnTokens.Save(ctx, tok); err != nil {
		return err
	}
	exp := shopify.RefreshExpiry(tok)
	if exp.IsZero() {
		return nil
	}
	conn, err := s.store.GetConnection(ctx, s.merchantID, s.connID)
	if err != nil {
		return err
	}
	if conn.Config == nil {
		conn.Config = map[string]string{}
	}
	conn.Config["refresh_token_expiry"] = exp.UTC().Format(time.RFC3339)
	return s.store.UpdateConnection(ctx, conn)
}

// gorgiasKit is the OAuth side of a Gorgias connection (the API client is
// connector.Clients.Gorgias).
type gorgiasKit struct {
	oauth  *gorgias.OAuth
	tokens *connector.ConnTokens
}

func (c *Connector) gorgiasOAuth(ctx context.Context, merchantID, connID string) (*gorgiasKit, error) {
	return connector.ClientFor(ctx, c.d.Clients, merchantID, connID, domain.VendorGorgias, func(t connector.Target) (*gorgiasKit, error) {
		conn := t.Conn
		if conn.Config["client_id"] == "" || conn.Secrets["client_secret"] == "" {
			return nil, domain.Errorf(domain.EINVALID, "the Gorgias connection has no OAuth app (config client_id, secret client_secret)")
		}
		return &gorgiasKit{oauth: gorgias.NewOAuth(t.BaseURL, gorgias.OAuthConfig{ClientID: conn.Config["client_id"], ClientSecret: conn.Secrets["client_secret"],
			RedirectURL: conn.Config["redirect_url"]}, t.HTTP), tokens: t.Tokens()}, nil
	})
}

func (c *Connector) gorgias(ctx context.Context, in *domain.Installation) (*gorgias.Client, error) {
	return c.d.Clients.Gorgias(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
}
