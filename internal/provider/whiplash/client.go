package whiplash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"

	"switchyard/internal/provider/oauthstore"
)

// Hosts (the API lives under /api/v2, OAuth under /oauth).
const (
	ProductionURL = "https://www.getwhiplash.com"
	SandboxURL    = "https://sandbox.getwhiplash.com"
)

// Defaults.
const (
	// DefaultRate is the client-side budget per customer in requests per
	// second (V2 limits are unpublished; the vendor's gem does 25/s).
	DefaultRate = 5.0
	// DefaultPerPage is the page size the official gem uses.
	DefaultPerPage = 50
	// DefaultSort keeps page-number pagination stable for backfills.
	DefaultSort = "updated_at asc,id asc"
)

// TokenStore persists the OAuth token of one Whiplash connection. Save is
// called with every new token (exchange, refresh, rotation), so the caller
// keeps the latest refresh token.
type TokenStore = oauthstore.TokenStore

// MemoryTokenStore is a TokenStore in memory (tests, tools).
type MemoryTokenStore = oauthstore.Memory

// Config configures a Client.
type Config struct {
	// BaseURL is the Whiplash host (default ProductionURL).
	BaseURL string
	// APIPath is the API prefix (default "/api/v2"; "/api/v2_1" exists).
	APIPath string
	// ClientID and ClientSecret of the OAuth application.
	ClientID, ClientSecret string
	// RedirectURL registered for the authorization-code flow.
	RedirectURL string
	// Scopes requested (default user_manage; app_read with
	// ClientCredentials).
	Scopes []string
	// ClientCredentials uses the client_credentials grant instead of
	// authorization code + refresh (UNCONFIRMED for third-party apps).
	ClientCredentials bool
	// Tokens loads and saves the connection's token. Required for the
	// authorization-code flow; optional with ClientCredentials.
	Tokens TokenStore
	// CustomerID is the Whiplash customer: the rate budget is
	// "whiplash:<CustomerID>" and, with SendCustomerHeader, it is sent as
	// X-CUSTOMER-ID.
	CustomerID string
	// SendCustomerHeader sends X-CUSTOMER-ID (multi-customer users).
	SendCustomerHeader bool
	// ShopID, when set, is sent as X-SHOP-ID.
	ShopID int64
	// Rate (requests/s, default 5) and Burst (default 5) size the budget.
	Rate  float64
	Burst int
	// BudgetKey, when set, replaces "whiplash:<CustomerID>" as the budget's
	// key (the hub keys budgets by vendor host, account and a credential
	// fingerprint).
	BudgetKey string
	// RefreshLeeway refreshes a token this long before it expires
	// (default 1 min).
	RefreshLeeway time.Duration
	// HTTPClient, Limiter, Recorder, Now and Logger are passed to outbound.
	HTTPClient *http.Client
	Limiter    outbound.Limiter
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// Client calls the Whiplash V2 API for one customer. It is safe for
// concurrent use. Each method makes one attempt per page: retrying is the
// job system's business.
type Client struct {
	baseservice.Archetype
	cfg  Config
	out  *outbound.Client
	auth *oauthAuth
}

// NewClient validates cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if cfg.BaseURL == "" {
		cfg.BaseURL = ProductionURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.APIPath == "" {
		cfg.APIPath = "/api/v2"
	}
	cfg.APIPath = "/" + strings.Trim(cfg.APIPath, "/")
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, domain.Errorf(domain.EINVALID, "whiplash: client id and secret are required")
	}
	if cfg.Tokens == nil && !cfg.ClientCredentials {
		return nil, domain.Errorf(domain.EINVALID, "whiplash: a token store is required for the authorization-code flow")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"user_manage"}
		if cfg.ClientCredentials {
			cfg.Scopes = []string{"app_read"}
		}
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.Rate))
	}
	if cfg.RefreshLeeway <= 0 {
		cfg.RefreshLeeway = time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	account := cfg.CustomerID
	if account == "" {
		account = cfg.ClientID
	}
	if cfg.BudgetKey == "" {
		cfg.BudgetKey = "whiplash:" + account
	}
	c := &Client{Archetype: arch, cfg: cfg}
	c.auth = &oauthAuth{
		c: c,
		conf: &oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL: cfg.BaseURL + "/oauth/authorize", TokenURL: cfg.BaseURL + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
	}
	out, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorWhiplash, Account: account, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Auth: c.auth, Limiter: cfg.Limiter, Recorder: cfg.Recorder, Now: arch.Now, Logger: arch.Logger,
		DefaultBudget: outbound.Budget{Key: cfg.BudgetKey, Rate: cfg.Rate, Burst: cfg.Burst},
		UserAgent:     "switchyard-whiplash",
	})
	if err != nil {
		return nil, fmt.Errorf("error building whiplash client: %w", err)
	}
	c.out = out
	return c, nil
}

// AuthCodeURL is the consent URL to send the merchant to (pass
// oauth2.S256ChallengeOption for PKCE).
func (c *Client) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	return c.auth.conf.AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code for a token and saves it.
func (c *Client) Exchange(ctx context.Context, code string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, error) {
	tok, err := c.auth.conf.Exchange(c.oauthCtx(ctx), code, opts...)
	if err != nil {
		return nil, tokenError("exchanging authorization code", err)
	}
	if err := c.auth.set(ctx, tok); err != nil {
		return nil, err
	}
	return tok, nil
}

func (c *Client) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
}

// ErrNoToken means the connection has no token yet (consent not done).
var ErrNoToken = errors.New("whiplash: no OAuth token stored; complete the authorization first")

// ErrNoRefreshToken means the access token expired or was rejected and
// there is no refresh token: the merchant must authorize again.
var ErrNoRefreshToken = errors.New("whiplash: access token rejected or expired and no refresh token; authorize again")

// oauthAuth is the outbound.Authenticator: bearer token, proactive refresh
// near expiry, refresh after a 401, rotated tokens saved.
type oauthAuth struct {
	c    *Client
	conf *oauth2.Config

	mu         sync.Mutex
	tok        *oauth2.Token
	reactiveAt time.Time // last refresh made by Refresh (after a 401)
}

func (a *oauthAuth) set(ctx context.Context, tok *oauth2.Token) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.saveLocked(ctx, tok)
}

func (a *oauthAuth) saveLocked(ctx context.Context, tok *oauth2.Token) error {
	a.tok = tok
	if a.c.cfg.Tokens != nil {
		if err := a.c.cfg.Tokens.Save(ctx, tok); err != nil {
			return fmt.Errorf("error saving whiplash token: %w", err)
		}
	}
	return nil
}

// Apply implements outbound.Authenticator.
func (a *oauthAuth) Apply(ctx context.Context, req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil && a.c.cfg.Tokens != nil {
		tok, err := a.c.cfg.Tokens.Load(ctx)
		if err != nil {
			return fmt.Errorf("error loading whiplash token: %w", err)
		}
		a.tok = tok
	}
	if a.tok == nil || a.tok.AccessToken == "" || a.expiring(a.tok) {
		if err := a.refreshLocked(ctx); err != nil {
			return err
		}
	}
	req.Header.Set("Authorization", "Bearer "+a.tok.AccessToken)
	return nil
}

func (a *oauthAuth) expiring(t *oauth2.Token) bool {
	return !t.Expiry.IsZero() && !a.c.Now().Add(a.c.cfg.RefreshLeeway).Before(t.Expiry)
}

// Refresh implements outbound.Authenticator (called after a 401). A token
// saved to the store by another process since ours was loaded is adopted
// instead of refreshing; a refresh done by a concurrent 401 in the last two
// seconds is reused, so a burst of 401s costs one refresh.
func (a *oauthAuth) Refresh(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.c.Now()
	if !a.reactiveAt.IsZero() && now.Sub(a.reactiveAt) < 2*time.Second {
		return nil
	}
	if a.c.cfg.Tokens != nil && a.tok != nil {
		stored, err := a.c.cfg.Tokens.Load(ctx)
		if err != nil {
			return fmt.Errorf("error loading whiplash token: %w", err)
		}
		if stored != nil && stored.AccessToken != a.tok.AccessToken && !a.expiring(stored) {
			a.tok = stored
			a.reactiveAt = now
			return nil
		}
	}
	if err := a.refreshLocked(ctx); err != nil {
		return err
	}
	a.reactiveAt = now
	return nil
}

func (a *oauthAuth) refreshLocked(ctx context.Context) error {
	octx := a.c.oauthCtx(ctx)
	var tok *oauth2.Token
	var err error
	if a.c.cfg.ClientCredentials {
		cc := clientcredentials.Config{
			ClientID: a.conf.ClientID, ClientSecret: a.conf.ClientSecret, TokenURL: a.conf.Endpoint.TokenURL,
			Scopes: a.conf.Scopes, AuthStyle: oauth2.AuthStyleInParams,
		}
		tok, err = cc.Token(octx)
		if err != nil {
			return tokenError("fetching client-credentials token", err)
		}
	} else {
		if a.tok == nil {
			return &outbound.Error{Vendor: domain.VendorWhiplash, Endpoint: "POST /oauth/token", Status: http.StatusUnauthorized, Class: domain.ClassAuth, Err: ErrNoToken}
		}
		if a.tok.RefreshToken == "" {
			return &outbound.Error{Vendor: domain.VendorWhiplash, Endpoint: "POST /oauth/token", Status: http.StatusUnauthorized, Class: domain.ClassAuth, Err: ErrNoRefreshToken}
		}
		tok, err = a.conf.TokenSource(octx, &oauth2.Token{RefreshToken: a.tok.RefreshToken}).Token()
		if err != nil {
			return tokenError("refreshing token", err)
		}
	}
	return a.saveLocked(ctx, tok)
}

// tokenError classifies a token-endpoint failure: 4xx (invalid_grant, bad
// client) needs a new consent (auth), anything else is transient.
func tokenError(doing string, err error) error {
	oe := &outbound.Error{Vendor: domain.VendorWhiplash, Endpoint: "POST /oauth/token", Class: domain.ClassTransient, Err: fmt.Errorf("error %s: %w", doing, err)}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		oe.Status = re.Response.StatusCode
		oe.Class = outbound.Classify(oe.Status, nil)
		if oe.Status >= 400 && oe.Status < 500 && oe.Status != http.StatusTooManyRequests {
			oe.Class = domain.ClassAuth
		}
		oe.Body = re.ErrorCode
	} else if errors.Is(err, context.Canceled) {
		oe.Class = domain.ClassCanceled
	}
	return oe
}

// APIError is a failed Whiplash call with the vendor's message.
type APIError struct {
	Status  int
	Message string
	Err     *outbound.Error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("whiplash %s: %s (HTTP %d): %s", e.Err.Endpoint, e.Err.Class, e.Status, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// ErrorMessage extracts the vendor's message from an error body: the spec's
// {"message":…}, the gem's {"error":…} (string or object), OAuth's
// error_description, an errors list, or the raw text.
func ErrorMessage(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"message", "error_description", "error", "errors"} {
			if msg := messageOf(m[k]); msg != "" {
				return msg
			}
		}
	}
	var str string
	if json.Unmarshal(body, &str) == nil && str != "" {
		return str
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func messageOf(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case map[string]any:
		for _, k := range []string{"message", "error", "detail"} {
			if msg := messageOf(x[k]); msg != "" {
				return msg
			}
		}
	case []any:
		var parts []string
		for _, it := range x {
			if msg := messageOf(it); msg != "" {
				parts = append(parts, msg)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// wrapErr turns an outbound error into an APIError carrying the vendor's
// message, inside a domain error for 401/403/404/409/422. errors.As still
// finds the *outbound.Error (class, Retry-After).
func wrapErr(err error) error {
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Status == 0 {
		return err
	}
	ae := &APIError{Status: oe.Status, Message: ErrorMessage([]byte(oe.Body)), Err: oe}
	if ae.Message == "" {
		ae.Message = http.StatusText(oe.Status)
	}
	code := ""
	switch oe.Status {
	case http.StatusUnauthorized:
		code = domain.EUNAUTHORIZED
	case http.StatusForbidden:
		code = domain.EFORBIDDEN
	case http.StatusNotFound:
		code = domain.ENOTFOUND
	case http.StatusConflict:
		code = domain.ECONFLICT
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		code = domain.EINVALID
	default:
		return ae
	}
	return domain.WrapError(code, "whiplash: "+ae.Message, ae)
}

func (c *Client) do(ctx context.Context, method, path, endpoint string, q url.Values, body any, out any) error {
	h := http.Header{"Accept-Version": {"v2"}}
	if c.cfg.SendCustomerHeader && c.cfg.CustomerID != "" {
		h.Set("X-CUSTOMER-ID", c.cfg.CustomerID)
	}
	if c.cfg.ShopID != 0 {
		h.Set("X-SHOP-ID", strconv.FormatInt(c.cfg.ShopID, 10))
	}
	resp, err := c.out.Do(ctx, &outbound.Request{
		Method: method, Path: c.cfg.APIPath + path, Endpoint: method + " " + c.cfg.APIPath + endpoint,
		Query: q, Header: h, JSON: body,
	})
	if err != nil {
		return wrapErr(err)
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := resp.DecodeJSON(out); err != nil {
		return fmt.Errorf("whiplash %s %s: %w", method, endpoint, err)
	}
	return nil
}

// SearchParams filters, sorts and pages order lists. Times are sent with
// their offset.
type SearchParams struct {
	// UpdatedAtGTE / UpdatedAtLT bound updated_at (zero: open).
	UpdatedAtGTE, UpdatedAtLT time.Time
	// CreatedAtGTE / CreatedAtLT bound created_at (zero: open).
	CreatedAtGTE, CreatedAtLT time.Time
	// Status keeps orders with one of these status codes.
	Status []int
	// Email keeps orders shipped to this address.
	Email string
	// ShopID keeps orders of one shop.
	ShopID int64
	// Predicates are extra ransack predicates ("originator_original_id_eq").
	Predicates map[string]any
	// Sort is "field asc|desc[,…]" (default DefaultSort; "-" sends none).
	Sort string
	// Page (default 1) and PerPage (default 50).
	Page, PerPage int
}

const searchTime = "2006-01-02T15:04:05.000-07:00"

// Search returns the search JSON ("" when there is no predicate).
func (p SearchParams) Search() string {
	m := map[string]any{}
	for k, v := range p.Predicates {
		m[k] = v
	}
	set := func(k string, t time.Time) {
		if !t.IsZero() {
			m[k] = t.Format(searchTime)
		}
	}
	set("updated_at_gteq", p.UpdatedAtGTE)
	set("updated_at_lt", p.UpdatedAtLT)
	set("created_at_gteq", p.CreatedAtGTE)
	set("created_at_lt", p.CreatedAtLT)
	if len(p.Status) > 0 {
		m["status_in"] = slices.Clone(p.Status)
	}
	if p.Email != "" {
		m["email_eq"] = p.Email
	}
	if p.ShopID != 0 {
		m["shop_id_eq"] = p.ShopID
	}
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // maps of JSON values always marshal
	return string(b)
}

func (p SearchParams) query(paged bool) url.Values {
	q := url.Values{}
	if s := p.Search(); s != "" {
		q.Set("search", s)
	}
	if !paged {
		return q
	}
	switch p.Sort {
	case "":
		q.Set("sort", DefaultSort)
	case "-":
	default:
		q.Set("sort", p.Sort)
	}
	q.Set("page", strconv.Itoa(max(p.Page, 1)))
	q.Set("per_page", strconv.Itoa(p.perPage()))
	return q
}

func (p SearchParams) perPage() int {
	if p.PerPage <= 0 {
		return DefaultPerPage
	}
	return p.PerPage
}

// ListOrders returns one page of orders.
func (c *Client) ListOrders(ctx context.Context, p SearchParams) ([]Order, error) {
	var out []Order
	if err := c.do(ctx, http.MethodGet, "/orders", "/orders", p.query(true), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CountOrders returns how many orders match p's predicates.
func (c *Client) CountOrders(ctx context.Context, p SearchParams) (int, error) {
	var out struct {
		Count FlexInt `json:"count"`
	}
	if err := c.do(ctx, http.MethodGet, "/orders/count", "/orders/count", p.query(false), nil, &out); err != nil {
		return 0, err
	}
	return int(out.Count), nil
}

// GetOrder returns one order; an unknown id is a domain ENOTFOUND error.
func (c *Client) GetOrder(ctx context.Context, id int64) (*Order, error) {
	var o Order
	if err := c.do(ctx, http.MethodGet, "/orders/"+strconv.FormatInt(id, 10), "/orders/{id}", nil, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Pager walks the pages of an order search until an empty page, or a page
// shorter than the fullest page seen so far. Whiplash documents no maximum
// per_page (its gem asks for 50), so a page shorter than requested is not
// the end by itself: the server may cap the size. Page is the next page to
// fetch, so a backfill can persist it and resume.
type Pager struct {
	c    *Client
	p    SearchParams
	Page int
	done bool
	full int // the most rows a page has had: the server's effective page size
}

// Pager returns a pager starting at p.Page (default 1).
func (c *Client) Pager(p SearchParams) *Pager {
	return &Pager{c: c, p: p, Page: max(p.Page, 1)}
}

// Done reports whether the last page has been read.
func (pg *Pager) Done() bool { return pg.done }

// Next fetches the next page. After the last page it returns nil, nil. On
// error the page is not advanced, so Next can be retried.
func (pg *Pager) Next(ctx context.Context) ([]Order, error) {
	if pg.done {
		return nil, nil
	}
	p := pg.p
	p.Page = pg.Page
	orders, err := pg.c.ListOrders(ctx, p)
	if err != nil {
		return nil, err
	}
	pg.Page++
	pg.full = max(pg.full, len(orders))
	if len(orders) == 0 || len(orders) < pg.full {
		pg.done = true
	}
	return orders, nil
}

// AllOrders iterates over every order of the search, page by page. It stops
// at the first error, which it yields.
func (c *Client) AllOrders(ctx context.Context, p SearchParams) iter.Seq2[Order, error] {
	return func(yield func(Order, error) bool) {
		pg := c.Pager(p)
		for !pg.Done() {
			orders, err := pg.Next(ctx)
			if err != nil {
				yield(Order{}, err)
				return
			}
			for _, o := range orders {
				if !yield(o, nil) {
					return
				}
			}
		}
	}
}

// NotificationEvent is an entry of the notification-event catalogue.
type NotificationEvent struct {
	ID                   FlexInt `json:"id"`
	Name                 string  `json:"name"`
	HumanizedName        string  `json:"humanized_name"`
	ResourceType         string  `json:"resource_type"`
	ResourceMessage      string  `json:"resource_message"`
	RequiresSubscription bool    `json:"requires_subscription"`
	Description          string  `json:"description"`
}

// ListNotificationEvents returns the catalogue of notification events,
// every page of it.
func (c *Client) ListNotificationEvents(ctx context.Context) ([]NotificationEvent, error) {
	return listAll[NotificationEvent](ctx, c, "/notification_events")
}

// maxListPages bounds listAll, so a server that ignores page can never keep
// it reading.
const maxListPages = 1000

// listAll reads every page of a bare-array list (page, per_page =
// DefaultPerPage): it stops at an empty page, a page shorter than the
// fullest one seen (the server may cap per_page below what was asked), or a
// page that repeats the previous one (a server that ignores page).
func listAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	var prev json.RawMessage
	full := 0
	for page := 1; page <= maxListPages; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(DefaultPerPage)}}
		var raw []json.RawMessage
		if err := c.do(ctx, http.MethodGet, path, path, q, nil, &raw); err != nil {
			return nil, err
		}
		if len(raw) == 0 || (prev != nil && string(raw[0]) == string(prev)) {
			return all, nil
		}
		prev = raw[0]
		for i, r := range raw {
			var v T
			if err := json.Unmarshal(r, &v); err != nil {
				return nil, fmt.Errorf("whiplash GET %s page %d row %d: %w", path, page, i, err)
			}
			all = append(all, v)
		}
		full = max(full, len(raw))
		if len(raw) < full {
			return all, nil
		}
	}
	return nil, fmt.Errorf("whiplash GET %s: more than %d pages", path, maxListPages)
}

// Subscription is a notification subscription.
type Subscription struct {
	ID                  FlexInt `json:"id"`
	NotificationEventID FlexInt `json:"notification_event_id"`
	NotificationType    string  `json:"notification_type"`
	Endpoint            string  `json:"endpoint"`
	CustomerID          FlexInt `json:"customer_id"`
	UserID              FlexInt `json:"user_id"`
	Active              bool    `json:"active"`
	Version             FlexInt `json:"version"`
	CreatedAt           Time    `json:"created_at"`
	UpdatedAt           Time    `json:"updated_at"`
}

// SubscriptionParams creates a subscription.
type SubscriptionParams struct {
	NotificationEventID int64
	Endpoint            string
	// NotificationType defaults to "webhook" (exact value UNCONFIRMED).
	NotificationType string
	CustomerID       int64
	UserID           int64
	// Inactive creates the subscription switched off.
	Inactive bool
	// Version of the payload (default 2, the V2 shape).
	Version int
}

// CreateSubscription subscribes an endpoint to one event. An existing
// identical subscription is a domain ECONFLICT error.
func (c *Client) CreateSubscription(ctx context.Context, p SubscriptionParams) (*Subscription, error) {
	if p.NotificationType == "" {
		p.NotificationType = "webhook"
	}
	if p.Version == 0 {
		p.Version = 2
	}
	body := map[string]any{
		"notification_event_id": p.NotificationEventID, "notification_type": p.NotificationType,
		"endpoint": p.Endpoint, "active": !p.Inactive, "version": p.Version,
	}
	if p.CustomerID != 0 {
		body["customer_id"] = p.CustomerID
	}
	if p.UserID != 0 {
		body["user_id"] = p.UserID
	}
	var out Subscription
	if err := c.do(ctx, http.MethodPost, "/notification_subscriptions", "/notification_subscriptions", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSubscriptions returns the customer's notification subscriptions,
// every page of them.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	return listAll[Subscription](ctx, c, "/notification_subscriptions")
}

// DeleteSubscription removes a subscription; an unknown id is ENOTFOUND.
func (c *Client) DeleteSubscription(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/notification_subscriptions/"+strconv.FormatInt(id, 10), "/notification_subscriptions/{id}", nil, nil, nil)
}

// SetSubscriptionActive switches a subscription on or off (Whiplash
// deactivates one after 100 consecutive failed deliveries).
func (c *Client) SetSubscriptionActive(ctx context.Context, id int64, active bool) error {
	return c.do(ctx, http.MethodPut, "/notification_subscriptions/"+strconv.FormatInt(id, 10), "/notification_subscriptions/{id}", nil, map[string]any{"active": active}, nil)
}

// EnsureSubscriptions subscribes endpoint to each named event that it is not
// subscribed to yet (names are mapped through the catalogue), reactivates
// deactivated ones, and returns the subscriptions for all the names. Unknown names are an EINVALID error.
func (c *Client) EnsureSubscriptions(ctx context.Context, endpoint string, eventNames []string) ([]Subscription, error) {
	events, err := c.ListNotificationEvents(ctx)
	if err != nil {
		return nil, err
	}
	existing, err := c.ListSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]int64{}
	for _, e := range events {
		byName[e.Name] = int64(e.ID)
	}
	var out []Subscription
	for _, name := range eventNames {
		id, ok := byName[name]
		if !ok {
			return out, domain.Errorf(domain.EINVALID, "whiplash has no notification event %q", name)
		}
		i := slices.IndexFunc(existing, func(s Subscription) bool {
			return int64(s.NotificationEventID) == id && s.Endpoint == endpoint
		})
		if i >= 0 {
			s := existing[i]
			if !s.Active { // deactivated after failures: switch it back on
				if err := c.SetSubscriptionActive(ctx, int64(s.ID), true); err != nil {
					return out, fmt.Errorf("error reactivating subscription to %s: %w", name, err)
				}
				s.Active = true
			}
			out = append(out, s)
			continue
		}
		s, err := c.CreateSubscription(ctx, SubscriptionParams{NotificationEventID: id, Endpoint: endpoint})
		if err != nil {
			return out, fmt.Errorf("error subscribing to %s: %w", name, err)
		}
		out = append(out, *s)
	}
	return out, nil
}
