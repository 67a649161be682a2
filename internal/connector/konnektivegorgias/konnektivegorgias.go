// Package konnektivegorgias is connector C3: a Konnektive CRM (Checkout
// Champ) account in a Gorgias helpdesk, as the CRM's own Gorgias plugin
// does it (seed 002), and better.
//
// Install creates in Gorgias the HTTP integration "Konnektive Integration"
// (Gorgias calls GET …/customer?email={{ticket.customer.email}} with the
// installation's token header), a widget bound to it and the 11 Konnektive
// macros, each with an http action to POST …/actions/<macro>. Install run
// again is the repair: every object is found by its stored id, then by its
// exact name, updated to what it should be, recreated when gone, and
// duplicates are removed. Uninstall deletes them.
//
// The pull endpoint answers from the CRM within a time box (customer,
// orders, purchases and transactions, wide date range) with a short
// per-customer cache; a CRM failure answers an error object the widget
// shows, never a 5xx. The action endpoint validates the macro's arguments
// (0/1 flags, amounts, required fields), runs the CRM call, records an audit
// row and posts the outcome to the ticket as an internal note; a retried
// delivery of the same ticket, macro and arguments within the window runs
// once and answers the first result.
//
// Settings: the guide's plugin fields map onto the connections (Gorgias:
// base_url = baseUrl, email = userName, secret api_key = apiKey; Konnektive:
// base_url, account = loginId, secret password) and the installation
// (hubUrl, IntegrationId read-only, pullTimeout, cacheTtl, actionWindow);
// GET …/plugin-settings shows them as the guide names them.
package konnektivegorgias

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
)

// Installation settings.
const (
	// SettingHubURL is switchyard's public base URL, which Gorgias calls
	// (required to install).
	SettingHubURL = "hubUrl"
	// SettingIntegrationID is the Gorgias HTTP integration's id: read-only,
	// written by install.
	SettingIntegrationID = "IntegrationId"
	// SettingPullTimeout is the pull endpoint's time box (Go duration).
	SettingPullTimeout = "pullTimeout"
	// SettingCacheTTL is how long a pull answer is reused per customer
	// ("0s" disables the cache).
	SettingCacheTTL = "cacheTtl"
	// SettingActionWindow is how long a macro delivery with the same
	// ticket, action and arguments answers the first result.
	SettingActionWindow = "actionWindow"
)

// Defaults and bounds of the settings.
const (
	DefaultPullTimeout  = 3 * time.Second
	MaxPullTimeout      = 10 * time.Second
	DefaultCacheTTL     = 60 * time.Second
	MaxCacheTTL         = 15 * time.Minute
	DefaultActionWindow = 10 * time.Minute
	MaxActionWindow     = 24 * time.Hour
)

// Remote ids recorded on the installation.
const (
	RemoteIntegration = "gorgias_integration_id"
	RemoteWidget      = "gorgias_widget_id"
	// RemoteHookNonce keys the installation's hook token (with the hub's
	// secret): a new install after an uninstall gets a new token.
	RemoteHookNonce = "hook_nonce"
	remoteMacroPref = "gorgias_macro:"
)

// TokenHeader carries the installation's token on Gorgias' calls.
const TokenHeader = "X-Switchyard-Token"

// IntegrationName is the HTTP integration's exact name (seed 002).
const IntegrationName = "Konnektive Integration"

const hookPrefix = "/hooks/gorgias/" + Name + "/"

// hotTTL bounds how long the hook routes use an installation and its CRM
// client without reading the database (the pull's latency budget is a few
// milliseconds, and a read can queue behind a write's fsync on SQLite).
// Past it the entry is still served while one background read refreshes
// it, so no request waits on the database once an installation is warm.
// Install and Uninstall drop the entry at once in this process; other
// changes (settings, a rotated CRM password, another replica's uninstall)
// are seen within hotTTL plus one read.
const hotTTL = 2 * time.Second

// hotRefreshTimeout bounds a background refresh.
const hotRefreshTimeout = 10 * time.Second

// Connector is C3.
type Connector struct {
	d     connector.Deps
	cache *pullCache

	hotMu sync.Mutex
	hot   map[string]*hotEntry
}

// hotEntry is an installation and its CRM client as the hook routes use
// them. A refresh replaces it whole; only refreshing changes in place
// (under hotMu).
type hotEntry struct {
	in         *domain.Installation
	crm        *konnektive.Client // nil until built
	exp        time.Time
	refreshing bool
}

// New returns the connector.
func New(d connector.Deps) *Connector {
	d = d.WithDefaults()
	return &Connector{d: d, cache: newPullCache(d.Now), hot: map[string]*hotEntry{}}
}

// load reads an installation and builds its CRM client.
func (c *Connector) load(ctx context.Context, id string) (*hotEntry, error) {
	in, err := c.d.Store.LookupInstallation(ctx, id)
	if err != nil {
		return nil, err
	}
	e := &hotEntry{in: in, exp: c.d.Now().Add(hotTTL)}
	if in.Connector == Name && in.Connections[domain.VendorKonnektive] != "" {
		if k, err := c.crm(ctx, in); err == nil {
			e.crm = k
		}
	}
	return e, nil
}

// hotGet returns an installation's entry: fresh, or stale while one
// background read refreshes it, or read now when there is none.
func (c *Connector) hotGet(ctx context.Context, id string) (*hotEntry, error) {
	now := c.d.Now()
	c.hotMu.Lock()
	e, ok := c.hot[id]
	if ok && !now.Before(e.exp) && !e.refreshing {
		e.refreshing = true
		go c.refresh(context.WithoutCancel(ctx), id, e)
	}
	c.hotMu.Unlock()
	if ok {
		return e, nil
	}
	e, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	c.hotMu.Lock()
	if len(c.hot) > 10000 {
		clear(c.hot)
	}
	c.hot[id] = e
	c.hotMu.Unlock()
	return e, nil
}

// refresh replaces a stale entry (unless it was dropped meanwhile); an
// installation gone from the database is dropped.
func (c *Connector) refresh(ctx context.Context, id string, old *hotEntry) {
	ctx, cancel := context.WithTimeout(ctx, hotRefreshTimeout)
	defer cancel()
	e, err := c.load(ctx, id)
	c.hotMu.Lock()
	defer c.hotMu.Unlock()
	if c.hot[id] != old {
		return // dropped or replaced (install, uninstall)
	}
	switch {
	case err == nil:
		c.hot[id] = e
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		delete(c.hot, id)
	default:
		old.refreshing = false // keep serving it; the next call retries
		c.d.Logger.WarnContext(ctx, "konnektive-gorgias: installation refresh failed", slog.String("installation_id", id), slog.String("error", err.Error()))
	}
}

// lookup returns the installation for a hook call.
func (c *Connector) lookup(ctx context.Context, id string) (*domain.Installation, error) {
	e, err := c.hotGet(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.in, nil
}

// hotCRM is the installation's CRM client for the hook routes.
func (c *Connector) hotCRM(ctx context.Context, in *domain.Installation) (*konnektive.Client, error) {
	c.hotMu.Lock()
	e, ok := c.hot[in.ID]
	c.hotMu.Unlock()
	if ok && e.crm != nil && e.in.Connections[domain.VendorKonnektive] == in.Connections[domain.VendorKonnektive] {
		return e.crm, nil
	}
	return c.crm(ctx, in)
}

// forget drops an installation from the hot cache (install, uninstall).
func (c *Connector) forget(id string) {
	c.hotMu.Lock()
	delete(c.hot, id)
	c.hotMu.Unlock()
}

// Name implements connector.Connector.
func (c *Connector) Name() string { return Name }

// ---- clients -----------------------------------------------------------

func (c *Connector) gorgias(ctx context.Context, in *domain.Installation) (*gorgias.Client, error) {
	return c.d.Clients.Gorgias(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
}

// crm returns the installation's Konnektive client. Connection
// conventions: Account = the API user's loginId (config login_id
// overrides), config base_url (default https://api.konnektive.com), secret
// password.
func (c *Connector) crm(ctx context.Context, in *domain.Installation) (*konnektive.Client, error) {
	return connector.ClientFor(ctx, c.d.Clients, in.MerchantID, in.Connections[domain.VendorKonnektive], domain.VendorKonnektive,
		func(t connector.Target) (*konnektive.Client, error) {
			login := t.Conn.Config["login_id"]
			if login == "" {
				login = t.Conn.Account
			}
			password := t.Conn.Secrets["password"]
			cfg := konnektive.Config{BaseURL: t.BaseURL, LoginID: login, Password: password, Account: t.Conn.Account,
				HTTPClient: t.HTTP, Limiter: t.Limiter, Recorder: t.Recorder, Now: t.Now, Logger: t.Logger}
			cfg.Budget.Key = t.BudgetKey("password", login, password)
			return konnektive.New(cfg)
		})
}

// ---- settings ------------------------------------------------------------

// settings are an installation's parsed settings.
type settings struct {
	hubURL       string
	pullTimeout  time.Duration
	cacheTTL     time.Duration
	actionWindow time.Duration
}

func durationSetting(in *domain.Installation, key string, def, maxD time.Duration, allowZero bool) (time.Duration, error) {
	v := strings.TrimSpace(in.Settings[key])
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d == 0 && !allowZero) || d > maxD {
		return 0, domain.Errorf(domain.EINVALID, "setting %s %q must be a duration such as 3s, above 0 and at most %s", key, v, maxD)
	}
	return d, nil
}

func parseSettings(in *domain.Installation) (settings, error) {
	var s settings
	var err error
	if s.pullTimeout, err = durationSetting(in, SettingPullTimeout, DefaultPullTimeout, MaxPullTimeout, false); err != nil {
		return s, err
	}
	if s.cacheTTL, err = durationSetting(in, SettingCacheTTL, DefaultCacheTTL, MaxCacheTTL, true); err != nil {
		return s, err
	}
	if s.actionWindow, err = durationSetting(in, SettingActionWindow, DefaultActionWindow, MaxActionWindow, false); err != nil {
		return s, err
	}
	if v := strings.TrimSpace(in.Settings[SettingHubURL]); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return s, domain.Errorf(domain.EINVALID, "setting %s %q must be switchyard's public base URL, such as https://hub.example.com", SettingHubURL, v)
		}
		s.hubURL = strings.TrimRight(u.String(), "/")
	}
	return s, nil
}

// ValidateSettings implements connector.SettingsValidator: the settings'
// shape, IntegrationId left as install wrote it, then one cheap call to
// each side (Gorgias: GET /api/account; Konnektive: a customer look-up), so
// a wrong key or password is named with its side.
func (c *Connector) ValidateSettings(ctx context.Context, in *domain.Installation) error {
	if _, err := parseSettings(in); err != nil {
		return err
	}
	if got, want := in.Settings[SettingIntegrationID], in.RemoteIDs[RemoteIntegration]; got != want {
		return domain.Errorf(domain.EINVALID, "%s is read-only: install fills it with the Gorgias integration's id (%q)", SettingIntegrationID, want)
	}
	g, err := c.gorgias(ctx, in)
	if err != nil {
		return sideError("Gorgias (baseUrl, userName, apiKey)", err)
	}
	if _, err := g.GetAccount(ctx); err != nil {
		return sideError("Gorgias (baseUrl, userName, apiKey)", connector.CallerError(err))
	}
	k, err := c.crm(ctx, in)
	if err != nil {
		return sideError("Konnektive CRM (base URL, loginId, password)", err)
	}
	if _, err := k.QueryCustomers(ctx, konnektive.CustomerQuery{CustomerID: "0"}); err != nil {
		return sideError("Konnektive CRM (base URL, loginId, password; its API user must allow switchyard's egress IPs)", connector.CallerError(err))
	}
	return nil
}

// sideError names the side whose check failed, keeping the code.
func sideError(side string, err error) error {
	code := domain.ErrorCode(err)
	if code == domain.EINTERNAL {
		code = domain.EUNAVAILABLE
	}
	return domain.WrapError(code, side+": "+domain.ErrorMessage(err), err)
}

// ---- the hook token ---------------------------------------------------------

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hookToken is the installation's token: an HMAC of its id and nonce under
// the hub's fingerprint key (derived from the secret key), so it is never
// stored and a new nonce (a reinstall) revokes the old one.
func (c *Connector) hookToken(in *domain.Installation) string {
	nonce := in.RemoteIDs[RemoteHookNonce]
	if nonce == "" {
		return ""
	}
	var key []byte
	if c.d.Clients != nil {
		key = c.d.Clients.FingerprintKey
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "konnektive-gorgias hook token v1\x00%s\x00%s", in.ID, nonce)
	return "kg_" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// auth authenticates a Gorgias call: the installation exists, is this
// connector's, carries the token (constant-time compare) and is active or
// degraded. Unknown: 404; wrong token: 401; not installed: 404.
func (c *Connector) auth(next func(w http.ResponseWriter, r *http.Request, in *domain.Installation)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := c.lookup(r.Context(), r.PathValue("installation"))
		if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
			c.d.Logger.ErrorContext(r.Context(), "konnektive-gorgias hook: installation lookup failed", slog.String("error", err.Error()))
			writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable", "try again"))
			return
		}
		if err != nil || in.Connector != Name {
			writeJSON(w, http.StatusNotFound, errorBody("not_found", "unknown installation"))
			return
		}
		want := c.hookToken(in)
		got := r.Header.Get(TokenHeader)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorBody("unauthorized", "missing or wrong "+TokenHeader))
			return
		}
		if !in.State.Processes() {
			writeJSON(w, http.StatusNotFound, errorBody("not_installed", "installation is "+string(in.State)))
			return
		}
		next(w, r, in)
	})
}

// ---- admin routes -------------------------------------------------------------

// listAudit answers GET …/audit[?ticket=ID][&limit=N]: the installation's
// action audit rows, newest first.
func (c *Connector) listAudit(r *http.Request, in *domain.Installation) (int, any, error) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	rows, err := c.d.Store.ListActionAudits(r.Context(), domain.ActionAuditFilter{MerchantID: in.MerchantID, InstallationID: in.ID,
		TicketID: strings.TrimSpace(r.URL.Query().Get("ticket")), CustomerEmail: domain.NormalizeEmail(r.URL.Query().Get("email")), Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	if rows == nil {
		rows = []*domain.ActionAudit{}
	}
	return http.StatusOK, map[string]any{"installation_id": in.ID, "audit": rows}, nil
}

// PluginSettings are the guide's plugin fields, as the CRM plugin names
// them. Secrets are never shown: only whether they are set.
type PluginSettings struct {
	BaseURL       string `json:"baseUrl"`
	UserName      string `json:"userName"`
	APIKeySet     bool   `json:"apiKeySet"`
	IntegrationID string `json:"IntegrationId"`
	CRMBaseURL    string `json:"crmBaseUrl"`
	CRMLoginID    string `json:"crmLoginId"`
	CRMPassword   bool   `json:"crmPasswordSet"`
	HubURL        string `json:"hubUrl"`
	PullTimeout   string `json:"pullTimeout"`
	CacheTTL      string `json:"cacheTtl"`
	ActionWindow  string `json:"actionWindow"`
}

func (c *Connector) pluginSettings(r *http.Request, in *domain.Installation) (int, any, error) {
	ctx := r.Context()
	s, err := parseSettings(in)
	if err != nil {
		return 0, nil, err
	}
	out := PluginSettings{IntegrationID: in.Settings[SettingIntegrationID], HubURL: s.hubURL,
		PullTimeout: s.pullTimeout.String(), CacheTTL: s.cacheTTL.String(), ActionWindow: s.actionWindow.String()}
	g, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorGorgias])
	if err != nil {
		return 0, nil, err
	}
	out.BaseURL = g.Config["base_url"]
	if out.BaseURL == "" {
		out.BaseURL = gorgias.BaseURLFor(g.Account)
	}
	out.BaseURL += "/api"
	out.UserName, out.APIKeySet = g.Config["email"], g.Secrets["api_key"] != ""
	k, err := c.d.Store.GetConnection(ctx, in.MerchantID, in.Connections[domain.VendorKonnektive])
	if err != nil {
		return 0, nil, err
	}
	out.CRMBaseURL = k.Config["base_url"]
	if out.CRMBaseURL == "" {
		out.CRMBaseURL = konnektive.DefaultBaseURL
	}
	out.CRMLoginID = k.Config["login_id"]
	if out.CRMLoginID == "" {
		out.CRMLoginID = k.Account
	}
	out.CRMPassword = k.Secrets["password"] != ""
	return http.StatusOK, out, nil
}

// ---- helpers -------------------------------------------------------------------

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

var errNoHubURL = domain.Errorf(domain.EINVALID, "setting %s is required to install when the hub runs without --public-url: switchyard's public base URL, which Gorgias calls", SettingHubURL)

// isNotFound reports a Gorgias 404 (object deleted).
func isNotFound(err error) bool { return errors.Is(err, gorgias.ErrNotFound) }
