package shopify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Webhook topics the emulator sends.
const (
	TopicOrdersCreate   = "orders/create"
	TopicOrdersUpdated  = "orders/updated"
	TopicAppUninstalled = "app/uninstalled"
)

// Webhook headers.
const (
	HeaderHmac        = "X-Shopify-Hmac-Sha256"
	HeaderTopic       = "X-Shopify-Topic"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderEventID     = "X-Shopify-Event-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
	HeaderAPIVersion  = "X-Shopify-API-Version"
)

// Delivery records one webhook delivery.
type Delivery struct {
	ID        string    `json:"id"`
	Topic     string    `json:"topic"`
	Shop      string    `json:"shop"`
	Address   string    `json:"address"`
	Status    int       `json:"status"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type delivery struct {
	id, topic, shop, address, secret, eventID string
	at                                        time.Time
	body                                      []byte
}

// enqueueLocked queues topic for o to every matching subscription of s.
func (e *Emulator) enqueueLocked(s *shopState, topic string, o *Order) {
	body, _ := json.Marshal(restOrder(o, s.domain))
	e.enqueueBodyLocked(s, topic, "", body)
}

// enqueueBodyLocked queues body as topic to the subscriptions of s, only
// those of clientID when it is set.
func (e *Emulator) enqueueBodyLocked(s *shopState, topic, clientID string, body []byte) {
	eventID := randHex(8)
	for _, h := range s.webhooks {
		if h.Topic != topic || (clientID != "" && h.ClientID != clientID) {
			continue
		}
		a := e.app(h.ClientID)
		if a == nil {
			continue
		}
		d := delivery{id: randHex(12), topic: topic, shop: s.domain, address: h.Address, secret: a.Secret, eventID: eventID,
			at: e.cfg.Now().UTC(), body: body}
		e.deliveries = append(e.deliveries, Delivery{ID: d.id, Topic: topic, Shop: s.domain, Address: h.Address, CreatedAt: d.at})
		select {
		case e.queue <- d:
			e.pending.Add()
		default:
			e.log.Warn("shopify emulator webhook queue full, dropping", slog.String("topic", topic))
		}
	}
}

func (e *Emulator) deliverLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case d := <-e.queue:
			e.deliver(d)
		}
	}
}

func (e *Emulator) deliver(d delivery) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Shopify-Captain-Hook")
	h.Set(HeaderTopic, d.topic)
	h.Set(HeaderShopDomain, d.shop)
	h.Set(HeaderHmac, SignWebhook(d.secret, d.body))
	h.Set(HeaderWebhookID, d.id)
	h.Set(HeaderEventID, d.eventID)
	h.Set(HeaderTriggeredAt, d.at.Format(time.RFC3339Nano))
	h.Set(HeaderAPIVersion, DefaultAPIVersion)
	status, attempts, errMsg := emukit.PostWithRetries(e.ctx, e.cfg.HTTPClient, d.address, h, d.body, 3, 200*time.Millisecond)
	e.mu.Lock()
	for i := range e.deliveries {
		if e.deliveries[i].ID == d.id {
			e.deliveries[i].Status, e.deliveries[i].Attempts, e.deliveries[i].Error = status, attempts, errMsg
		}
	}
	e.mu.Unlock()
	e.pending.Done()
}

// WaitIdle blocks until every queued webhook delivery has finished (or ctx ends).
func (e *Emulator) WaitIdle(ctx context.Context) error { return e.pending.Wait(ctx) }

// Subscribe registers address for topic on shop ("" = default).
func (e *Emulator) Subscribe(shop, topic, address string) error {
	if topic != TopicOrdersCreate && topic != TopicOrdersUpdated && topic != TopicAppUninstalled {
		return errString("topic must be orders/create, orders/updated or app/uninstalled")
	}
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errString("address must be an absolute http(s) URL")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return errString("unknown shop")
	}
	e.nextHook++
	s.webhooks = append(s.webhooks, &webhookSub{ID: e.nextHook, Topic: topic, Address: address, ClientID: e.cfg.ClientID})
	return nil
}

// UpgradeFinalSale marks lines of an order final sale (all lines when
// lineIDs is empty), as the Together app does, and sends orders/updated.
func (e *Emulator) UpgradeFinalSale(shop string, orderID int64, lineIDs []int64) (Order, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return Order{}, errString("unknown shop")
	}
	for _, o := range s.orders {
		if o.ID != orderID {
			continue
		}
		for _, id := range lineIDs {
			found := false
			for _, li := range o.LineItems {
				found = found || li.ID == id
			}
			if !found {
				return Order{}, errString("line item " + itoa64(id) + " is not on the order")
			}
		}
		now := e.cfg.Now().UTC().Truncate(time.Second)
		upgrade(o, lineIDs, now, "TOGETHER-"+strings.ToUpper(randHex(2)))
		o.UpdatedAt = now
		e.enqueueLocked(s, TopicOrdersUpdated, o)
		return *o.clone(), nil
	}
	return Order{}, errString("order not found")
}

// NewOrder is the body of POST /_emulator/orders.
type NewOrder struct {
	Shop      string     `json:"shop"`
	Email     string     `json:"email"`
	FirstName string     `json:"first_name"`
	LastName  string     `json:"last_name"`
	CreatedAt *time.Time `json:"created_at"`
	LineItems []struct {
		Title     string `json:"title"`
		SKU       string `json:"sku"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
		FinalSale bool   `json:"final_sale"`
	} `json:"line_items"`
}

// CreateOrder adds an order and sends orders/create.
func (e *Emulator) CreateOrder(n NewOrder) (Order, error) {
	if !strings.Contains(n.Email, "@") {
		return Order{}, errString("email is required")
	}
	if len(n.LineItems) == 0 {
		return Order{}, errString("line_items are required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(n.Shop)
	if s == nil {
		return Order{}, errString("unknown shop")
	}
	now := e.cfg.Now().UTC().Truncate(time.Second)
	created := now
	if n.CreatedAt != nil {
		created = n.CreatedAt.UTC()
	}
	var lines []LineItem
	var final []int
	for i, l := range n.LineItems {
		if l.Quantity <= 0 {
			l.Quantity = 1
		}
		if l.Price == "" {
			l.Price = "25.00"
		}
		if l.Title == "" {
			l.Title = l.SKU
		}
		lines = append(lines, LineItem{Title: l.Title, SKU: l.SKU, Quantity: l.Quantity, Price: l.Price,
			ProductID: int64(8000000000 + hash64(l.SKU)%1000000), VariantID: int64(4000000000 + hash64(l.SKU)%1000000)})
		if l.FinalSale {
			final = append(final, i)
		}
	}
	p := emukitPerson(n.Email, n.FirstName, n.LastName)
	o := s.newOrder(p, created, lines, now)
	if len(final) > 0 {
		var ids []int64
		for _, i := range final {
			ids = append(ids, o.LineItems[i].ID)
		}
		upgrade(o, ids, created, "TOGETHER-"+strings.ToUpper(randHex(2)))
	}
	s.orders = append(s.orders, o)
	e.enqueueLocked(s, TopicOrdersCreate, o)
	return *o.clone(), nil
}

// SeedEmail adds the guaranteed fixtures of email to shop ("" = default).
func (e *Emulator) SeedEmail(shop, email string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.shop(shop)
	if s == nil {
		return errString("unknown shop")
	}
	s.seedEmail(e.cfg.Seed, e.cfg.Now(), email)
	return nil
}

// ---- control handlers ----

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		ctlErr(w, http.StatusBadRequest, "body must be JSON: "+err.Error())
		return false
	}
	return true
}

func (e *Emulator) ctlAccounts(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shop         string   `json:"shop"`
		Customers    int      `json:"customers"`
		Emails       []string `json:"emails"`
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		AppURL       string   `json:"app_url"`
	}
	if !decode(w, r, &req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]any{}
	if req.Shop != "" {
		if !strings.HasSuffix(req.Shop, ".myshopify.com") {
			ctlErr(w, http.StatusBadRequest, "shop must be <name>.myshopify.com")
			return
		}
		if e.shop(req.Shop) != nil {
			ctlErr(w, http.StatusConflict, "shop already exists")
			return
		}
		e.shops = append(e.shops, e.newShop(req.Shop, req.Customers, req.Emails))
		out["shop"] = req.Shop
	}
	if req.ClientID != "" {
		if req.ClientSecret == "" || e.app(req.ClientID) != nil {
			ctlErr(w, http.StatusConflict, "app exists or has no client_secret")
			return
		}
		e.apps = append(e.apps, &app{ClientID: req.ClientID, Secret: req.ClientSecret, AppURL: req.AppURL})
		out["client_id"] = req.ClientID
	}
	if len(out) == 0 {
		ctlErr(w, http.StatusBadRequest, "give shop and/or client_id")
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, out)
}

func (e *Emulator) ctlSeed(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shop   string   `json:"shop"`
		Emails []string `json:"emails"`
	}
	if !decode(w, r, &req) {
		return
	}
	for _, em := range req.Emails {
		if err := e.SeedEmail(req.Shop, em); err != nil {
			ctlErr(w, http.StatusNotFound, err.Error())
			return
		}
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]any{"seeded": len(req.Emails)})
}

func (e *Emulator) ctlCreateOrder(w http.ResponseWriter, r *http.Request) {
	var n NewOrder
	if !decode(w, r, &n) {
		return
	}
	o, err := e.CreateOrder(n)
	if err != nil {
		ctlErr(w, http.StatusBadRequest, err.Error())
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, restOrder(&o, e.cfg.Shop))
}

func (e *Emulator) ctlFinalSale(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		ctlErr(w, http.StatusBadRequest, "bad order id")
		return
	}
	var req struct {
		Shop        string  `json:"shop"`
		LineItemIDs []int64 `json:"line_item_ids"`
	}
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	o, err := e.UpgradeFinalSale(req.Shop, id, req.LineItemIDs)
	if err != nil {
		ctlErr(w, http.StatusNotFound, err.Error())
		return
	}
	emukit.WriteJSON(w, http.StatusOK, restOrder(&o, e.cfg.Shop))
}

func (e *Emulator) ctlToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shop     string `json:"shop"`
		Scopes   string `json:"scopes"`
		Expiring bool   `json:"expiring"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Scopes == "" {
		req.Scopes = "read_orders,read_customers"
	}
	if req.Expiring {
		e.mu.Lock()
		defer e.mu.Unlock()
		s := e.shop(req.Shop)
		if s == nil {
			ctlErr(w, http.StatusNotFound, "unknown shop")
			return
		}
		emukit.WriteJSON(w, http.StatusCreated, e.issueExpiringLocked(s.domain, e.cfg.ClientID, req.Scopes, "").json(req.Scopes))
		return
	}
	tok := e.IssueToken(req.Shop, strings.Split(req.Scopes, ",")...)
	if tok == "" {
		ctlErr(w, http.StatusNotFound, "unknown shop")
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, map[string]string{"access_token": tok, "scope": req.Scopes})
}

func (e *Emulator) ctlWebhook(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Shop    string `json:"shop"`
		Topic   string `json:"topic"`
		Address string `json:"address"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := e.Subscribe(req.Shop, req.Topic, req.Address); err != nil {
		ctlErr(w, http.StatusBadRequest, err.Error())
		return
	}
	emukit.WriteJSON(w, http.StatusCreated, req)
}

func (e *Emulator) ctlInstall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appURL := q.Get("app_url")
	if appURL == "" {
		e.mu.Lock()
		appURL = e.apps[0].AppURL
		e.mu.Unlock()
	}
	u, err := e.InstallURL(q.Get("shop"), appURL)
	if err != nil {
		ctlErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.Get("format") == "json" {
		emukit.WriteJSON(w, http.StatusOK, map[string]string{"url": u})
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}
