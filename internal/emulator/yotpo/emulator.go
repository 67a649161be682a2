// Package yotpo emulates the two Yotpo APIs switchyard reads: Loyalty &
// Referrals (formerly Swell) and Reviews/UGC, plus the Connect page of the
// install flow and the escalation webhooks.
//
// Emulated (see docs/assumptions/yotpo.md for every unconfirmed choice):
//   - Loyalty: x-guid + x-api-key auth, GET /api/v2/customers?customer_email=
//     (404 when unknown; with_history, with_referral_code), GET /api/v2/campaigns.
//   - Reviews: POST /oauth/token (client_credentials, authorization_code and
//     refresh_token, form or JSON bodies), GET /v1/apps/{app_key}/reviews
//     (page/count ≤ 100, since_updated_at, deleted, user_email),
//     GET /v1/apps/{app_key}/questions, GET /reviews/{id}, GET /questions/{id},
//     GET /core/v3/stores/{store_id}/customers (yotpo_ugc summary, email or
//     external_ids filter), GET /core/v3/stores/{store_id}/products (page_info
//     cursor, external_ids), GET /products/{app_key}/{sku}/bottomline, the
//     public widget GET /v1/widget/{app_key}/products/{sku}/reviews.json,
//     POST /reviews/{id}/comments, POST /questions/{id}/answers, and the legacy
//     webhooks POST|GET /apps/{app_key}/webhooks, DELETE /apps/{app_key}/webhooks/{id}.
//   - Escalations: POST /_emulator/escalate marks a review or question
//     escalated and delivers review_escalated / question_escalated to the
//     subscribed webhooks (optionally signed).
//   - Connect: GET /oauth/authorize renders a Connect page; its form posts
//     back and redirects to redirect_uri with code and state (AutoApprove or
//     auto_approve=1 skips the page). The code exchange answers a refresh
//     token whose refresh_token grant lists the products the account has
//     now (EnableProduct adds one later).
//   - Rate limits: fixed one-minute windows per app key (5,000) and per GUID
//     (600, assumed), answered 429 with Retry-After.
//   - Control: /_emulator/state, /_emulator/faults, /_emulator/reset,
//     /_emulator/accounts, /_emulator/seed, /_emulator/escalate.
//
// Not emulated: the Yotpo login screen, loyalty writes (redemptions, orders,
// customer create), review creation through the public API, core v3
// webhook_subscriptions, GDPR endpoints, image/video UGC.
package yotpo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Default credentials (SPEC §4).
const (
	DefaultGUID   = "demo-guid"
	DefaultAPIKey = "yotpo-loyalty-key"
	DefaultAppKey = "demo-app"
	DefaultSecret = "yotpo-secret"
)

// Config configures the emulator. The zero value is a useful standalone
// emulator with the default account and 20 random customers.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seed makes fixtures and injected faults deterministic.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Customers is the number of random customers of the default account
	// (default 20; negative means none).
	Customers int
	// Emails are seeded with both Loyalty and Reviews data.
	Emails []string
	// LoyaltyOnly and ReviewsOnly emails get data in one product only.
	LoyaltyOnly []string
	ReviewsOnly []string
	// AutoApprove makes GET /oauth/authorize redirect at once, without the
	// Connect page.
	AutoApprove bool
	// TokenTTL is the lifetime of access tokens (default 24 h, assumption).
	TokenTTL time.Duration
	// ReviewsPerMinute is the per-app-key limit (default 5,000).
	ReviewsPerMinute int
	// LoyaltyPerMinute is the per-GUID limit (default 600, assumption).
	LoyaltyPerMinute int
	// WebhookURL, when set, is subscribed to every escalation event of the
	// default account; WebhookSecret signs those deliveries.
	WebhookURL    string
	WebhookSecret string
	// HTTPClient sends webhooks (default: 10 s timeout).
	HTTPClient *http.Client
}

// Emulator is the Yotpo emulator. It is an http.Handler.
type Emulator struct {
	cfg Config
	kit *emukit.Kit
	mux *http.ServeMux
	log *slog.Logger

	mu         sync.Mutex
	stores     []*store
	tokens     map[string]tokenInfo
	codes      map[string]codeInfo
	refresh    map[string]int // Connect refresh token → account index
	windows    map[string]*window
	deliveries []Delivery
	nextHook   int64
	pending    emukit.Pending

	queue  chan delivery
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type tokenInfo struct {
	appKey  string
	expires time.Time
}

type codeInfo struct {
	acct     int
	redirect string
	clientID string
	expires  time.Time
}

type window struct {
	start time.Time
	n     int
}

// New returns an emulator with the default account.
func New(cfg Config) *Emulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Customers == 0 {
		cfg.Customers = 20
	}
	if cfg.Customers < 0 {
		cfg.Customers = 0
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.ReviewsPerMinute <= 0 {
		cfg.ReviewsPerMinute = 5000
	}
	if cfg.LoyaltyPerMinute <= 0 {
		cfg.LoyaltyPerMinute = 600
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	e := &Emulator{cfg: cfg, kit: emukit.New(cfg.Now, cfg.Seed), mux: http.NewServeMux(), log: cfg.Logger,
		queue: make(chan delivery, 256)}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.resetLocked()
	e.routes()
	e.wg.Add(1)
	go e.deliverLoop()
	return e
}

// DefaultAccount returns the SPEC §4 account.
func DefaultAccount() Account {
	return Account{Name: "Demo Store", GUID: DefaultGUID, APIKey: DefaultAPIKey, AppKey: DefaultAppKey, Secret: DefaultSecret}
}

func (e *Emulator) resetLocked() {
	a := DefaultAccount()
	a.Customers = e.cfg.Customers
	s := generate(a, e.cfg.Seed, e.cfg.Now(), e.cfg.Emails, e.cfg.LoyaltyOnly, e.cfg.ReviewsOnly)
	if e.cfg.WebhookURL != "" {
		for _, ev := range webhookEvents {
			e.nextHook++
			s.webhooks = append(s.webhooks, &Webhook{ID: e.nextHook, URL: e.cfg.WebhookURL, EventName: ev, Secret: e.cfg.WebhookSecret})
		}
	}
	e.stores = []*store{s}
	e.tokens = map[string]tokenInfo{}
	e.codes = map[string]codeInfo{}
	e.refresh = map[string]int{}
	e.windows = map[string]*window{}
	e.deliveries = nil
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

// Kit exposes the fault-injection kit (tests set faults directly).
func (e *Emulator) Kit() *emukit.Kit { return e.kit }

// AddAccount adds an account and generates its fixtures.
func (e *Emulator) AddAccount(a Account) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stores = append(e.stores, generate(a, e.cfg.Seed, e.cfg.Now(), nil, nil, nil))
}

// EnableProduct adds a Yotpo product to an existing account (the one with
// the given app key or GUID, "" = default): Loyalty when guid and apiKey
// are set, Reviews when appKey and secret are. The account's existing
// Connect grants see the new product on their next refresh. It reports
// whether the account was found.
func (e *Emulator) EnableProduct(account string, a Account) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.storeByAny(account)
	if s == nil {
		return false
	}
	if a.GUID != "" && a.APIKey != "" {
		s.acct.GUID, s.acct.APIKey = a.GUID, a.APIKey
	}
	if a.AppKey != "" && a.Secret != "" && s.acct.AppKey == "" {
		s.acct.AppKey, s.acct.Secret = a.AppKey, a.Secret
	}
	return true
}

// SeedEmail adds (or regenerates) deterministic data for email in the
// account with the given app key or GUID ("" = default account).
func (e *Emulator) SeedEmail(account, email string, loyalty, reviews bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.storeByAny(account)
	if s == nil {
		return
	}
	s.dropEmail(email)
	s.seedEmail(e.cfg.Seed, e.cfg.Now(), email, loyalty, reviews)
}

func (s *store) dropEmail(email string) {
	email = normEmail(email)
	delete(s.loyalty, email)
	rs := s.reviews[:0]
	for _, r := range s.reviews {
		if normEmail(r.Email) != email {
			rs = append(rs, r)
		}
	}
	s.reviews = rs
	qs := s.questions[:0]
	for _, q := range s.questions {
		if normEmail(q.Email) != email {
			qs = append(qs, q)
		}
	}
	s.questions = qs
}

func (e *Emulator) storeByAny(key string) *store {
	if key == "" {
		return e.stores[0]
	}
	for _, s := range e.stores {
		if s.acct.AppKey == key || s.acct.GUID == key || s.acct.Name == key {
			return s
		}
	}
	return nil
}

func (e *Emulator) storeByAppKey(k string) *store {
	if k == "" {
		return nil
	}
	for _, s := range e.stores {
		if s.acct.AppKey == k {
			return s
		}
	}
	return nil
}

// allow counts one call against key's one-minute window; it returns the
// wait until the window resets when the limit is exceeded.
func (e *Emulator) allow(key string, limit int) (time.Duration, bool) {
	now := e.cfg.Now()
	w := e.windows[key]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &window{start: now}
		e.windows[key] = w
	}
	if w.n >= limit {
		return w.start.Add(time.Minute).Sub(now), false
	}
	w.n++
	return 0, true
}

func retryAfter(d time.Duration) string {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return itoa(s)
}

func randToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func itoa(i int) string { return strconv.Itoa(i) }

// state is the JSON dump of /_emulator/state.
func (e *Emulator) state() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	type acctState struct {
		Account   Account                     `json:"account"`
		Loyalty   map[string]*LoyaltyCustomer `json:"loyalty"`
		Reviews   []*Review                   `json:"reviews"`
		Questions []*Question                 `json:"questions"`
		Products  []*Product                  `json:"products"`
		Webhooks  []*Webhook                  `json:"webhooks"`
	}
	out := struct {
		Accounts   []acctState `json:"accounts"`
		Tokens     int         `json:"active_tokens"`
		Deliveries []Delivery  `json:"deliveries"`
	}{Tokens: len(e.tokens), Deliveries: append([]Delivery(nil), e.deliveries...)}
	for _, s := range e.stores {
		a := s.acct
		a.APIKey, a.Secret = redact(a.APIKey), redact(a.Secret)
		st := acctState{Account: a, Loyalty: s.loyalty, Reviews: s.reviews, Questions: s.questions, Webhooks: s.webhooks}
		for _, k := range s.prodOrder {
			st.Products = append(st.Products, s.products[k])
		}
		out.Accounts = append(out.Accounts, st)
	}
	// Marshal under the lock: the handlers mutate these records.
	b, err := json.Marshal(out)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return json.RawMessage(b)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

func (e *Emulator) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetLocked()
}

// LoyaltyOf returns a copy of email's loyalty record in the default account.
func (e *Emulator) LoyaltyOf(email string) (LoyaltyCustomer, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.stores[0].loyalty[normEmail(email)]
	if !ok {
		return LoyaltyCustomer{}, false
	}
	return *c, true
}

// Reviews returns copies of the default account's reviews (deleted ones
// included), oldest id first.
func (e *Emulator) Reviews() []Review {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Review, 0, len(e.stores[0].reviews))
	for _, r := range e.stores[0].reviews {
		cp := *r
		cp.Comments = append([]Comment(nil), r.Comments...)
		out = append(out, cp)
	}
	return out
}

// Questions returns copies of the default account's questions.
func (e *Emulator) Questions() []Question {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Question, 0, len(e.stores[0].questions))
	for _, q := range e.stores[0].questions {
		cp := *q
		cp.Answers = append([]Comment(nil), q.Answers...)
		out = append(out, cp)
	}
	return out
}

// Products returns copies of the default account's catalogue.
func (e *Emulator) Products() []Product {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Product
	for _, k := range e.stores[0].prodOrder {
		out = append(out, *e.stores[0].products[k])
	}
	return out
}

// Deliveries returns the webhook delivery log.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Delivery(nil), e.deliveries...)
}
