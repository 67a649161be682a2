package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
)

// Authenticator puts credentials on a request. Refresh is called once after
// a 401 (OAuth refresh); an authenticator with nothing to refresh returns
// ErrNoRefresh.
type Authenticator interface {
	Apply(ctx context.Context, req *http.Request) error
	Refresh(ctx context.Context) error
}

// ErrNoRefresh is returned by Authenticator.Refresh when credentials cannot
// be refreshed (API keys).
var ErrNoRefresh = errors.New("credentials cannot be refreshed")

// AuthFunc adapts a function to an Authenticator without refresh.
type AuthFunc func(ctx context.Context, req *http.Request) error

func (f AuthFunc) Apply(ctx context.Context, req *http.Request) error { return f(ctx, req) }
func (f AuthFunc) Refresh(context.Context) error                      { return ErrNoRefresh }

// Recorder receives one Delivery per attempt.
type Recorder interface {
	Record(d *domain.Delivery)
}

// RecorderFunc adapts a function to a Recorder.
type RecorderFunc func(d *domain.Delivery)

func (f RecorderFunc) Record(d *domain.Delivery) { f(d) }

// Config configures a vendor client. Vendor and BaseURL are required.
type Config struct {
	// Vendor names the vendor ("gorgias", …) in deliveries and metrics.
	Vendor string
	// Account identifies the vendor account (Gorgias subdomain, …).
	Account string
	// BaseURL is prefixed to every request path. Requests can only go to it
	// (no SSRF through payloads).
	BaseURL string
	// HTTPClient defaults to a client with a 30 s timeout. It is copied and
	// its CheckRedirect replaced by NoRedirect. App's default dials through
	// a DialGuard (see NewHTTPClient).
	HTTPClient *http.Client
	// Auth sets credentials; nil sends none.
	Auth Authenticator
	// Limiter paces calls; nil means unlimited.
	Limiter Limiter
	// Budget returns the budget a request is charged to. Nil charges every
	// request to DefaultBudget.
	Budget func(r *Request) Budget
	// DefaultBudget is used when Budget is nil.
	DefaultBudget Budget
	// Quota parses the vendor's quota headers; nil ignores them.
	Quota func(h http.Header) (Quota, bool)
	// Recorder gets one delivery per attempt; nil records nothing.
	Recorder Recorder
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// UserAgent is sent on every request.
	UserAgent string
}

// Client makes calls to one vendor account.
type Client struct {
	baseservice.Archetype
	cfg  Config
	base *url.URL
}

// DefaultTimeout bounds one attempt when Config.HTTPClient is nil.
const DefaultTimeout = 30 * time.Second

// NewClient validates cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Vendor == "" {
		return nil, errors.New("outbound: vendor is required")
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("outbound: %s base URL %q is not an absolute URL", cfg.Vendor, cfg.BaseURL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	// Never follow a redirect: the credentials on a request must not go to
	// another host (a 3xx comes back as the answer).
	hc := *cfg.HTTPClient
	hc.CheckRedirect = NoRedirect
	cfg.HTTPClient = &hc
	if cfg.UserAgent == "" {
		cfg.UserAgent = "switchyard"
	}
	return &Client{Archetype: baseservice.New(cfg.Logger, cfg.Now), cfg: cfg, base: base}, nil
}

// Vendor returns the vendor name.
func (c *Client) Vendor() string { return c.cfg.Vendor }

// Account returns the vendor account.
func (c *Client) Account() string { return c.cfg.Account }

// BaseURL returns the base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Request is one call.
type Request struct {
	Method string
	// Path is appended to the base URL; it must start with "/".
	Path string
	// Endpoint labels the call in deliveries and metrics, e.g.
	// "PUT /api/customers/{id}/data". Defaults to Method + Path.
	Endpoint string
	Query    url.Values
	Header   http.Header
	// Body is sent as is; JSON is marshalled when Body is nil.
	Body        []byte
	JSON        any
	ContentType string
	// NoAuth skips the authenticator (token endpoints).
	NoAuth bool
	// Check inspects a 2xx/3xx answer for failures the vendor reports in
	// the body (Konnektive's ERROR envelope comes with HTTP 200). A non-nil
	// error is what Do returns, and the attempt's delivery is recorded with
	// its class (ClassOf) instead of ok.
	Check func(resp *Response) error
	// Prepaid, when it is an unspent reservation of the call's budget, is
	// spent instead of waiting for the limiter (see Client.Reserve).
	Prepaid *Reservation
	// Handle3xx lists the redirect statuses the caller reads itself (a
	// Gorgias 301 for a merged customer); they come back as a Response. Any
	// other 3xx is a terminal *Error: redirects are never followed.
	Handle3xx []int
}

// Response is a successful (2xx, or a 3xx the request handles) answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// DecodeJSON unmarshals the body into v.
func (r *Response) DecodeJSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("error decoding response body: %w", err)
	}
	return nil
}

// Reservation is one call's worth of a budget, already waited for. The
// first request that carries it (Request.Prepaid) under the same budget
// spends it instead of waiting; it is spent once.
type Reservation struct {
	key    string
	unused atomic.Bool
}

// spend reports whether the reservation pays for a call under budget key
// (and marks it spent). A nil reservation pays for nothing.
func (r *Reservation) spend(key string) bool {
	return r != nil && r.key == key && r.unused.CompareAndSwap(true, false)
}

// Reserve waits for one call's worth of r's budget and returns the
// reservation for the request that spends it. Callers that read state
// before writing it reserve first, so what they write is as fresh as
// possible. Without a limiter or budget it returns nil (nothing to spend).
func (c *Client) Reserve(ctx context.Context, r *Request) (*Reservation, error) {
	b := c.cfg.DefaultBudget
	if c.cfg.Budget != nil {
		b = c.cfg.Budget(r)
	}
	if c.cfg.Limiter == nil || b.Key == "" {
		return nil, nil
	}
	if err := c.cfg.Limiter.Wait(ctx, b); err != nil {
		return nil, &Error{Vendor: c.cfg.Vendor, Endpoint: r.Endpoint, Class: Classify(0, err), Budget: b.Key, Err: fmt.Errorf("error waiting for rate budget: %w", err)}
	}
	res := &Reservation{key: b.Key}
	res.unused.Store(true)
	return res, nil
}

// Meta attributes deliveries to a merchant, installation, event and job.
type Meta struct {
	MerchantID     string
	InstallationID string
	EventID        int64
	JobID          int64
}

type metaKey struct{}

// WithMeta returns a context whose outbound calls are attributed to m.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// MetaFrom returns the attribution carried by ctx.
func MetaFrom(ctx context.Context) Meta {
	m, _ := ctx.Value(metaKey{}).(Meta)
	return m
}

const maxBody = 16 << 20 // 16 MiB: more than any vendor answer we use

// Do makes one attempt (plus one after a 401 when the authenticator can
// refresh). A non-2xx/3xx answer or a transport failure returns *Error.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	if r.Endpoint == "" {
		// Never the query: some vendors (Konnektive) put credentials there.
		path, _, _ := strings.Cut(r.Path, "?")
		r.Endpoint = r.Method + " " + path
	}
	budget := c.cfg.DefaultBudget
	if c.cfg.Budget != nil {
		budget = c.cfg.Budget(r)
	}
	resp, err := c.attempt(ctx, r, budget)
	var oe *Error
	if errors.As(err, &oe) && oe.Class == domain.ClassAuth && c.cfg.Auth != nil && !r.NoAuth {
		if rerr := c.cfg.Auth.Refresh(ctx); rerr == nil {
			resp, err = c.attempt(ctx, r, budget)
		} else if !errors.Is(rerr, ErrNoRefresh) {
			return nil, &Error{Vendor: c.cfg.Vendor, Endpoint: r.Endpoint, Status: oe.Status, Class: ClassOf(rerr), Err: fmt.Errorf("error refreshing credentials: %w", rerr)}
		}
	}
	return resp, err
}

func (c *Client) buildURL(r *Request) (string, error) {
	if !strings.HasPrefix(r.Path, "/") {
		return "", fmt.Errorf("outbound: path %q must start with /", r.Path)
	}
	u := *c.base
	p, err := url.Parse(r.Path)
	if err != nil || p.Host != "" || p.Scheme != "" {
		return "", fmt.Errorf("outbound: invalid path %q", r.Path)
	}
	u.Path = c.base.Path + p.Path
	q := p.Query()
	for k, vs := range r.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (c *Client) attempt(ctx context.Context, r *Request, budget Budget) (*Response, error) {
	fail := func(status int, class domain.ErrorClass, err error) *Error {
		return &Error{Vendor: c.cfg.Vendor, Endpoint: r.Endpoint, Status: status, Class: class, Budget: budget.Key, Err: err}
	}
	u, err := c.buildURL(r)
	if err != nil {
		return nil, fail(0, domain.ClassTerminal, err)
	}
	body := r.Body
	ctype := r.ContentType
	if body == nil && r.JSON != nil {
		if body, err = json.Marshal(r.JSON); err != nil {
			return nil, fail(0, domain.ClassTerminal, fmt.Errorf("error encoding request body: %w", err))
		}
		if ctype == "" {
			ctype = "application/json"
		}
	}
	if c.cfg.Limiter != nil && budget.Key != "" {
		if !r.Prepaid.spend(budget.Key) {
			if err := c.cfg.Limiter.Wait(ctx, budget); err != nil {
				return nil, fail(0, Classify(0, err), fmt.Errorf("error waiting for rate budget: %w", err))
			}
		}
		// Paid for, now or by a reservation made before the caller read its
		// state: the send itself is paced, so reservations spent together
		// never reach the vendor in one bunch.
		if err := c.cfg.Limiter.Pace(ctx, budget); err != nil {
			return nil, fail(0, Classify(0, err), fmt.Errorf("error pacing the call: %w", err))
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, rd)
	if err != nil {
		return nil, fail(0, domain.ClassTerminal, fmt.Errorf("error building request: %w", err))
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if c.cfg.Auth != nil && !r.NoAuth {
		if err := c.cfg.Auth.Apply(ctx, req); err != nil {
			return nil, fail(0, ClassOf(err), fmt.Errorf("error applying credentials: %w", err))
		}
	}

	start := c.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	var (
		status  int
		header  http.Header
		payload []byte
	)
	if err == nil {
		status, header = resp.StatusCode, resp.Header
		payload, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	latency := c.Now().Sub(start)
	class := Classify(status, err)
	if err == nil && status >= 300 && status < 400 && slices.Contains(r.Handle3xx, status) {
		class = domain.ClassOK
	}
	if class == domain.ClassOK && r.Check != nil {
		if cerr := r.Check(&Response{Status: status, Header: header, Body: payload}); cerr != nil {
			class = ClassOf(cerr)
			if class == domain.ClassTransient {
				var ce *Error
				if !errors.As(cerr, &ce) {
					class = domain.ClassTerminal // a body the vendor rejected, not an outage
				}
			}
			c.record(ctx, r, status, latency, class, &Error{Vendor: c.cfg.Vendor, Endpoint: r.Endpoint, Status: status, Class: class, Err: cerr})
			return nil, cerr
		}
	}
	var oe *Error
	if class != domain.ClassOK {
		oe = fail(status, class, err)
		oe.Body = snippet(payload)
		if header != nil {
			oe.RetryAfter = ParseRetryAfter(header.Get("Retry-After"), c.Now())
		}
	}
	c.record(ctx, r, status, latency, class, oe)
	if br, ok := c.cfg.Limiter.(Breaker); ok && budget.Key != "" {
		br.Record(budget, class) // the vendor answered, or failed (half-open circuit)
	}

	if header != nil && c.cfg.Limiter != nil && budget.Key != "" {
		if c.cfg.Quota != nil {
			if q, ok := c.cfg.Quota(header); ok {
				c.cfg.Limiter.Observe(budget, q)
			}
		}
		if class == domain.ClassRateLimited {
			wait := oe.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			c.cfg.Limiter.Pause(budget, c.Now().Add(wait))
		}
	}
	if oe != nil {
		c.Logger.LogAttrs(ctx, slog.LevelDebug, "outbound call failed",
			slog.String("vendor", c.cfg.Vendor), slog.String("endpoint", r.Endpoint),
			slog.Int("status", status), slog.String("class", string(class)), slog.Duration("latency", latency))
		return nil, oe
	}
	return &Response{Status: status, Header: header, Body: payload}, nil
}

func (c *Client) record(ctx context.Context, r *Request, status int, latency time.Duration, class domain.ErrorClass, oe *Error) {
	if c.cfg.Recorder == nil {
		return
	}
	m := MetaFrom(ctx)
	d := &domain.Delivery{
		MerchantID: m.MerchantID, InstallationID: m.InstallationID, EventID: m.EventID, JobID: m.JobID,
		Vendor: c.cfg.Vendor, Account: c.cfg.Account, Method: r.Method, Endpoint: r.Endpoint,
		Status: status, Latency: latency, Class: class, CreatedAt: c.Now(),
	}
	if oe != nil {
		d.Error = oe.Error()
	}
	c.cfg.Recorder.Record(d)
}

func snippet(b []byte) string {
	const n = 512
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
