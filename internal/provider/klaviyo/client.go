// Package klaviyo is switchyard's client for Klaviyo's REST API (revision
// 2026-07-15): profiles (upsert, create, update, lookup by email), events
// (single and bulk, with backfill), lists and list membership, and bulk
// profile import jobs.
//
// Every call goes through internal/outbound: one attempt per call (retries
// belong to the job system), a rate budget per (account, endpoint tier)
// sized from the contract's x-klaviyo-ratelimit, early slow-down from the
// RateLimit-* headers, and a pause on 429 for Retry-After. Authentication is
// a private key (`Klaviyo-API-Key`) or an OAuth app token (`Bearer`,
// refreshed with golang.org/x/oauth2 and persisted through TokenStore).
//
// Errors: a failed call returns an error whose chain holds the
// *outbound.Error (use outbound.ClassOf for the retry decision) and an
// *APIError with the decoded JSON:API errors. 409 duplicate_profile is a
// *DuplicateProfileError carrying the existing profile's id. Not-found
// answers and client-side validation failures carry domain codes
// (domain.IsNotFound, domain.EINVALID) and are classified terminal.
package klaviyo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Defaults.
const (
	DefaultBaseURL  = "https://a.klaviyo.com"
	DefaultRevision = "2026-07-15"
	// DefaultBudgetShare is the share of each published limit the client
	// allows itself, so fixed windows are not overrun at their edges.
	DefaultBudgetShare = 0.9
)

// Limits from the contract (reference A2–A4).
const (
	MaxListMembersPerCall = 1000
	MaxBulkProfiles       = 10000
	MaxBulkEvents         = 1000
	MaxPayloadBytes       = 5 << 20
	MaxProfileBytes       = 100 << 10
)

const mediaJSONAPI = "application/vnd.api+json"

// Config configures a Client. BaseURL defaults to https://a.klaviyo.com;
// exactly one of PrivateKey and OAuth must be set.
type Config struct {
	// BaseURL is the API host (the emulator's URL in tests and demos).
	BaseURL string
	// Account names the Klaviyo account (or installation) for rate budgets
	// and delivery records. Defaults to "default".
	Account string
	// Revision is sent in the `revision` header (default 2026-07-15).
	Revision string
	// PrivateKey authenticates with `Authorization: Klaviyo-API-Key …`.
	PrivateKey string
	// OAuth authenticates with an OAuth app's tokens.
	OAuth *OAuth
	// HTTPClient is used for API and token calls (default: 30 s timeout).
	HTTPClient *http.Client
	// Limiter paces calls (nil: unlimited). Use outbound.NewLocalLimiter.
	Limiter outbound.Limiter
	// BudgetShare scales the published limits (default 0.9).
	BudgetShare float64
	// BudgetKey, when set, replaces "klaviyo:<Account>" as the prefix of
	// the tier budgets' keys (the hub keys budgets by vendor host, account
	// and a credential fingerprint).
	BudgetKey string
	// Limits overrides the per-endpoint limits, keyed by endpoint label
	// ("POST /api/events"); missing labels use DefaultLimits.
	Limits map[string]RateLimit
	// Recorder receives one delivery per attempt.
	Recorder outbound.Recorder
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// UserAgent defaults to "switchyard".
	UserAgent string
}

// Client calls one Klaviyo account. It is safe for concurrent use.
type Client struct {
	baseservice.Archetype
	oc       *outbound.Client
	revision string
	budgets  map[string]outbound.Budget
	account  string

	budgetKey string // prefix of the tier budgets' keys
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Account == "" {
		cfg.Account = "default"
	}
	if cfg.Revision == "" {
		cfg.Revision = DefaultRevision
	}
	if cfg.BudgetShare <= 0 || cfg.BudgetShare > 1 {
		cfg.BudgetShare = DefaultBudgetShare
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: outbound.DefaultTimeout}
	}
	var auth outbound.Authenticator
	switch {
	case cfg.PrivateKey != "" && cfg.OAuth != nil:
		return nil, errors.New("klaviyo: set either a private key or OAuth, not both")
	case cfg.PrivateKey != "":
		key := cfg.PrivateKey
		auth = outbound.AuthFunc(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Klaviyo-API-Key "+key)
			return nil
		})
	case cfg.OAuth != nil:
		a, err := newOAuthAuth(*cfg.OAuth, cfg.BaseURL, cfg.HTTPClient, arch.Now)
		if err != nil {
			return nil, err
		}
		auth = a
	default:
		return nil, errors.New("klaviyo: a private key or OAuth credentials are required")
	}
	if cfg.BudgetKey == "" {
		cfg.BudgetKey = domain.VendorKlaviyo + ":" + cfg.Account
	}
	c := &Client{Archetype: arch, revision: cfg.Revision, budgets: map[string]outbound.Budget{}, account: cfg.Account, budgetKey: cfg.BudgetKey}
	limits := DefaultLimits()
	for k, v := range cfg.Limits {
		limits[k] = v
	}
	for label, l := range limits {
		c.budgets[label] = l.Budget(cfg.BudgetKey, cfg.BudgetShare)
	}
	oc, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorKlaviyo, Account: cfg.Account, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Auth: auth, Limiter: cfg.Limiter, Budget: c.budget, Quota: ParseQuota, Recorder: cfg.Recorder,
		Now: arch.Now, Logger: arch.Logger, UserAgent: cfg.UserAgent,
	})
	if err != nil {
		return nil, fmt.Errorf("klaviyo: %w", err)
	}
	c.oc = oc
	return c, nil
}

// budget charges a request to its endpoint's tier budget. Unknown labels
// share a conservative budget.
func (c *Client) budget(r *outbound.Request) outbound.Budget {
	if b, ok := c.budgets[r.Endpoint]; ok {
		return b
	}
	return RateLimit{Burst: 3, Steady: 60}.Budget(c.budgetKey, DefaultBudgetShare)
}

// Budgets returns the budget of every known endpoint label (admin UI).
func (c *Client) Budgets() map[string]outbound.Budget {
	out := make(map[string]outbound.Budget, len(c.budgets))
	for k, v := range c.budgets {
		out[k] = v
	}
	return out
}

// call makes one request. body, when non-nil, is sent as JSON:API.
func (c *Client) call(ctx context.Context, method, path, label string, query url.Values, body any) (*outbound.Response, error) {
	req := &outbound.Request{
		Method: method, Path: path, Endpoint: label, Query: query,
		Header: http.Header{"Revision": {c.revision}, "Accept": {mediaJSONAPI}},
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, invalidf(label, "error encoding request: %v", err)
		}
		req.Body, req.ContentType = b, mediaJSONAPI
	}
	resp, err := c.oc.Do(ctx, req)
	if err != nil {
		return nil, wrapError(err)
	}
	return resp, nil
}

// decode unmarshals a successful answer tolerantly (unknown fields are
// ignored).
func decode(label string, resp *outbound.Response, v any) error {
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return badResponse(label, resp.Status, err)
	}
	return nil
}

// badResponse is a 2xx answer we cannot read: transient (a proxy or an
// outage page), so the job is retried.
func badResponse(label string, status int, err error) error {
	return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: label, Status: status, Class: domain.ClassTransient,
		Err: fmt.Errorf("error decoding Klaviyo response: %w", err)}
}

// invalidf is a client-side validation failure: EINVALID, classified
// terminal so the job system does not retry it.
func invalidf(label, format string, args ...any) error {
	return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: label, Class: domain.ClassTerminal,
		Err: domain.Errorf(domain.EINVALID, format, args...)}
}

// notFoundf is an empty lookup: ENOTFOUND, classified terminal.
func notFoundf(label, format string, args ...any) error {
	return &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: label, Class: domain.ClassTerminal,
		Err: domain.Errorf(domain.ENOTFOUND, format, args...)}
}

// nextPage returns the path and query of links.next when it points at the
// same endpoint, so paging never leaves the configured host.
func nextPage(label, next, path string) (string, url.Values, bool, error) {
	if next == "" {
		return "", nil, false, nil
	}
	u, err := url.Parse(next)
	if err != nil {
		return "", nil, false, invalidf(label, "unreadable links.next %q", next)
	}
	if strings.TrimSuffix(u.Path, "/") != strings.TrimSuffix(path, "/") {
		return "", nil, false, invalidf(label, "links.next %q leaves the endpoint", next)
	}
	return u.Path, u.Query(), true, nil
}

// maxPages bounds pagination loops against a misbehaving server.
const maxPages = 100000

// filterString quotes s for a Klaviyo filter value.
func filterString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
