package gorgias

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Default account and credentials (SPEC §4).
const (
	DefaultAccount      = "acme"
	DefaultUserEmail    = "admin@acme.test"
	DefaultAPIKey       = "gorgias-key"
	DefaultClientID     = "switchyard"
	DefaultClientSecret = "gorgias-app-secret"
)

// Config configures an Emulator. The zero value is a useful standalone
// emulator with the SPEC §4 defaults.
type Config struct {
	// Now is the clock (rate limits, token expiry, timestamps). Default time.Now.
	Now func() time.Time
	// Seed makes generated tokens, codes and injected faults reproducible.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger

	// DefaultAccount is the subdomain of the account that exists at start
	// and receives requests that name no account (default "acme").
	DefaultAccount string
	// DefaultUserEmail and DefaultAPIKey are the REST credentials of the
	// default account's admin (default admin@acme.test / gorgias-key).
	DefaultUserEmail string
	DefaultAPIKey    string
	// OAuthClients maps OAuth client ids to secrets (default
	// switchyard → gorgias-app-secret).
	OAuthClients map[string]string

	// APIKeyLimit and OAuthLimit are the leaky-bucket capacities (default 40
	// and 80); Window is the time a full bucket takes to drain (default
	// 20 s). Tests scale Window down (e.g. 2 s).
	APIKeyLimit int
	OAuthLimit  int
	Window      time.Duration

	// AccessTokenTTL is the OAuth access-token lifetime (default 24 h).
	AccessTokenTTL time.Duration
	// ZeroExpiresIn reports "expires_in": 0 in token responses, as the real
	// service was seen to do; the JWT still carries the real exp.
	ZeroExpiresIn bool
	// MergeLocation adds a Location header (to the surviving customer) to
	// the 301 that answers a merged customer's id. The documented 301 has
	// an empty body and no Location, which is the default.
	MergeLocation bool
	// AutoApprove makes /oauth/authorize redirect at once instead of showing
	// the consent page (also per request with ?auto_approve=1).
	AutoApprove bool

	// HTTPClient makes HTTP-integration and macro HTTP-action calls
	// (default: a plain client; IntegrationTimeout bounds each call).
	HTTPClient *http.Client
	// IntegrationTimeout bounds one outbound call (default 10 s).
	IntegrationTimeout time.Duration
	// IntegrationRetries is how many times a call failing with a transport
	// error or timeout is retried before it counts as one failure (default 0).
	IntegrationRetries int
	// MaxConsecutiveFailures deactivates an HTTP integration (default 100).
	MaxConsecutiveFailures int
	// MaxResponseBytes caps a stored integration response (default 1 MiB).
	MaxResponseBytes int64
	// Workers is the number of background integration callers (default 4).
	Workers int
	// MaxQueue bounds queued integration calls; beyond it calls are dropped
	// and counted (default 10,000).
	MaxQueue int
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DefaultAccount == "" {
		c.DefaultAccount = DefaultAccount
	}
	if c.DefaultUserEmail == "" {
		c.DefaultUserEmail = "admin@" + c.DefaultAccount + ".test"
		if c.DefaultAccount == DefaultAccount {
			c.DefaultUserEmail = DefaultUserEmail
		}
	}
	if c.DefaultAPIKey == "" {
		c.DefaultAPIKey = DefaultAPIKey
	}
	if len(c.OAuthClients) == 0 {
		c.OAuthClients = map[string]string{DefaultClientID: DefaultClientSecret}
	}
	if c.APIKeyLimit <= 0 {
		c.APIKeyLimit = 40
	}
	if c.OAuthLimit <= 0 {
		c.OAuthLimit = 80
	}
	if c.Window <= 0 {
		c.Window = 20 * time.Second
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = 24 * time.Hour
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.IntegrationTimeout <= 0 {
		c.IntegrationTimeout = 10 * time.Second
	}
	if c.MaxConsecutiveFailures <= 0 {
		c.MaxConsecutiveFailures = 100
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 1 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 10000
	}
}

// Emulator is the Gorgias emulator: one http.Handler holding every account
// in memory.
type Emulator struct {
	cfg    Config
	kit    *emukit.Kit
	log    *slog.Logger
	mux    *http.ServeMux
	secret []byte
	disp   *dispatcher

	mu        sync.Mutex
	rng       *rand.Rand
	seq       int64
	accounts  map[string]*account
	clients   map[string]*oauthClient
	codes     map[string]*authCode
	refresh   map[string]*refreshGrant
	revoked   map[string]bool // access-token jti
	closeOnce sync.Once
}

// New returns an emulator with the default account and OAuth client, and
// starts its background integration callers (stop them with Close).
func New(cfg Config) *Emulator {
	cfg.setDefaults()
	sum := sha256.Sum256([]byte("gorgias-emulator-signing:" + strconv.FormatUint(cfg.Seed, 10)))
	e := &Emulator{
		cfg:    cfg,
		kit:    emukit.New(cfg.Now, cfg.Seed),
		log:    cfg.Logger,
		mux:    http.NewServeMux(),
		secret: sum[:],
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x676f7267696173)),
		seq:    1000,
	}
	e.resetLocked()
	e.disp = newDispatcher(e, cfg.Workers, cfg.MaxQueue)
	e.routes()
	return e
}

// Close stops the background integration callers; queued calls are
// dropped. Safe to call twice.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { e.disp.close() })
}

// Flush blocks until every queued HTTP-integration call has finished (or
// the emulator is closed). Tests call it instead of sleeping.
func (e *Emulator) Flush() { e.disp.flush() }

// Kit exposes the fault-injection kit.
func (e *Emulator) Kit() *emukit.Kit { return e.kit }

func (e *Emulator) now() time.Time { return e.cfg.Now() }

// nextID returns a new id, unique across accounts and kinds.
func (e *Emulator) nextID() int64 {
	e.seq++
	return e.seq
}

// randToken returns n random URL-safe characters (mu held).
func (e *Emulator) randToken(n int) string {
	b := make([]byte, (n*3+3)/4)
	for i := range b {
		b[i] = byte(e.rng.UintN(256))
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// resetLocked restores the start state (mu held or not yet shared).
func (e *Emulator) resetLocked() {
	e.accounts = map[string]*account{}
	e.clients = map[string]*oauthClient{}
	for id, secret := range e.cfg.OAuthClients {
		e.clients[id] = &oauthClient{ID: id, Secret: secret}
	}
	e.codes = map[string]*authCode{}
	e.refresh = map[string]*refreshGrant{}
	e.revoked = map[string]bool{}
	e.addAccountLocked(e.cfg.DefaultAccount, e.cfg.DefaultUserEmail, e.cfg.DefaultAPIKey, 0)
}

// addAccountLocked creates an account with one admin user.
func (e *Emulator) addAccountLocked(domain, email, apiKey string, window time.Duration) *account {
	a := newAccount(domain, window, e.now())
	e.addUserLocked(a, email, apiKey)
	e.accounts[domain] = a
	return a
}

func (e *Emulator) addUserLocked(a *account, email, apiKey string) *user {
	local, _, _ := strings.Cut(email, "@")
	first := strings.ToUpper(local[:min(1, len(local))]) + local[min(1, len(local)):]
	u := &user{ID: e.nextID(), Email: email, Firstname: first, Lastname: "Agent", Name: first + " Agent", Role: "admin", apiKey: apiKey}
	if len(a.users) == 0 {
		u.Firstname, u.Lastname = strings.ToUpper(a.Domain[:min(1, len(a.Domain))])+a.Domain[min(1, len(a.Domain)):], "Admin"
		u.Name = u.Firstname + " " + u.Lastname
	}
	a.users = append(a.users, u)
	if apiKey != "" {
		a.apiKeys[apiKey] = u
	}
	return u
}

// ---- request routing ---------------------------------------------------------

type ctxKey int

const (
	ctxAccount ctxKey = iota
	ctxPrefix
)

// ServeHTTP resolves the account — Host "<sub>.gorgias.com", else a
// "/a/<sub>" path prefix, else the default account — strips a trailing
// slash and routes the request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	domain, prefix := "", ""
	host := strings.ToLower(r.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if sub, ok := strings.CutSuffix(host, ".gorgias.com"); ok && sub != "" && !strings.Contains(sub, ".") {
		domain = sub
	}
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/a/"); ok {
		sub, tail, _ := strings.Cut(rest, "/")
		if sub != "" {
			domain, prefix, path = sub, "/a/"+sub, "/"+tail
		}
	}
	if domain == "" {
		domain = e.cfg.DefaultAccount
	}
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
		if path == "" {
			path = "/"
		}
	}
	r2 := r.WithContext(context.WithValue(context.WithValue(r.Context(), ctxAccount, domain), ctxPrefix, prefix))
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	e.mux.ServeHTTP(w, r2)
}

// account returns the request's account, or nil (mu held).
func (e *Emulator) accountOf(r *http.Request) *account {
	d, _ := r.Context().Value(ctxAccount).(string)
	return e.accounts[d]
}

func prefixOf(r *http.Request) string {
	p, _ := r.Context().Value(ctxPrefix).(string)
	return p
}

// principal is who made an API call.
type principal struct {
	user     *user
	oauth    bool
	clientID string
}

// bucketKey names the rate-limit bucket of a credential type.
func (p principal) bucketKey() string {
	if p.oauth {
		return "oauth:" + p.clientID
	}
	return "api-key"
}

// apiFunc handles an authenticated, rate-limited API call.
type apiFunc func(w http.ResponseWriter, r *http.Request, p principal)

// api wraps an API handler: fault injection, account check, auth, leaky
// bucket and the X-Gorgias-Account-Api-Call-Limit header.
func (e *Emulator) api(h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e.kit.Inject(w, r, writeError) {
			return
		}
		e.mu.Lock()
		a := e.accountOf(r)
		if a == nil {
			e.mu.Unlock()
			writeError(w, http.StatusNotFound, "Account not found.")
			return
		}
		p, ok := e.authenticateLocked(r, a)
		if !ok {
			e.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="Gorgias API"`)
			writeError(w, http.StatusUnauthorized, "Unauthorized: invalid or missing credentials.")
			return
		}
		key := p.bucketKey()
		limit := e.cfg.APIKeyLimit
		if p.oauth {
			limit = e.cfg.OAuthLimit
		}
		window := e.cfg.Window
		if a.Window > 0 {
			window = a.Window
		}
		b := a.buckets[key]
		if b == nil || b.capacity != float64(limit) || b.window != window {
			b = &leakyBucket{capacity: float64(limit), window: window}
			a.buckets[key] = b
		}
		allowed, used, retry := b.take(e.now())
		a.calls++
		a.callsByCredential[key]++
		a.callsByEndpoint[r.Pattern]++
		if !allowed {
			a.throttled++
		}
		e.mu.Unlock()
		w.Header().Set("X-Gorgias-Account-Api-Call-Limit", strconv.Itoa(used)+"/"+strconv.Itoa(limit))
		if !allowed {
			w.Header()["Retry-after"] = []string{strconv.Itoa(retry)}
			writeError(w, http.StatusTooManyRequests, "Too many requests. Please retry in "+strconv.Itoa(retry)+" seconds.")
			return
		}
		h(w, r, p)
	}
}

// authenticateLocked checks Basic email:api_key or a Bearer access token.
func (e *Emulator) authenticateLocked(r *http.Request, a *account) (principal, bool) {
	auth := r.Header.Get("Authorization")
	if email, key, ok := r.BasicAuth(); ok {
		u := a.apiKeys[key]
		if u == nil || !strings.EqualFold(u.Email, email) {
			return principal{}, false
		}
		return principal{user: u}, true
	}
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, false
	}
	claims, ok := e.verifyJWT(strings.TrimSpace(tok))
	if !ok {
		return principal{}, false
	}
	if claims.Exp <= e.now().Unix() || e.revoked[claims.JTI] || claims.Iss != issuer(a.Domain) {
		return principal{}, false
	}
	u := a.userByID(claims.Sub)
	if u == nil {
		return principal{}, false
	}
	return principal{user: u, oauth: true, clientID: claims.Azp}, true
}

// ---- leaky bucket ------------------------------------------------------------

// leakyBucket holds up to capacity calls and drains completely in window
// (capacity/window calls per second).
type leakyBucket struct {
	capacity float64
	window   time.Duration
	level    float64
	last     time.Time
}

// take admits one call when it fits. used is the level after the call
// (rounded up); retry the whole seconds until one call fits (≥ 1).
func (b *leakyBucket) take(now time.Time) (ok bool, used, retry int) {
	rate := b.capacity / b.window.Seconds()
	if !b.last.IsZero() {
		if dt := now.Sub(b.last).Seconds(); dt > 0 {
			b.level = math.Max(0, b.level-dt*rate)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.level+1 > b.capacity+1e-9 {
		wait := (b.level + 1 - b.capacity) / rate
		retry = int(math.Ceil(wait))
		retry = max(1, min(retry, int(math.Ceil(b.window.Seconds()))))
		return false, int(math.Ceil(b.capacity)), retry
	}
	b.level++
	return true, int(math.Min(math.Ceil(b.level-1e-9), b.capacity)), 0
}

// routes registers every route.
func (e *Emulator) routes() {
	m := e.mux
	e.kit.Control(m, e.state, e.reset)
	m.HandleFunc("POST /_emulator/accounts", e.handleAddAccount)
	m.HandleFunc("POST /_emulator/seed", e.handleSeed)
	m.HandleFunc("POST /_emulator/flush", func(w http.ResponseWriter, r *http.Request) {
		e.Flush()
		emukit.WriteJSON(w, http.StatusOK, map[string]string{"status": "flushed"})
	})
	m.HandleFunc("POST /_emulator/oauth/clients", e.handleAddClient)

	m.HandleFunc("GET /oauth/authorize", e.handleAuthorize)
	m.HandleFunc("POST /oauth/authorize", e.handleAuthorizeDecision)
	m.HandleFunc("POST /oauth/token", e.handleToken)
	m.HandleFunc("POST /oauth/revoke", e.handleRevoke)

	m.HandleFunc("GET /api/account", e.api(e.getAccount))
	m.HandleFunc("GET /api/users/{id}", e.api(e.getUser))

	m.HandleFunc("GET /api/customers", e.api(e.listCustomers))
	m.HandleFunc("POST /api/customers", e.api(e.createCustomer))
	m.HandleFunc("PUT /api/customers/merge", e.api(e.mergeCustomers))
	m.HandleFunc("GET /api/customers/{id}", e.api(e.getCustomer))
	m.HandleFunc("PUT /api/customers/{id}", e.api(e.updateCustomer))
	m.HandleFunc("DELETE /api/customers/{id}", e.api(e.deleteCustomer))
	m.HandleFunc("PUT /api/customers/{id}/data", e.api(e.setCustomerData))

	m.HandleFunc("GET /api/integrations", e.api(e.listIntegrations))
	m.HandleFunc("POST /api/integrations", e.api(e.createIntegration))
	m.HandleFunc("GET /api/integrations/{id}", e.api(e.getIntegration))
	m.HandleFunc("PUT /api/integrations/{id}", e.api(e.updateIntegration))
	m.HandleFunc("DELETE /api/integrations/{id}", e.api(e.deleteIntegration))

	m.HandleFunc("GET /api/widgets", e.api(e.listWidgets))
	m.HandleFunc("POST /api/widgets", e.api(e.createWidget))
	m.HandleFunc("GET /api/widgets/{id}", e.api(e.getWidget))
	m.HandleFunc("PUT /api/widgets/{id}", e.api(e.updateWidget))
	m.HandleFunc("DELETE /api/widgets/{id}", e.api(e.deleteWidget))

	m.HandleFunc("GET /api/macros", e.api(e.listMacros))
	m.HandleFunc("POST /api/macros", e.api(e.createMacro))
	m.HandleFunc("GET /api/macros/{id}", e.api(e.getMacro))
	m.HandleFunc("PUT /api/macros/{id}", e.api(e.updateMacro))
	m.HandleFunc("DELETE /api/macros/{id}", e.api(e.deleteMacro))

	m.HandleFunc("GET /api/tickets", e.api(e.listTickets))
	m.HandleFunc("POST /api/tickets", e.api(e.createTicket))
	m.HandleFunc("GET /api/tickets/{id}", e.api(e.getTicket))
	m.HandleFunc("PUT /api/tickets/{id}", e.api(e.updateTicket))
	m.HandleFunc("POST /api/tickets/{id}/macros/{macro}/apply", e.api(e.applyMacroAPI))
	m.HandleFunc("GET /api/tickets/{id}/messages", e.api(e.listTicketMessages))
	m.HandleFunc("POST /api/tickets/{id}/messages", e.api(e.createMessage))
	m.HandleFunc("GET /api/tickets/{id}/messages/{mid}", e.api(e.getMessage))
	m.HandleFunc("POST /api/tickets/{id}/tags", e.api(e.ticketTags))
	m.HandleFunc("PUT /api/tickets/{id}/tags", e.api(e.ticketTags))
	m.HandleFunc("DELETE /api/tickets/{id}/tags", e.api(e.ticketTags))
	m.HandleFunc("GET /api/messages", e.api(e.listMessages))
	m.HandleFunc("GET /api/tags", e.api(e.listTags))
	m.HandleFunc("GET /api/events", e.api(e.listEvents))

	m.HandleFunc("GET /app", e.handleAppIndex)
	m.HandleFunc("GET /app/ticket/{id}", e.handleAgentTicket)
	m.HandleFunc("POST /app/ticket/{id}/macros/{macro}/apply", e.handleAgentApply)
	m.HandleFunc("GET /app/customer/{id}", e.handleAgentCustomer)
}
