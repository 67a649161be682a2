package whiplash

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Default credentials (SPEC §4).
const (
	DefaultClientID     = "switchyard"
	DefaultClientSecret = "whiplash-app-secret"
	DefaultCustomerID   = 1
)

// Config configures the emulator. The zero value is a useful standalone
// emulator: the default OAuth app, customer 1 with stores 1, 2, 3 and 200
// orders from the last 14 days.
type Config struct {
	// Now is the emulator's clock (tokens, rate limits, default times).
	// Defaults to time.Now.
	Now func() time.Time
	// Seed makes fixtures, faults and simulations reproducible.
	Seed uint64
	// Logger defaults to a discarding logger.
	Logger *slog.Logger

	// ClientID and ClientSecret of the default OAuth application
	// (default switchyard / whiplash-app-secret). The application's secret
	// signs webhooks of the subscriptions it creates.
	ClientID, ClientSecret string
	// AutoApprove makes GET /oauth/authorize redirect with a code at once
	// instead of showing the consent page (also per request with
	// ?auto_approve=true).
	AutoApprove bool
	// AllowClientCredentials enables the client_credentials grant
	// (UNCONFIRMED for third-party apps; off by default).
	AllowClientCredentials bool
	// TokenTTL is the access-token lifetime (default 2 h, expires_in 7200).
	TokenTTL time.Duration
	// KeepRefreshToken keeps a refresh token valid after use; by default it
	// is rotated (a new one is issued and the old one revoked).
	KeepRefreshToken bool

	// Fixtures seeds orders at start. Nil seeds 200 orders over the 14 days
	// before Now for the default customer's stores; &SeedOptions{} seeds none.
	Fixtures *SeedOptions

	// DefaultPerPage (default 50) and MaxPerPage (default 50; larger
	// per_page values are clamped, with no error) size list pages.
	// Whiplash documents no maximum; its own gem never asks for more than
	// 50, so a client that relies on more would fail here first.
	DefaultPerPage, MaxPerPage int
	// LenientSearch ignores unknown search predicates and sort fields, as
	// ransack does by default; the emulator answers 422 otherwise, which
	// catches client bugs.
	LenientSearch bool
	// SearchLocation reads search times that carry no offset. Nil means
	// US Eastern with daylight saving.
	SearchLocation *time.Location
	// RateLimit enables a V1-style leaky bucket per customer (off when
	// Capacity is 0).
	RateLimit LeakyBucket
	// ErrorField names the error-envelope field (default "message"; the
	// official gem reads "error").
	ErrorField string

	// WebhookSecret signs deliveries to TargetURL (default ClientSecret).
	WebhookSecret string
	// TargetURL, when set, receives every order event besides the
	// notification subscriptions (an emulator convenience).
	TargetURL string
	// HTTPClient posts webhooks (default: 10 s timeout).
	HTTPClient *http.Client
	// MaxAttempts per webhook delivery (default 10).
	MaxAttempts int
	// RetryBackoff is the wait before attempt n+1 after attempt n failed.
	// Default: 1 s doubling, capped at 1 min.
	RetryBackoff func(attempt int) time.Duration
	// DeactivateAfter consecutive failed attempts a subscription is
	// deactivated (default 100).
	DeactivateAfter int
	// SenderConcurrency is the number of delivery workers for events outside
	// simulations (default 4). Deliveries of one order stay in order.
	SenderConcurrency int
	// DuplicateRate is the share of events (outside simulations) sent twice.
	DuplicateRate float64
	// StringIDsEvery makes every n-th order (by id; default 3, negative
	// none) render id, customer_id and order_items[].id as numeric JSON
	// strings, as a JSON API may, so clients must read both.
	StringIDsEvery int
	// SpecificEventsOnly sends only the specific event of a transition
	// (order.shipped, …) instead of order.status_changed plus it.
	SpecificEventsOnly bool
}

// SeedOptions describes generated fixture orders.
type SeedOptions struct {
	// Seed of the generator (default: Config.Seed).
	Seed uint64 `json:"seed"`
	// Orders to create.
	Orders int `json:"orders"`
	// CustomerID owning them (default 1).
	CustomerID int64 `json:"customer_id"`
	// Stores to spread them over (default: all of the customer's stores).
	Stores []int64 `json:"stores"`
	// From is the start of the creation window (default Now − Days).
	From time.Time `json:"from"`
	// Days is the window length (default 14).
	Days int `json:"days"`
	// Append keeps existing orders (default: seeding replaces all orders).
	Append bool `json:"append"`
}

// Emulator is the Whiplash (RyderShip V2) emulator, one http.Handler.
type Emulator struct {
	cfg    Config
	kit    *emukit.Kit
	log    *slog.Logger
	mux    *http.ServeMux
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	sender *sender
	stats  senderStats // every delivery, simulations included

	mu        sync.Mutex
	rng       *rand.Rand
	customers map[int64]*customer
	clients   map[string]*oauthClient
	codes     map[string]*authCode
	tokens    map[string]*accessToken
	refresh   map[string]*refreshToken
	orders    *orderStore
	ids       ids
	subs      map[int64]*subscription
	nextSub   int64
	target    target
	held      map[int64][]*delivery
	buckets   map[int64]*bucketState
	rl        LeakyBucket
	sims      []*simRun
}

type customer struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Stores []store `json:"stores"`
}

type store struct {
	ID     int64  `json:"id"`
	Domain string `json:"shop_domain"`
}

type oauthClient struct {
	ID, Secret string
	CustomerID int64
}

type target struct {
	URL, Secret string
}

// New returns an emulator with the default account and fixtures.
func New(cfg Config) *Emulator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = cfg.ClientSecret
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 2 * time.Hour
	}
	if cfg.DefaultPerPage <= 0 {
		cfg.DefaultPerPage = 50
	}
	if cfg.MaxPerPage <= 0 {
		cfg.MaxPerPage = 50
	}
	if cfg.StringIDsEvery == 0 {
		cfg.StringIDsEvery = 3
	}
	if cfg.ErrorField == "" {
		cfg.ErrorField = "message"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = defaultBackoff
	}
	if cfg.DeactivateAfter <= 0 {
		cfg.DeactivateAfter = 100
	}
	if cfg.SenderConcurrency <= 0 {
		cfg.SenderConcurrency = 4
	}
	e := &Emulator{
		cfg: cfg,
		kit: emukit.New(cfg.Now, cfg.Seed),
		log: cfg.Logger,
		mux: http.NewServeMux(),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.resetLocked()
	e.sender = newSender(e, cfg.SenderConcurrency, nil)
	e.routes()
	return e
}

func defaultBackoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 6)
	return min(d, time.Minute)
}

// resetLocked restores the default account, clears tokens, subscriptions and
// state, and re-seeds the configured fixtures.
func (e *Emulator) resetLocked() {
	e.rng = rand.New(rand.NewPCG(e.cfg.Seed, 0x3779b97f4a7c15))
	e.customers = map[int64]*customer{DefaultCustomerID: {
		ID: DefaultCustomerID, Name: "Demo Merch Co",
		Stores: []store{{1, "demo-store-1.myshopify.com"}, {2, "demo-store-2.myshopify.com"}, {3, "demo-store-3.myshopify.com"}},
	}}
	e.clients = map[string]*oauthClient{e.cfg.ClientID: {ID: e.cfg.ClientID, Secret: e.cfg.ClientSecret, CustomerID: DefaultCustomerID}}
	e.codes = map[string]*authCode{}
	e.tokens = map[string]*accessToken{}
	e.refresh = map[string]*refreshToken{}
	e.orders = newOrderStore()
	e.ids = newIDs()
	e.subs = map[int64]*subscription{}
	e.nextSub = 0
	e.target = target{URL: e.cfg.TargetURL, Secret: e.cfg.WebhookSecret}
	e.held = map[int64][]*delivery{}
	e.buckets = map[int64]*bucketState{}
	e.rl = e.cfg.RateLimit
	for _, s := range e.sims {
		s.cancel()
	}
	e.sims = nil
	seed := SeedOptions{Orders: 200}
	if e.cfg.Fixtures != nil {
		seed = *e.cfg.Fixtures
	}
	if _, err := e.seedLocked(seed); err != nil {
		e.log.Warn("whiplash emulator: fixtures not seeded", slog.String("error", err.Error()))
	}
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Close stops the webhook workers and running simulations. It is safe to
// call more than once.
func (e *Emulator) Close() {
	e.once.Do(func() {
		e.cancel()
		e.sender.close()
	})
}

// Seed generates orders as described (see SeedOptions) and returns how many
// were created.
func (e *Emulator) Seed(opt SeedOptions) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seedLocked(opt)
}

func (e *Emulator) seedLocked(opt SeedOptions) (int, error) {
	if opt.Orders < 0 || opt.Orders > 2_000_000 {
		return 0, fmt.Errorf("orders must be between 0 and 2000000, got %d", opt.Orders)
	}
	if opt.Seed == 0 {
		opt.Seed = e.cfg.Seed
	}
	if opt.CustomerID == 0 {
		opt.CustomerID = DefaultCustomerID
	}
	cu, ok := e.customers[opt.CustomerID]
	if !ok {
		return 0, fmt.Errorf("unknown customer %d", opt.CustomerID)
	}
	stores, err := cu.pick(opt.Stores)
	if err != nil {
		return 0, err
	}
	if opt.Days <= 0 {
		opt.Days = 14
	}
	end := e.cfg.Now()
	if opt.From.IsZero() {
		opt.From = end.AddDate(0, 0, -opt.Days)
	} else {
		end = opt.From.AddDate(0, 0, opt.Days)
	}
	if !opt.Append {
		e.orders = newOrderStore()
		e.ids = newIDs()
		e.held = map[int64][]*delivery{}
	}
	f := emukit.NewFake(opt.Seed)
	r := rand.New(rand.NewPCG(opt.Seed, 0xf1c7))
	span := end.Sub(opt.From)
	batch := make([]*Order, 0, opt.Orders)
	for i := range opt.Orders {
		st := stores[i%len(stores)]
		created := opt.From.Add(time.Duration(r.Int64N(int64(span))))
		if i <= 1 { // the two fixed shipped orders start early so they ship inside the window
			created = opt.From.Add(time.Duration(i+1) * time.Minute)
		}
		o := newOrder(f, &e.ids, int64(e.cfg.StringIDsEvery), cu.ID, st.ID, st.Domain, created)
		p := planLifecycle(r, created)
		switch i {
		case 0: // always one shipped order with packages and tracking
			p = forceShipped(p, true)
		case 1: // and one shipped with empty tracking (B2)
			p = forceShipped(p, false)
		}
		for j, s := range p.steps {
			if j > 0 && s.at.After(end) && i > 1 {
				break
			}
			setStatus(o, s.status, s.at, r, &e.ids, p.tracked, p.split) // o is not published yet
			if i <= 1 && s.status == StatusShipped {
				break
			}
		}
		batch = append(batch, o)
	}
	e.orders.putAll(batch)
	return opt.Orders, nil
}

// forceShipped rewrites a plan so the order ends shipped.
func forceShipped(p plan, tracked bool) plan {
	p.tracked = tracked
	var out []step
	for _, s := range p.steps {
		if s.status == StatusCancelled {
			break
		}
		out = append(out, s)
	}
	if out[len(out)-1].status < StatusShipped {
		last := out[len(out)-1].at
		for _, st := range []int{StatusPrinted, StatusPicked, StatusPacked, StatusLabelPurchased, StatusShipped} {
			if st > out[len(out)-1].status {
				last = last.Add(30 * time.Minute)
				out = append(out, step{st, last})
			}
		}
	}
	p.steps = out
	return p
}

// pick returns the customer's stores with the given ids (all when empty).
func (c *customer) pick(ids []int64) ([]store, error) {
	if len(ids) == 0 {
		if len(c.Stores) == 0 {
			return nil, fmt.Errorf("customer %d has no stores", c.ID)
		}
		return c.Stores, nil
	}
	var out []store
	for _, id := range ids {
		i := slices.IndexFunc(c.Stores, func(s store) bool { return s.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("store %d does not belong to customer %d", id, c.ID)
		}
		out = append(out, c.Stores[i])
	}
	return out, nil
}

// writeErr writes the V2 error envelope.
func (e *Emulator) writeErr(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, map[string]string{e.cfg.ErrorField: msg})
}

func (e *Emulator) routes() {
	m := e.mux
	m.HandleFunc("GET /.well-known/oauth-authorization-server", e.handleMetadata)
	m.HandleFunc("GET /oauth/authorize", e.handleAuthorize)
	m.HandleFunc("POST /oauth/authorize", e.handleAuthorizeDecision)
	m.HandleFunc("POST /oauth/token", e.handleToken)

	m.Handle("GET /api/v2/orders", e.api(false, e.handleListOrders))
	m.Handle("GET /api/v2/orders/count", e.api(false, e.handleCountOrders))
	m.Handle("GET /api/v2/orders/{id}", e.api(false, e.handleGetOrder))
	m.Handle("GET /api/v2/notification_events", e.api(false, e.handleListEvents))
	m.Handle("GET /api/v2/notification_subscriptions", e.api(false, e.handleListSubs))
	m.Handle("POST /api/v2/notification_subscriptions", e.api(true, e.handleCreateSub))
	m.Handle("GET /api/v2/notification_subscriptions/{id}", e.api(false, e.handleGetSub))
	m.Handle("PUT /api/v2/notification_subscriptions/{id}", e.api(true, e.handleUpdateSub))
	m.Handle("DELETE /api/v2/notification_subscriptions/{id}", e.api(true, e.handleDeleteSub))
	m.Handle("GET /api/v2/notification_subscriptions/{id}/test", e.api(false, e.handleTestSub))
	m.Handle("/api/", e.api(false, func(w http.ResponseWriter, r *http.Request, _ *principal) {
		e.writeErr(w, http.StatusNotFound, "Not Found")
	}))

	e.kit.Control(m, e.state, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.resetLocked()
	})
	e.controlRoutes()
}

// principal is the authenticated caller of an API request.
type principal struct {
	customer *customer
	clientID string
	scope    string
	shopID   int64 // X-SHOP-ID scoping, 0 for all
}

func (p *principal) canWrite() bool { return strings.Contains(p.scope, "manage") }

// api wraps an API handler with fault injection, bearer auth, customer/shop
// scoping headers and the optional rate limit.
func (e *Emulator) api(write bool, h func(http.ResponseWriter, *http.Request, *principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.kit.Inject(w, r, e.writeErr) {
			return
		}
		p, status, msg := e.authenticate(r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="Whiplash", error="invalid_token"`)
			}
			e.writeErr(w, status, msg)
			return
		}
		if wait, ok := e.takeRate(p.customer.ID); !ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
			e.writeErr(w, http.StatusTooManyRequests, "Rate limit exceeded")
			return
		}
		if write && !p.canWrite() {
			e.writeErr(w, http.StatusForbidden, "Insufficient scope: "+p.scope+" cannot modify resources")
			return
		}
		h(w, r, p)
	})
}
