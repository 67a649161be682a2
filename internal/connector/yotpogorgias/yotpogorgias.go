// Package yotpogorgias is connector C4: the Yotpo app of the Gorgias app
// store. A merchant installs it from Gorgias (/install/yotpo?account=…):
// Gorgias OAuth consent, then Yotpo's Connect page, then a confirmation
// page. The Gorgias customer sidebar then shows a Yotpo widget (Overview,
// Loyalty, Reviews, five latest reviews, synced at) fed from
// customer.data.yotpo, written only after a message event (a Gorgias HTTP
// integration on ticket and message creation calls the hub) and coalesced
// per customer. Reviews and questions escalated in Yotpo become Gorgias
// tickets, and an agent's public reply on such a ticket is posted back to
// Yotpo as a comment.
//
// Nothing outside this package names it except the registry line and the
// end-to-end tests in internal/app. Merchant-facing guide:
// docs/yotpo-gorgias.md; Yotpo contract choices: docs/assumptions/yotpo.md.
package yotpogorgias

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

// Config is the connector's own configuration: the hub's app credentials
// at Gorgias and Yotpo and where the hub is reached. Without the Gorgias
// app credentials the app-store install answers 503.
type Config struct {
	// PublicURL is the hub's external base URL (redirect URIs, the URLs
	// Gorgias and Yotpo call). Empty: taken from the install request.
	PublicURL string
	// GorgiasBaseURL is the Gorgias account base URL with "{account}" for
	// the subdomain (default https://{account}.gorgias.com). Any other
	// host must be on the operator's allow-list.
	GorgiasBaseURL string
	// GorgiasClientID and GorgiasClientSecret are the hub's Gorgias app.
	GorgiasClientID     string
	GorgiasClientSecret string
	// YotpoBaseURL is the Yotpo Connect and Reviews host (default
	// https://api.yotpo.com; another host must be allow-listed).
	YotpoBaseURL string
	// YotpoClientID identifies the hub on Yotpo's Connect page.
	YotpoClientID string
	// SyncDelay is how long after the first message event of a customer
	// its sync runs: later events in the window join it (default 2 min;
	// at most 5 min, the guide's promise).
	SyncDelay time.Duration
	// StateTTL bounds an install flow (default 15 min).
	StateTTL time.Duration
}

// Defaults.
const (
	DefaultSyncDelay = 2 * time.Minute
	MaxSyncDelay     = 5 * time.Minute
	DefaultStateTTL  = 15 * time.Minute
)

// Connector is C4.
type Connector struct {
	d connector.Deps

	mu       sync.RWMutex
	cfg      Config
	stateKey []byte
}

// New returns the connector with the default configuration.
func New(d connector.Deps) *Connector {
	c := &Connector{d: d.WithDefaults()}
	var base []byte
	if d.Clients != nil {
		base = d.Clients.FingerprintKey
	}
	if len(base) == 0 {
		// No hub key (unit tests): a per-process key; flows do not survive
		// a restart.
		base = make([]byte, 32)
		_, _ = rand.Read(base)
	}
	k, err := hkdf.Key(sha256.New, base, nil, "switchyard yotpo-gorgias install state v1", 32)
	if err != nil {
		panic("yotpogorgias: hkdf: " + err.Error()) // cannot fail for these sizes
	}
	c.stateKey = k
	c.Configure(Config{})
	return c
}

// Configure sets the connector's configuration (defaults filled in).
func (c *Connector) Configure(cfg Config) {
	if cfg.GorgiasBaseURL == "" {
		cfg.GorgiasBaseURL = "https://{account}.gorgias.com"
	}
	if cfg.YotpoBaseURL == "" {
		cfg.YotpoBaseURL = yotpo.DefaultReviewsBaseURL
	}
	if cfg.YotpoClientID == "" {
		cfg.YotpoClientID = cfg.GorgiasClientID
	}
	if cfg.SyncDelay <= 0 {
		cfg.SyncDelay = DefaultSyncDelay
	}
	cfg.SyncDelay = min(cfg.SyncDelay, MaxSyncDelay)
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
}

// ConfigKeys are the keys ConfigureFrom reads (connector.Configurable: the
// operator sets them with serve --connector-config yotpo-gorgias.KEY=VALUE).
func (c *Connector) ConfigKeys() []string {
	return []string{"public_url", "gorgias_base_url", "gorgias_client_id", "gorgias_client_secret", "yotpo_base_url", "yotpo_client_id", "sync_delay"}
}

// ConfigureFrom sets the configuration from string settings (get returns
// "" for an unset key). An unreadable sync_delay is an error and changes
// nothing.
func (c *Connector) ConfigureFrom(get func(key string) string) error {
	cfg := Config{PublicURL: cmp.Or(get("public_url"), c.d.PublicURL), GorgiasBaseURL: get("gorgias_base_url"), GorgiasClientID: get("gorgias_client_id"),
		GorgiasClientSecret: get("gorgias_client_secret"), YotpoBaseURL: get("yotpo_base_url"), YotpoClientID: get("yotpo_client_id")}
	if v := get("sync_delay"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxSyncDelay {
			return domain.Errorf(domain.EINVALID, "yotpo-gorgias sync_delay %q must be a duration above 0 and at most %s", v, MaxSyncDelay)
		}
		cfg.SyncDelay = d
	}
	if cfg.GorgiasBaseURL != "" && !strings.Contains(cfg.GorgiasBaseURL, "{account}") {
		return domain.Errorf(domain.EINVALID, "yotpo-gorgias gorgias_base_url %q must contain {account}", cfg.GorgiasBaseURL)
	}
	c.Configure(cfg)
	return nil
}

func (c *Connector) config() Config {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cfg
}

// gorgiasBase is the checked Gorgias base URL of an account: the vendor's
// own host, or one the operator allow-listed.
func (c *Connector) gorgiasBase(account string) (string, error) {
	raw := strings.ReplaceAll(c.config().GorgiasBaseURL, "{account}", account)
	conn := &domain.Connection{Vendor: domain.VendorGorgias, Account: account, Config: map[string]string{"base_url": raw}}
	u, _, err := conn.ValidateBaseURL(c.allow())
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// yotpoBase is the checked Yotpo Connect/Reviews base URL.
func (c *Connector) yotpoBase() (string, error) {
	conn := &domain.Connection{Vendor: domain.VendorYotpo, Account: "connect", Config: map[string]string{"base_url": c.config().YotpoBaseURL}}
	u, _, err := conn.ValidateBaseURL(c.allow())
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (c *Connector) allow() domain.HostAllower {
	if c.d.Clients == nil || c.d.Clients.Allow == nil {
		return nil
	}
	return c.d.Clients.Allow
}

// gorgiasClient is the installation's Gorgias client (OAuth tokens rotate
// through the connection's encrypted secrets, refreshed before expiry).
func (c *Connector) gorgiasClient(ctx context.Context, in *domain.Installation) (*gorgias.Client, error) {
	return c.d.Clients.Gorgias(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
}

// yotpoClients are the clients of a Yotpo connection: Reviews and Loyalty
// when the merchant has them (nil otherwise), and Connect to renew the
// grant.
type yotpoClients struct {
	reviews *yotpo.Reviews
	loyalty *yotpo.Loyalty
	connect *yotpo.Connect
}

// Yotpo connection conventions (Config keys / Secrets keys): config
// base_url (Reviews and Connect host; default https://api.yotpo.com),
// loyalty_base_url (default https://loyalty.yotpo.com, or base_url when
// that is an operator-allowed host such as the emulator), app_key,
// loyalty_guid, client_id; secrets secret, loyalty_api_key, refresh_token
// (the Connect grant), escalation_token (the escalation URL token),
// webhook_secret (optional signed deliveries).
func (c *Connector) yotpo(ctx context.Context, in *domain.Installation) (*yotpoClients, error) {
	return connector.ClientFor(ctx, c.d.Clients, in.MerchantID, in.Connections[domain.VendorYotpo], domain.VendorYotpo, func(t connector.Target) (*yotpoClients, error) {
		conn := t.Conn
		out := &yotpoClients{}
		loyaltyBase := yotpo.DefaultLoyaltyBaseURL
		if !t.Canonical {
			loyaltyBase = t.BaseURL
		}
		if lb := conn.Config["loyalty_base_url"]; lb != "" {
			lc := &domain.Connection{Vendor: domain.VendorYotpo, Account: conn.Account, Config: map[string]string{"base_url": lb}}
			u, _, err := lc.ValidateBaseURL(c.allow())
			if err != nil {
				return nil, err
			}
			loyaltyBase = strings.TrimRight(u.String(), "/")
		}
		if key, secret := conn.Config["app_key"], conn.Secrets["secret"]; key != "" && secret != "" {
			b := yotpo.ReviewsBudget(key)
			b.Key = t.BudgetKey("reviews", key, secret)
			r, err := yotpo.NewReviews(yotpo.ReviewsConfig{BaseURL: t.BaseURL, AppKey: key, Secret: secret, Budget: b,
				HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger})
			if err != nil {
				return nil, err
			}
			out.reviews = r
		}
		if guid, key := conn.Config["loyalty_guid"], conn.Secrets["loyalty_api_key"]; guid != "" && key != "" {
			b := yotpo.LoyaltyBudget(guid)
			b.Key = t.BudgetKey("loyalty", guid, key)
			l, err := yotpo.NewLoyalty(yotpo.LoyaltyConfig{BaseURL: loyaltyBase, GUID: guid, APIKey: key, Budget: b,
				HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger})
			if err != nil {
				return nil, err
			}
			out.loyalty = l
		}
		if id := conn.Config["client_id"]; id != "" {
			cn, err := yotpo.NewConnect(yotpo.ConnectConfig{BaseURL: t.BaseURL, ClientID: id, HTTPClient: t.HTTP, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger})
			if err != nil {
				return nil, err
			}
			out.connect = cn
		}
		return out, nil
	})
}

// newToken returns a random 32-byte hex token.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// publicURL is the configured hub URL, else settings["hub_url"] recorded
// at install.
func (c *Connector) publicURL(in *domain.Installation) (string, error) {
	if u := c.config().PublicURL; u != "" {
		return u, nil
	}
	if u := in.Settings[SettingHubURL]; u != "" {
		return strings.TrimRight(u, "/"), nil
	}
	return "", domain.Errorf(domain.EINVALID, "the hub's public URL is unknown: install through /install/yotpo, or set settings.%s", SettingHubURL)
}

// Settings keys of an installation.
const (
	// SettingIntegrationName is the Gorgias integration's name ("Update
	// integration"); empty: DefaultIntegrationName.
	SettingIntegrationName = "integration_name"
	// SettingHubURL is the hub's public URL seen at install.
	SettingHubURL = "hub_url"
	// SettingStoreName is the Yotpo store name from the Connect grant.
	SettingStoreName = "yotpo_store_name"
)

// DefaultIntegrationName is the long name the integration gets at install.
func DefaultIntegrationName(store string) string {
	if store == "" {
		store = "your store"
	}
	return fmt.Sprintf("Yotpo Reviews and Loyalty & Referrals for %s — customer widget and review escalations", store)
}

// integrationName is the installation's integration name.
func integrationName(in *domain.Installation) string {
	if n := strings.TrimSpace(in.Settings[SettingIntegrationName]); n != "" {
		return n
	}
	return DefaultIntegrationName(in.Settings[SettingStoreName])
}

// hookURL builds a URL under the hub.
func hookURL(base string, parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return base + "/" + strings.Join(parts, "/")
}
