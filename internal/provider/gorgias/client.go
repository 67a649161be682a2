// Package gorgias is switchyard's Gorgias helpdesk client: customers and
// customer data, HTTP integrations, widgets, macros, tickets and messages,
// with API-key (Basic) or OAuth2 (Bearer + refresh) authentication, a rate
// budget sized from the contract's leaky bucket and tolerant decoding.
//
// It is built on internal/outbound: every method makes one attempt (plus
// one after a 401 refresh) and returns *outbound.Error-classified errors;
// retrying is the job system's business.
package gorgias

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Published rate limits (reference §2): leaky buckets of these sizes
// draining completely in DefaultWindow (Enterprise: 10 s).
const (
	APIKeyLimit   = 40
	OAuthLimit    = 80
	DefaultWindow = 20 * time.Second
)

// CallLimitHeader carries "<used>/<limit>" on every API answer.
const CallLimitHeader = "X-Gorgias-Account-Api-Call-Limit"

// Errors callers can test with errors.Is. Each carries a domain code
// (domain.IsConflict, domain.IsNotFound…); the *outbound.Error with the
// HTTP status and class stays in the chain.
var (
	ErrNotFound       = domain.Errorf(domain.ENOTFOUND, "gorgias resource not found")
	ErrConflict       = domain.Errorf(domain.ECONFLICT, "gorgias resource conflict")
	ErrDuplicateEmail = domain.Errorf(domain.ECONFLICT, "a Gorgias customer with this email already exists")
	ErrTokenRevoked   = domain.Errorf(domain.EUNAUTHORIZED, "gorgias OAuth refresh token is invalid or revoked")
	// ErrMerged: the customer was merged with another one (301 without a
	// usable Location). Find the customer again by email. Transient when
	// not handled: the retry finds the survivor.
	ErrMerged = domain.Errorf(domain.EUNAVAILABLE, "gorgias customer was merged with another one")
)

// Config configures a Client.
type Config struct {
	// Account is the Gorgias subdomain ("acme" for acme.gorgias.com). Required.
	Account string
	// BaseURL defaults to https://<Account>.gorgias.com; tests point it at
	// the emulator.
	BaseURL string

	// Email and APIKey authenticate with HTTP Basic (private apps).
	Email  string
	APIKey string
	// OAuth and Tokens authenticate with Bearer tokens (public apps); the
	// refreshed token is handed to Tokens.Save. Used when OAuth is set.
	OAuth  *OAuthConfig
	Tokens TokenStore

	// Window is the rate-limit window the budget is scaled to (default
	// 20 s; 10 s for Enterprise accounts; tests scale it down).
	Window time.Duration
	// BudgetKey, when set, replaces the rate budget's key (the hub keys
	// budgets by vendor host, account and a credential fingerprint).
	BudgetKey string

	// HTTPClient is copied; redirects are never followed (301 after a merge
	// is handled by SetCustomerData).
	HTTPClient *http.Client
	// Limiter defaults to an outbound.LocalLimiter.
	Limiter  outbound.Limiter
	Recorder outbound.Recorder
	Now      func() time.Time
	Logger   *slog.Logger
}

// Client talks to one Gorgias account.
type Client struct {
	baseservice.Archetype
	cfg    Config
	out    *outbound.Client
	budget outbound.Budget
	oauth  *OAuth
	// prepaid is spent by the first call (WithReservation).
	prepaid *outbound.Reservation
}

// BaseURLFor returns the production API base URL of an account.
func BaseURLFor(account string) string { return "https://" + account + ".gorgias.com" }

// BudgetFor sizes the rate budget of an account: just under 40 (API key)
// or 80 (OAuth) calls per window — 95 % of the drain rate, a burst of 90 %
// of the bucket. Keys: "gorgias:<account>" and "gorgias:<account>:oauth"
// (the two credential types have separate buckets).
func BudgetFor(account string, oauth bool, window time.Duration) outbound.Budget {
	if window <= 0 {
		window = DefaultWindow
	}
	limit, key := APIKeyLimit, "gorgias:"+account
	if oauth {
		limit, key = OAuthLimit, key+":oauth"
	}
	return outbound.Budget{Key: key, Rate: 0.95 * float64(limit) / window.Seconds(), Burst: limit - limit/10}
}

// ParseCallLimit reads "<used>/<limit>".
func ParseCallLimit(v string) (used, limit int, ok bool) {
	u, l, found := strings.Cut(strings.TrimSpace(v), "/")
	if !found {
		return 0, 0, false
	}
	used, err1 := strconv.Atoi(strings.TrimSpace(u))
	limit, err2 := strconv.Atoi(strings.TrimSpace(l))
	if err1 != nil || err2 != nil || limit <= 0 || used < 0 {
		return 0, 0, false
	}
	return used, limit, true
}

// QuotaFunc returns the outbound quota parser for X-Gorgias-Account-Api-Call-Limit.
// Reset is the time until one call fits again when the bucket is full
// (the bucket drains limit/window calls per second).
func QuotaFunc(window time.Duration) func(http.Header) (outbound.Quota, bool) {
	if window <= 0 {
		window = DefaultWindow
	}
	return func(h http.Header) (outbound.Quota, bool) {
		used, limit, ok := ParseCallLimit(h.Get(CallLimitHeader))
		if !ok {
			return outbound.Quota{}, false
		}
		q := outbound.Quota{Limit: limit, Remaining: max(0, limit-used)}
		if q.Remaining == 0 {
			// At most a window: a full bucket drains in one, however far
			// over the limit a header claims to be (a huge count would
			// overflow the duration into a negative one).
			over := min(used-limit+1, limit)
			q.Reset = time.Duration(float64(over) * float64(window) / float64(limit))
		}
		return q, true
	}
}

// New returns a client for one account.
func New(cfg Config) (*Client, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	cfg.Account = strings.TrimSpace(cfg.Account)
	if cfg.Account == "" {
		return nil, domain.Errorf(domain.EINVALID, "gorgias account (subdomain) is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = BaseURLFor(cfg.Account)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	hc := &http.Client{Timeout: outbound.DefaultTimeout}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.Limiter == nil {
		cfg.Limiter = outbound.NewLocalLimiter(arch.Now)
	}
	c := &Client{Archetype: arch, cfg: cfg}
	var auth outbound.Authenticator
	switch {
	case cfg.OAuth != nil:
		if cfg.Tokens == nil {
			return nil, domain.Errorf(domain.EINVALID, "gorgias OAuth needs a token store")
		}
		c.oauth = NewOAuth(cfg.BaseURL, *cfg.OAuth, hc)
		auth = &oauthAuth{o: c.oauth, store: cfg.Tokens, now: arch.Now, log: arch.Logger}
	case cfg.Email != "" && cfg.APIKey != "":
		email, key := cfg.Email, cfg.APIKey
		auth = outbound.AuthFunc(func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(email, key)
			return nil
		})
	default:
		return nil, domain.Errorf(domain.EINVALID, "gorgias needs an email and API key, or OAuth settings")
	}
	c.budget = BudgetFor(cfg.Account, cfg.OAuth != nil, cfg.Window)
	if cfg.BudgetKey != "" {
		c.budget.Key = cfg.BudgetKey
	}
	out, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorGorgias, Account: cfg.Account, BaseURL: cfg.BaseURL, HTTPClient: hc, Auth: auth,
		Limiter: cfg.Limiter, DefaultBudget: c.budget, Quota: QuotaFunc(cfg.Window), Recorder: cfg.Recorder,
		Now: arch.Now, Logger: arch.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating gorgias client: %w", err)
	}
	c.out = out
	return c, nil
}

// Account returns the subdomain.
func (c *Client) Account() string { return c.cfg.Account }

// Budget returns the rate budget the client charges.
func (c *Client) Budget() outbound.Budget { return c.budget }

// Reserve waits for one call of the account's budget and returns it, for
// WithReservation (read fresh state after waiting, then write).
func (c *Client) Reserve(ctx context.Context) (*outbound.Reservation, error) {
	r, err := c.out.Reserve(ctx, &outbound.Request{Endpoint: "reserve"})
	if err != nil {
		return nil, fmt.Errorf("error reserving gorgias rate budget: %w", err)
	}
	return r, nil
}

// WithReservation returns a client whose first call spends r instead of
// waiting for the budget; later calls wait as usual. c is unchanged.
func (c *Client) WithReservation(r *outbound.Reservation) *Client {
	cp := *c
	cp.prepaid = r
	return &cp
}

// OAuth returns the OAuth helper (nil for API-key clients).
func (c *Client) OAuth() *OAuth { return c.oauth }

// VendorMessage extracts Gorgias' error message ("msg" or "message") from
// an error returned by the client, or "".
func VendorMessage(err error) string {
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Body == "" {
		return ""
	}
	var env struct {
		Error struct {
			Msg     string `json:"msg"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(oe.Body), &env) != nil {
		return ""
	}
	if env.Error.Msg != "" {
		return env.Error.Msg
	}
	return env.Error.Message
}

// wrap adds the action and, for 404/409, the matching sentinel.
func wrap(err error, action string) error {
	switch outbound.StatusOf(err) {
	case http.StatusNotFound:
		return fmt.Errorf("error %s: %w: %w", action, ErrNotFound, err)
	case http.StatusConflict:
		return fmt.Errorf("error %s: %w: %w", action, ErrConflict, err)
	}
	return fmt.Errorf("error %s: %w", action, err)
}

// call makes one request and decodes a JSON answer into out (when not nil
// and the body is not empty).
func (c *Client) call(ctx context.Context, method, path, endpoint string, q url.Values, body, out any) (*outbound.Response, error) {
	req := &outbound.Request{Method: method, Path: path, Endpoint: endpoint, Query: q, JSON: body, Prepaid: c.prepaid,
		Handle3xx: []int{http.StatusMovedPermanently}} // merged customer: read by the caller
	resp, err := c.out.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if out != nil && len(strings.TrimSpace(string(resp.Body))) > 0 && resp.Status != http.StatusMovedPermanently {
		if err := resp.DecodeJSON(out); err != nil {
			return resp, fmt.Errorf("error decoding gorgias %s: %w", endpoint, err)
		}
	}
	return resp, nil
}

func idPath(prefix string, id ID, suffix string) string {
	return prefix + "/" + id.String() + suffix
}

func listQuery(o ListOptions, cursor string) url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(min(o.Limit, 100)))
	}
	if o.OrderBy != "" {
		q.Set("order_by", o.OrderBy)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// listPage fetches one page of a list endpoint.
func listPage[T any](ctx context.Context, c *Client, path, endpoint string, q url.Values) (*Page[T], error) {
	var p Page[T]
	if _, err := c.call(ctx, http.MethodGet, path, endpoint, q, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// listAll iterates a list endpoint to its last page. The query builder is
// called with each cursor. Iteration stops at the first error (yielded).
func listAll[T any](ctx context.Context, c *Client, path, endpoint, action string, query func(cursor string) url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		seen := map[string]bool{}
		for {
			p, err := listPage[T](ctx, c, path, endpoint, query(cursor))
			if err != nil {
				var zero T
				yield(zero, wrap(err, action))
				return
			}
			for _, x := range p.Data {
				if !yield(x, nil) {
					return
				}
			}
			next := p.Next()
			if next == "" || seen[next] || len(p.Data) == 0 {
				return
			}
			seen[next] = true
			cursor = next
		}
	}
}

// GetAccount returns the account (a cheap credentials check).
func (c *Client) GetAccount(ctx context.Context) (*Account, error) {
	var a Account
	if _, err := c.call(ctx, http.MethodGet, "/api/account", "GET /api/account", nil, nil, &a); err != nil {
		return nil, wrap(err, "getting gorgias account")
	}
	return &a, nil
}
