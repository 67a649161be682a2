package whiplash

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"switchyard/internal/emulator/emukit"
)

func sortCustomers(cs []*customer) {
	slices.SortFunc(cs, func(a, b *customer) int { return int(a.ID - b.ID) })
}

func sortInt64(v []int64) { slices.Sort(v) }

// Account is a customer added through AddAccount / POST /_emulator/accounts,
// optionally with its own OAuth application.
type Account struct {
	CustomerID   int64   `json:"customer_id"`
	Name         string  `json:"name"`
	Stores       []int64 `json:"stores"`
	ClientID     string  `json:"client_id,omitempty"`
	ClientSecret string  `json:"client_secret,omitempty"`
}

// AddAccount adds a customer with its stores (store ids must be unused) and,
// when ClientID is set, an OAuth application bound to it.
func (e *Emulator) AddAccount(a Account) error {
	if a.CustomerID <= 0 {
		return errors.New("customer_id must be positive")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.customers[a.CustomerID]; ok {
		return fmt.Errorf("customer %d already exists", a.CustomerID)
	}
	used := map[int64]bool{}
	for _, c := range e.customers {
		for _, s := range c.Stores {
			used[s.ID] = true
		}
	}
	c := &customer{ID: a.CustomerID, Name: a.Name}
	if c.Name == "" {
		c.Name = fmt.Sprintf("Customer %d", a.CustomerID)
	}
	for _, id := range a.Stores {
		if id <= 0 || used[id] {
			return fmt.Errorf("store %d is invalid or already used", id)
		}
		used[id] = true
		c.Stores = append(c.Stores, store{ID: id, Domain: fmt.Sprintf("store-%d.myshopify.com", id)})
	}
	if a.ClientID != "" {
		if _, ok := e.clients[a.ClientID]; ok {
			return fmt.Errorf("client %q already exists", a.ClientID)
		}
		if a.ClientSecret == "" {
			return errors.New("client_secret is required with client_id")
		}
		e.clients[a.ClientID] = &oauthClient{ID: a.ClientID, Secret: a.ClientSecret, CustomerID: a.CustomerID}
	}
	e.customers[c.ID] = c
	return nil
}

// SetWebhookTarget sets the catch-all webhook target (url "" removes it;
// secret "" means Config.WebhookSecret).
func (e *Emulator) SetWebhookTarget(url, secret string) {
	if secret == "" {
		secret = e.cfg.WebhookSecret
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.target = target{URL: url, Secret: secret}
}

// TransitionOptions modify one ad-hoc status change.
type TransitionOptions struct {
	// Hold keeps this transition's webhooks back until the order's next
	// transition, which is then delivered first (out of order).
	Hold bool `json:"hold"`
	// Duplicate sends every webhook of the transition twice (same bytes).
	Duplicate bool `json:"duplicate"`
	// NoTracking ships without tracking numbers.
	NoTracking bool `json:"no_tracking"`
}

// ErrNotFound is returned for unknown orders and stores.
var ErrNotFound = errors.New("not found")

// Transition moves an order to status at Now and sends its webhooks.
func (e *Emulator) Transition(orderID int64, status int, opt TransitionOptions) (Order, error) {
	if StatusName(status) == "" {
		return Order{}, fmt.Errorf("unknown status %d", status)
	}
	e.mu.Lock()
	o := e.orders.get(orderID)
	if o == nil {
		e.mu.Unlock()
		return Order{}, fmt.Errorf("order %d: %w", orderID, ErrNotFound)
	}
	n := applyStatus(o, status, e.cfg.Now(), e.rng, &e.ids, !opt.NoTracking, false)
	e.orders.put(n)
	ds, err := e.eventsLocked(n, false, opt)
	e.mu.Unlock()
	if err != nil {
		return Order{}, err
	}
	e.sender.enqueue(ds...)
	return *n, nil
}

// CreateOrder creates a generated order in a store of the default customer
// (or the store's customer) at Now and sends order.created.
func (e *Emulator) CreateOrder(storeID int64, email string) (Order, error) {
	e.mu.Lock()
	var cu *customer
	var st store
	for _, c := range e.customers {
		if i := slices.IndexFunc(c.Stores, func(s store) bool { return s.ID == storeID }); i >= 0 {
			cu, st = c, c.Stores[i]
		}
	}
	if cu == nil {
		e.mu.Unlock()
		return Order{}, fmt.Errorf("store %d: %w", storeID, ErrNotFound)
	}
	now := e.cfg.Now()
	f := emukit.NewFake(e.rng.Uint64())
	o := newOrder(f, &e.ids, int64(e.cfg.StringIDsEvery), cu.ID, st.ID, st.Domain, now)
	if email != "" {
		o.Email = email
	}
	setStatus(o, StatusProcessing, now, e.rng, &e.ids, true, false)
	e.orders.put(o)
	ds, err := e.eventsLocked(o, true, TransitionOptions{})
	e.mu.Unlock()
	if err != nil {
		return Order{}, err
	}
	e.sender.enqueue(ds...)
	return *o, nil
}

// eventsLocked renders and routes a transition's events for the global
// sender, applying hold/duplicate options and releasing held deliveries.
func (e *Emulator) eventsLocked(o *Order, created bool, opt TransitionOptions) ([]*delivery, error) {
	var ds []*delivery
	for _, name := range e.eventNames(created, int(o.Status)) {
		body, err := webhookBody(name, o)
		if err != nil {
			return nil, fmt.Errorf("error rendering webhook: %w", err)
		}
		for _, d := range e.routeLocked(name, o, body) {
			ds = append(ds, d)
			if opt.Duplicate || (e.cfg.DuplicateRate > 0 && e.rng.Float64() < e.cfg.DuplicateRate) {
				c := *d
				ds = append(ds, &c)
			}
		}
	}
	id := int64(o.ID)
	held := e.held[id]
	delete(e.held, id)
	if opt.Hold {
		e.held[id] = append(held, ds...)
		return nil, nil
	}
	return append(ds, held...), nil
}

// stateDump is GET /_emulator/state.
type stateDump struct {
	Customers      []*customer               `json:"customers"`
	Orders         int                       `json:"orders"`
	ByStatus       map[string]int            `json:"orders_by_status"`
	ByStore        map[string]int            `json:"orders_by_store"`
	Subscriptions  []subscription            `json:"subscriptions"`
	Sender         SenderStats               `json:"sender"`
	WebhookTarget  string                    `json:"webhook_target,omitempty"`
	HeldDeliveries int                       `json:"held_deliveries"`
	RateLimit      LeakyBucket               `json:"rate_limit"`
	Tokens         int                       `json:"tokens"`
	Simulations    []SimStatus               `json:"simulations"`
	Counts         map[string]map[string]int `json:"orders_by_store_and_status"`
}

func (e *Emulator) state() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := stateDump{
		Orders: e.orders.len(), ByStatus: map[string]int{}, ByStore: map[string]int{},
		Counts: map[string]map[string]int{}, Subscriptions: []subscription{},
		Sender: e.stats.snapshot(), WebhookTarget: e.target.URL, RateLimit: e.rl, Tokens: len(e.tokens),
		Simulations: []SimStatus{},
	}
	for _, c := range e.customers {
		d.Customers = append(d.Customers, c)
	}
	sortCustomers(d.Customers)
	for _, o := range e.orders.all {
		st := fmt.Sprintf("%d %s", o.Status, o.StatusName)
		sh := strconv.FormatInt(int64(o.ShopID), 10)
		d.ByStatus[st]++
		d.ByStore[sh]++
		if d.Counts[sh] == nil {
			d.Counts[sh] = map[string]int{}
		}
		d.Counts[sh][st]++
	}
	for _, s := range e.subs {
		d.Subscriptions = append(d.Subscriptions, *s)
	}
	slices.SortFunc(d.Subscriptions, func(a, b subscription) int { return int(a.ID - b.ID) })
	for _, h := range e.held {
		d.HeldDeliveries += len(h)
	}
	for _, s := range e.sims {
		d.Simulations = append(d.Simulations, s.status())
	}
	return d
}

func (e *Emulator) controlRoutes() {
	m := e.mux
	bad := func(w http.ResponseWriter, err error) {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	m.HandleFunc("POST /_emulator/seed", func(w http.ResponseWriter, r *http.Request) {
		var opt SeedOptions
		if err := decodeBody(r, &opt); err != nil {
			bad(w, err)
			return
		}
		n, err := e.Seed(opt)
		if err != nil {
			bad(w, err)
			return
		}
		emukit.WriteJSON(w, http.StatusOK, map[string]int{"seeded": n, "orders": e.orderCount()})
	})
	m.HandleFunc("POST /_emulator/accounts", func(w http.ResponseWriter, r *http.Request) {
		var a Account
		if err := decodeBody(r, &a); err != nil {
			bad(w, err)
			return
		}
		if err := e.AddAccount(a); err != nil {
			emukit.WriteJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		a.ClientSecret = ""
		emukit.WriteJSON(w, http.StatusCreated, a)
	})
	m.HandleFunc("POST /_emulator/webhook_target", func(w http.ResponseWriter, r *http.Request) {
		var t struct {
			URL    string `json:"url"`
			Secret string `json:"secret"`
		}
		if err := decodeBody(r, &t); err != nil {
			bad(w, err)
			return
		}
		if t.URL != "" && !validEndpoint(t.URL) {
			bad(w, errors.New("url must be an absolute http(s) URL"))
			return
		}
		e.SetWebhookTarget(t.URL, t.Secret)
		emukit.WriteJSON(w, http.StatusOK, map[string]string{"url": t.URL})
	})
	m.HandleFunc("POST /_emulator/orders", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			StoreID int64  `json:"store_id"`
			Email   string `json:"email"`
		}
		if err := decodeBody(r, &in); err != nil {
			bad(w, err)
			return
		}
		if in.StoreID == 0 {
			in.StoreID = 1
		}
		o, err := e.CreateOrder(in.StoreID, in.Email)
		if err != nil {
			emukit.WriteJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		emukit.WriteJSON(w, http.StatusCreated, o)
	})
	m.HandleFunc("POST /_emulator/orders/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Status int `json:"status"`
			TransitionOptions
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err == nil {
			err = decodeBody(r, &in)
		}
		if err != nil {
			bad(w, err)
			return
		}
		o, err := e.Transition(id, in.Status, in.TransitionOptions)
		switch {
		case errors.Is(err, ErrNotFound):
			emukit.WriteJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			bad(w, err)
		default:
			emukit.WriteJSON(w, http.StatusOK, o)
		}
	})
	m.HandleFunc("POST /_emulator/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		emukit.WriteJSON(w, http.StatusOK, map[string]int{"expired": e.ExpireTokens()})
	})
	m.HandleFunc("POST /_emulator/ratelimit", func(w http.ResponseWriter, r *http.Request) {
		var rl LeakyBucket
		if err := decodeBody(r, &rl); err != nil {
			bad(w, err)
			return
		}
		if rl.Capacity < 0 || rl.LeakPerSecond < 0 {
			bad(w, errors.New("capacity and leak_per_second must be ≥ 0"))
			return
		}
		e.SetRateLimit(rl)
		emukit.WriteJSON(w, http.StatusOK, rl)
	})
	m.HandleFunc("POST /_emulator/flush", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Flush(r.Context()); err != nil {
			emukit.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		emukit.WriteJSON(w, http.StatusOK, e.Stats())
	})
	m.HandleFunc("POST /_emulator/simulate", e.handleSimulate)
	m.HandleFunc("GET /_emulator/simulations/{id}", e.handleGetSimulation)
}

func (e *Emulator) orderCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.orders.len()
}

// Order returns the current state of an order.
func (e *Emulator) Order(id int64) (Order, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.orders.get(id)
	if o == nil {
		return Order{}, false
	}
	return *o, true
}

// DecodeOrder renders an order as GET /api/v2/orders/{id} does and decodes
// that JSON into v (a client's order type, say), so callers see the wire
// form, string ids included. It reports false for an unknown order.
func (e *Emulator) DecodeOrder(id int64, v any) (bool, error) {
	o, ok := e.Order(id)
	if !ok {
		return false, nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return true, fmt.Errorf("error rendering order %d: %w", id, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("error decoding order %d: %w", id, err)
	}
	return true, nil
}

// Subscription is a read-only view of a notification subscription.
type Subscription struct {
	ID                  int64
	EventName           string
	Endpoint            string
	Active              bool
	ConsecutiveFailures int
}

// Subscriptions lists the notification subscriptions.
func (e *Emulator) Subscriptions() []Subscription {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Subscription
	for _, s := range e.subs {
		out = append(out, Subscription{s.ID, s.EventName, s.Endpoint, s.Active, s.ConsecutiveFailures})
	}
	slices.SortFunc(out, func(a, b Subscription) int { return int(a.ID - b.ID) })
	return out
}

// timeOrZero parses an RFC 3339 string ("" is zero).
func timeOrZero(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}
