package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// DefaultAPIVersion is the Admin API version the client asks for: a
// supported stable version (each is supported for at least 12 months).
const DefaultAPIVersion = "2026-07"

// DefaultBudget paces requests per shop; the points budget is handled by
// the GraphQL throttleStatus, this only caps the request rate.
func DefaultBudget(shop string) outbound.Budget {
	return outbound.Budget{Key: "shopify:" + shop + ":graphql", Rate: 10, Burst: 10}
}

// Config configures a GraphQL client for one shop.
type Config struct {
	// Shop is <name>.myshopify.com; AccessToken its offline token, used
	// as is (a non-expiring token) when Tokens is nil.
	Shop        string
	AccessToken string
	// Tokens holds an expiring offline token, refreshed with OAuth before
	// it expires (RefreshBefore, default 2 min) or after a 401; the new
	// token (and rotated refresh token) is saved there before it is used.
	Tokens TokenStore
	OAuth  *OAuth
	// RefreshLock serialises refreshes; share one between every client of
	// the same shop token (default: one per client).
	RefreshLock   sync.Locker
	RefreshBefore time.Duration
	// BaseURL defaults to "https://"+Shop.
	BaseURL string
	// APIVersion defaults to DefaultAPIVersion.
	APIVersion string
	// Budget defaults to DefaultBudget(Shop).
	Budget outbound.Budget
	// Reserve is the share of maximumAvailable kept free: before a call,
	// the client waits until the projected bucket holds the call's
	// expected cost plus the reserve (default 0.1).
	Reserve float64
	// PageSize (orders per page, default 10) and LineItemPageSize (default
	// 10) keep a page's requested cost under 500 points.
	PageSize         int
	LineItemPageSize int
	// FinalSale says how final-sale lines are recognised.
	FinalSale  FinalSaleRule
	HTTPClient *http.Client
	Limiter    outbound.Limiter
	Recorder   outbound.Recorder
	Now        func() time.Time
	Logger     *slog.Logger
}

// ThrottleStatus is extensions.cost.throttleStatus.
type ThrottleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

// Cost is extensions.cost.
type Cost struct {
	RequestedQueryCost int            `json:"requestedQueryCost"`
	ActualQueryCost    *int           `json:"actualQueryCost"`
	ThrottleStatus     ThrottleStatus `json:"throttleStatus"`
}

// GraphQLError is one entry of a response's errors.
type GraphQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code.
func (e GraphQLError) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// GraphQLErrors is a failed GraphQL response.
type GraphQLErrors []GraphQLError

func (e GraphQLErrors) Error() string {
	msgs := make([]string, 0, len(e))
	for _, x := range e {
		m := x.Message
		if c := x.Code(); c != "" {
			m += " (" + c + ")"
		}
		msgs = append(msgs, m)
	}
	return "graphql: " + strings.Join(msgs, "; ")
}

// Client is a Shopify Admin GraphQL client for one shop.
type Client struct {
	baseservice.Archetype
	cfg Config
	c   *outbound.Client

	mu       sync.Mutex
	status   ThrottleStatus
	statusAt time.Time
	lastCost map[string]int
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if !ValidShop(cfg.Shop) {
		return nil, domain.WrapError(domain.EINVALID, "invalid shop domain", ErrBadShop)
	}
	if cfg.AccessToken == "" && cfg.Tokens == nil {
		return nil, domain.Errorf(domain.EINVALID, "shopify: access token is required")
	}
	if cfg.Tokens != nil && cfg.OAuth == nil {
		return nil, domain.Errorf(domain.EINVALID, "shopify: a token store needs the OAuth app to refresh its tokens")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://" + cfg.Shop
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.Budget.Key == "" {
		cfg.Budget = DefaultBudget(cfg.Shop)
	}
	if cfg.Reserve <= 0 || cfg.Reserve >= 1 {
		cfg.Reserve = 0.1
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 250 {
		cfg.PageSize = 10
	}
	if cfg.LineItemPageSize <= 0 || cfg.LineItemPageSize > 250 {
		cfg.LineItemPageSize = 10
	}
	cfg.FinalSale = cfg.FinalSale.withDefaults()
	token := cfg.AccessToken
	var auth outbound.Authenticator = outbound.AuthFunc(func(_ context.Context, r *http.Request) error {
		r.Header.Set("X-Shopify-Access-Token", token)
		return nil
	})
	if cfg.Tokens != nil {
		if cfg.RefreshLock == nil {
			cfg.RefreshLock = &sync.Mutex{}
		}
		if cfg.RefreshBefore <= 0 {
			cfg.RefreshBefore = DefaultRefreshBefore
		}
		auth = &tokenAuth{shop: cfg.Shop, store: cfg.Tokens, oauth: cfg.OAuth, lock: cfg.RefreshLock, before: cfg.RefreshBefore, now: arch.Now, log: arch.Logger}
	}
	c, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorShopify, Account: cfg.Shop, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Auth:    auth,
		Limiter: cfg.Limiter, DefaultBudget: cfg.Budget, Recorder: cfg.Recorder, Now: arch.Now, Logger: arch.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating shopify client: %w", err)
	}
	return &Client{Archetype: arch, cfg: cfg, c: c, lastCost: map[string]int{}}, nil
}

// Throttle returns the last throttle status seen and when.
func (c *Client) Throttle() (ThrottleStatus, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.statusAt
}

// projectedLocked is the bucket now, from the last status and the restore rate.
func (c *Client) projectedLocked(now time.Time) float64 {
	if c.statusAt.IsZero() {
		return math.Inf(1)
	}
	p := c.status.CurrentlyAvailable + now.Sub(c.statusAt).Seconds()*c.status.RestoreRate
	return math.Min(p, c.status.MaximumAvailable)
}

// slowDown waits until the projected bucket holds need points plus the
// reserve. With a limiter the wait is a Pause on the budget (shared by
// every caller of the shop); without one it sleeps.
func (c *Client) slowDown(ctx context.Context, need int) error {
	now := c.Now()
	c.mu.Lock()
	avail := c.projectedLocked(now)
	want := float64(need) + c.cfg.Reserve*c.status.MaximumAvailable
	rate := c.status.RestoreRate
	c.mu.Unlock()
	if avail >= want || rate <= 0 {
		return nil
	}
	wait := secs((want - avail) / rate)
	if c.cfg.Limiter != nil {
		c.cfg.Limiter.Pause(c.cfg.Budget, now.Add(wait))
		return nil
	}
	return outbound.Sleep(ctx, wait)
}

func secs(s float64) time.Duration {
	// A throttle status with a tiny restore rate would overflow the
	// duration (to 0 or below: no wait at all); NaN too.
	if !(s < maxWait.Seconds()) {
		return maxWait
	}
	return time.Duration(math.Ceil(s*1000)) * time.Millisecond
}

// maxWait bounds the waits computed from a throttle status.
const maxWait = time.Hour

func (c *Client) observe(cost *Cost) {
	if cost == nil || cost.ThrottleStatus.MaximumAvailable <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.statusAt = cost.ThrottleStatus, c.Now()
}

type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     json.RawMessage `json:"errors"`
	Extensions struct {
		Cost *Cost `json:"cost"`
	} `json:"extensions"`
}

// retryAfter is how long until the bucket holds cost.Requested points.
func retryAfter(cost *Cost) time.Duration {
	if cost == nil || cost.ThrottleStatus.RestoreRate <= 0 {
		return time.Second
	}
	missing := float64(cost.RequestedQueryCost) - cost.ThrottleStatus.CurrentlyAvailable
	if missing <= 0 {
		missing = 1
	}
	return secs(missing / cost.ThrottleStatus.RestoreRate)
}

// Query runs one GraphQL query and decodes data into out. name labels the
// query for cost estimates. A THROTTLED answer (HTTP 200 or 429) is an
// *outbound.Error of class rate_limited whose RetryAfter is the time the
// bucket needs to refill; other GraphQL errors are terminal (transient
// for INTERNAL_SERVER_ERROR).
func (c *Client) Query(ctx context.Context, name, query string, vars map[string]any, out any) (*Cost, error) {
	c.mu.Lock()
	est := c.lastCost[name]
	c.mu.Unlock()
	if err := c.slowDown(ctx, est); err != nil {
		return nil, fmt.Errorf("error waiting for shopify query budget: %w", err)
	}
	endpoint := "POST /admin/api/{version}/graphql.json " + name
	resp, err := c.c.Do(ctx, &outbound.Request{Method: http.MethodPost, Path: "/admin/api/" + c.cfg.APIVersion + "/graphql.json",
		Endpoint: endpoint, JSON: map[string]any{"query": query, "variables": vars}})
	if err != nil {
		var oe *outbound.Error
		if errors.As(err, &oe) && oe.Class == domain.ClassRateLimited {
			var r gqlResponse
			if json.Unmarshal([]byte(oe.Body), &r) == nil && r.Extensions.Cost != nil {
				c.observe(r.Extensions.Cost)
				if oe.RetryAfter <= 0 {
					oe.RetryAfter = retryAfter(r.Extensions.Cost)
				}
			}
			if oe.RetryAfter <= 0 {
				oe.RetryAfter = time.Second
			}
		}
		return nil, err
	}
	var r gqlResponse
	if err := resp.DecodeJSON(&r); err != nil {
		return nil, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: endpoint, Status: resp.Status, Class: domain.ClassTransient, Err: err}
	}
	cost := r.Extensions.Cost
	c.observe(cost)
	if cost != nil {
		c.mu.Lock()
		c.lastCost[name] = cost.RequestedQueryCost
		c.mu.Unlock()
	}
	if len(r.Errors) > 0 && string(r.Errors) != "null" {
		var errs GraphQLErrors
		if err := json.Unmarshal(r.Errors, &errs); err != nil {
			// REST-style {"errors": "..."} on a 200.
			errs = GraphQLErrors{{Message: strings.Trim(string(r.Errors), `"`)}}
		}
		class := domain.ClassTerminal
		var wait time.Duration
		for _, e := range errs {
			switch e.Code() {
			case "THROTTLED":
				class, wait = domain.ClassRateLimited, retryAfter(cost)
			case "INTERNAL_SERVER_ERROR":
				if class != domain.ClassRateLimited {
					class = domain.ClassTransient
				}
			}
		}
		if class == domain.ClassRateLimited && c.cfg.Limiter != nil {
			c.cfg.Limiter.Pause(c.cfg.Budget, c.Now().Add(wait))
		}
		// Partial data with field errors (e.g. ACCESS_DENIED on one field)
		// fails too: a half-read customer is not shown.
		return cost, &outbound.Error{Vendor: domain.VendorShopify, Endpoint: endpoint, Status: resp.Status, Class: class,
			RetryAfter: wait, Body: errs.Error(), Err: errs}
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return cost, fmt.Errorf("error decoding shopify %s data: %w", name, err)
		}
	}
	return cost, nil
}
