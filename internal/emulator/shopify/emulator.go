// Package shopify emulates the parts of the Shopify Admin API switchyard
// uses for the Together (final-sale) connector.
//
// Emulated (see docs/assumptions/shopify.md for unconfirmed choices):
//   - App install: a signed install request (GET /_emulator/install
//     redirects to the app URL with shop, timestamp, host and a hex hmac),
//     GET /admin/oauth/authorize (consent page or auto-approve) redirecting
//     to redirect_uri with code, hmac, host, shop, state and timestamp, and
//     POST /admin/oauth/access_token (JSON or form) trading the single-use
//     code for an offline (or per-user) token with its scopes; with
//     expiring=1 an expiring offline token (1 h) and a rotating refresh
//     token (90 days), renewed by grant_type=refresh_token (tokens.go).
//   - GraphQL: POST /admin/api/{version}/graphql.json with
//     X-Shopify-Access-Token; queries are parsed and validated by gqlparser
//     against admin_schema.graphql, the Admin API subset served (2026-07:
//     QueryRoot.orders / order / customer / shop), so a field Shopify does
//     not have fails with Shopify's error shape; execution from the
//     validated AST (variables, aliases, fragments, @include/@skip),
//     Relay cursors, the orders search syntax
//     (email:, created_at:>=, tag:, …), sortKey/reverse, line-item
//     customAttributes, extensions.cost with a leaky bucket
//     (maximumAvailable 2000, restoreRate 100/s by default) and THROTTLED /
//     MAX_COST_EXCEEDED errors; orders older than 60 days are hidden unless
//     the token has read_all_orders.
//   - Uninstall: DELETE /admin/api_permissions/current.json (also under
//     /admin/api/{version}/) with the app's token, or the merchant's
//     POST /_emulator/uninstall, revokes every token of the app for the
//     shop at once, sends app/uninstalled and drops the app's
//     subscriptions (uninstall.go).
//   - Webhooks: orders/create and orders/updated sent to subscribed
//     addresses with X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw
//     body with the app secret), topic, shop, webhook id, event id,
//     triggered-at and API version headers, retried three times.
//   - Fixtures: deterministic orders over the last 90 days; seeded emails
//     always get a final-sale order older than 60 days, one inside the
//     window and a normal one. POST /_emulator/orders/{id}/final-sale
//     upgrades lines (the Together app's action) and sends orders/updated.
//   - Control: /_emulator/state, /_emulator/faults, /_emulator/reset,
//     /_emulator/accounts, /_emulator/seed, /_emulator/orders,
//     /_emulator/tokens, /_emulator/webhooks, /_emulator/install,
//     /_emulator/uninstall.
//
// Not emulated: REST Admin endpoints, mutations, token exchange for
// embedded apps, GraphQL introspection, Pub/Sub or EventBridge delivery.
package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Default credentials (SPEC §4).
const (
	DefaultShop         = "demo-store.myshopify.com"
	DefaultClientID     = "switchyard"
	DefaultClientSecret = "shopify-app-secret"
	DefaultAPIVersion   = "2025-01"
)

// Config configures the emulator. The zero value is a useful standalone
// emulator: the default shop and app, 20 random customers, a 2000-point
// bucket restoring 100 points/s.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seed makes fixtures and injected faults deterministic.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Shop is the default shop domain (default demo-store.myshopify.com).
	Shop string
	// ClientID and ClientSecret are the default app (switchyard /
	// shopify-app-secret); the secret also signs webhooks and OAuth queries.
	ClientID     string
	ClientSecret string
	// AppURL is where GET /_emulator/install sends the signed install
	// request when no app_url parameter is given.
	AppURL string
	// RedirectURLs, when set, are the allowed OAuth redirect_uri prefixes.
	RedirectURLs []string
	// AutoApprove makes /admin/oauth/authorize redirect at once.
	AutoApprove bool
	// Customers is the number of random customers (default 20; negative: none).
	Customers int
	// Emails get guaranteed fixtures (final sale inside and outside the
	// 60-day window, and a normal order).
	Emails []string
	// BucketSize, RestoreRate and MaxQueryCost size the GraphQL cost limit
	// (defaults 2000 points, 100 points/s, 1000 points per query).
	BucketSize   float64
	RestoreRate  float64
	MaxQueryCost int
	// ThrottleStatus is the HTTP status of a THROTTLED answer (default 200;
	// 429 is also seen in the wild).
	ThrottleStatus int
	// OrderWindowDays hides older orders from tokens without
	// read_all_orders (default 60).
	OrderWindowDays int
	// WebhookURL, when set, subscribes orders/create and orders/updated of
	// the default shop.
	WebhookURL string
	// HTTPClient sends webhooks (default: 10 s timeout).
	HTTPClient *http.Client
	// OfflineTokenTTL is the lifetime of an expiring offline access token
	// (default 1 h); RefreshTokenTTL that of its refresh token (default 90
	// days). Tests set short lifetimes; expires_in reports whole seconds.
	OfflineTokenTTL time.Duration
	RefreshTokenTTL time.Duration
	// RefreshRecovery is how long a used refresh token can be retried while
	// its replacement has not been used (default 30 days); negative makes
	// refresh tokens strictly single-use.
	RefreshRecovery time.Duration
	// RejectNonExpiringFrom, when set, makes the Admin API answer 403 to
	// non-expiring offline tokens from that instant on (Shopify does so for
	// public apps from 2027-01-01).
	RejectNonExpiringFrom time.Time
}

type app struct {
	ClientID  string   `json:"client_id"`
	Secret    string   `json:"-"`
	AppURL    string   `json:"app_url,omitempty"`
	Redirects []string `json:"redirect_urls,omitempty"`
}

type webhookSub struct {
	ID       int64  `json:"id"`
	Topic    string `json:"topic"`
	Address  string `json:"address"`
	ClientID string `json:"client_id"`
}

type shopState struct {
	id        int64
	domain    string
	name      string
	orderDays int
	orders    []*Order
	customers map[string]Customer
	webhooks  []*webhookSub
	nextOrder int64
	nextLine  int64
	nextNum   int
	nextCust  int64
}

type codeInfo struct {
	shop, clientID, scope, redirect string
	perUser                         bool
	expires                         time.Time
}

type bucket struct {
	available float64
	at        time.Time
}

// Emulator is the Shopify emulator. It is an http.Handler.
type Emulator struct {
	cfg       Config
	kit       *emukit.Kit
	resolvers resolverMap
	mux       *http.ServeMux
	log       *slog.Logger

	mu         sync.Mutex
	shops      []*shopState
	apps       []*app
	tokens     map[string]tokenInfo
	refresh    map[string]*refreshInfo
	codes      map[string]codeInfo
	buckets    map[string]*bucket
	deliveries []Delivery
	nextHook   int64
	pending    emukit.Pending

	queue  chan delivery
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns an emulator with the default shop and app.
func New(cfg Config) *Emulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Shop == "" {
		cfg.Shop = DefaultShop
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.Customers == 0 {
		cfg.Customers = 20
	}
	if cfg.Customers < 0 {
		cfg.Customers = 0
	}
	if cfg.BucketSize <= 0 {
		cfg.BucketSize = 2000
	}
	if cfg.RestoreRate <= 0 {
		cfg.RestoreRate = 100
	}
	if cfg.MaxQueryCost <= 0 {
		cfg.MaxQueryCost = 1000
	}
	if cfg.ThrottleStatus == 0 {
		cfg.ThrottleStatus = http.StatusOK
	}
	if cfg.OrderWindowDays <= 0 {
		cfg.OrderWindowDays = defaultOrderDays
	}
	if cfg.OfflineTokenTTL <= 0 {
		cfg.OfflineTokenTTL = DefaultOfflineTokenTTL
	}
	if cfg.RefreshTokenTTL <= 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if cfg.RefreshRecovery == 0 {
		cfg.RefreshRecovery = DefaultRefreshRecovery
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	e := &Emulator{cfg: cfg, kit: emukit.New(cfg.Now, cfg.Seed), mux: http.NewServeMux(), log: cfg.Logger,
		queue: make(chan delivery, 256), resolvers: newResolvers()}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.resetLocked()
	e.routes()
	e.wg.Add(1)
	go e.deliverLoop()
	return e
}

func (e *Emulator) resetLocked() {
	e.apps = []*app{{ClientID: e.cfg.ClientID, Secret: e.cfg.ClientSecret, AppURL: e.cfg.AppURL, Redirects: e.cfg.RedirectURLs}}
	s := e.newShop(e.cfg.Shop, e.cfg.Customers, e.cfg.Emails)
	if e.cfg.WebhookURL != "" {
		for _, t := range []string{TopicOrdersCreate, TopicOrdersUpdated} {
			e.nextHook++
			s.webhooks = append(s.webhooks, &webhookSub{ID: e.nextHook, Topic: t, Address: e.cfg.WebhookURL, ClientID: e.cfg.ClientID})
		}
	}
	e.shops = []*shopState{s}
	e.tokens = map[string]tokenInfo{}
	e.refresh = map[string]*refreshInfo{}
	e.codes = map[string]codeInfo{}
	e.buckets = map[string]*bucket{}
	e.deliveries = nil
}

func (e *Emulator) newShop(domain string, customers int, emails []string) *shopState {
	name := strings.TrimSuffix(domain, ".myshopify.com")
	s := &shopState{id: int64(60000000 + hash64(domain)%1000000), domain: domain, name: titleCase(name),
		orderDays: e.cfg.OrderWindowDays, customers: map[string]Customer{},
		nextOrder: 5000000000, nextLine: 13000000000, nextNum: 1000, nextCust: 7000000000}
	s.generate(e.cfg.Seed, e.cfg.Now(), customers, emails)
	return s
}

func titleCase(s string) string {
	parts := strings.Split(s, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Close stops the webhook sender. It is safe to call twice.
func (e *Emulator) Close() {
	e.once.Do(func() {
		e.cancel()
		e.wg.Wait()
	})
}

// Kit exposes the fault-injection kit.
func (e *Emulator) Kit() *emukit.Kit { return e.kit }

func (e *Emulator) shop(domain string) *shopState {
	if domain == "" {
		return e.shops[0]
	}
	for _, s := range e.shops {
		if strings.EqualFold(s.domain, domain) {
			return s
		}
	}
	return nil
}

func (e *Emulator) app(clientID string) *app {
	for _, a := range e.apps {
		if a.ClientID == clientID {
			return a
		}
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SignQuery returns the hex HMAC-SHA256, keyed with the app's client
// secret, that Shopify puts in the hmac parameter of an install request or
// OAuth callback: the signature of signedMessage(q).
func SignQuery(secret string, q url.Values) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signedMessage(q)))
	return hex.EncodeToString(mac.Sum(nil))
}

// signedMessage is the text Shopify signs for a query, following its
// documented verification rule (golden vectors: internal/testdata/golden/
// shopify):
//   - the hmac and signature parameters are left out;
//   - an array parameter ("ids[]", repeated) is one parameter named without
//     the brackets, its value rendered as Shopify's Rails back end renders
//     an array: ["1", "2"]; a plain key given twice keeps its last value,
//     as Rails does;
//   - "%" and "&" are written %25 and %26 in names and values, "=" %3D in
//     names;
//   - parameters are sorted by name and joined as name=value with "&".
func signedMessage(q url.Values) string {
	params := map[string]string{}
	for name, values := range q {
		if name == "hmac" || name == "signature" || len(values) == 0 {
			continue
		}
		if base, isArray := strings.CutSuffix(name, "[]"); isArray {
			quoted := make([]string, len(values))
			for i, v := range values {
				quoted[i] = rubyInspect(v)
			}
			params[base] = "[" + strings.Join(quoted, ", ") + "]"
			continue
		}
		params[name] = values[len(values)-1]
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	escapeValue := strings.NewReplacer("%", "%25", "&", "%26")
	escapeName := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escapeName.Replace(name))
		b.WriteByte('=')
		b.WriteString(escapeValue.Replace(params[name]))
	}
	return b.String()
}

// rubyInspect quotes s as Ruby's String#inspect does for printable text.
func rubyInspect(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// SignWebhook returns the base64 HMAC-SHA256 of body, as in X-Shopify-Hmac-Sha256.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func hostParam(shop string) string {
	return base64.RawStdEncoding.EncodeToString([]byte("admin.shopify.com/store/" + strings.TrimSuffix(shop, ".myshopify.com")))
}

// InstallURL returns the signed install request Shopify sends to appURL
// when the merchant of shop ("" = default) installs the default app.
func (e *Emulator) InstallURL(shop, appURL string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return "", errString("unknown shop")
	}
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errString("app_url must be an absolute http(s) URL")
	}
	q := u.Query()
	q.Set("shop", s.domain)
	q.Set("timestamp", itoa64(e.cfg.Now().Unix()))
	q.Set("host", hostParam(s.domain))
	q.Set("hmac", SignQuery(e.apps[0].Secret, q))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

type errString string

func (e errString) Error() string { return string(e) }

// Orders returns copies of shop's orders ("" = default), oldest first.
func (e *Emulator) Orders(shop string) []Order {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return nil
	}
	out := make([]Order, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, *o.clone())
	}
	return out
}

// Deliveries returns the webhook delivery log.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Delivery(nil), e.deliveries...)
}

// ThrottleStatus reports the bucket of (shop, app): maximum, currently
// available and restore rate.
func (e *Emulator) ThrottleStatus(shop string) (maximum, available, restore float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return 0, 0, 0
	}
	b := e.bucketLocked(s.domain + "|" + e.cfg.ClientID)
	return e.cfg.BucketSize, b.available, e.cfg.RestoreRate
}

func (e *Emulator) bucketLocked(key string) *bucket {
	now := e.cfg.Now()
	b := e.buckets[key]
	if b == nil {
		b = &bucket{available: e.cfg.BucketSize, at: now}
		e.buckets[key] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.available = min(e.cfg.BucketSize, b.available+el*e.cfg.RestoreRate)
		b.at = now
	}
	return b
}

func (e *Emulator) state() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	type shopOut struct {
		Domain   string        `json:"domain"`
		Name     string        `json:"name"`
		Orders   []*Order      `json:"orders"`
		Webhooks []*webhookSub `json:"webhooks"`
		Bucket   float64       `json:"bucket_available"`
	}
	out := struct {
		Shops      []shopOut  `json:"shops"`
		Apps       []*app     `json:"apps"`
		Tokens     int        `json:"active_tokens"`
		Refresh    int        `json:"refresh_tokens"`
		Deliveries []Delivery `json:"deliveries"`
	}{Apps: e.apps, Tokens: len(e.tokens), Refresh: len(e.refresh), Deliveries: e.deliveries}
	for _, s := range e.shops {
		out.Shops = append(out.Shops, shopOut{Domain: s.domain, Name: s.name, Orders: s.orders, Webhooks: s.webhooks,
			Bucket: e.bucketLocked(s.domain + "|" + e.cfg.ClientID).available})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return json.RawMessage(b)
}

func (e *Emulator) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetLocked()
}

// SetBucket sets the currently available points of (shop, default app),
// so tests can start from a drained bucket.
func (e *Emulator) SetBucket(shop string, available float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return
	}
	b := e.bucketLocked(s.domain + "|" + e.cfg.ClientID)
	b.available = min(available, e.cfg.BucketSize)
}
