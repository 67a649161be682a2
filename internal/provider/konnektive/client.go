package konnektive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"switchyard/internal/baseservice"
	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// DefaultBaseURL is the CRM API host used when Config.BaseURL is empty.
const DefaultBaseURL = "https://api.konnektive.com"

// Encoding selects how parameters (credentials included) are sent.
type Encoding string

const (
	// EncodingForm POSTs every call with an application/x-www-form-urlencoded
	// body. Credentials never appear in a URL. The default.
	EncodingForm Encoding = "form"
	// EncodingMultipart POSTs a multipart/form-data body (as PHP curl with
	// an array body does).
	EncodingMultipart Encoding = "multipart"
	// EncodingQuery puts every parameter in the URL query: GET for queries,
	// POST with an empty body for actions (as the older public clients do).
	// URLs then carry the password; the client redacts it from deliveries,
	// errors and logs.
	EncodingQuery Encoding = "query"
)

// PauseMode selects how PausePurchase is carried out.
type PauseMode string

const (
	// PauseByNextBillDate moves the purchase's nextBillDate to the resume
	// date with purchase/update (the reference's practical approach). The
	// default.
	PauseByNextBillDate PauseMode = "next_bill_date"
	// PauseByEndpoint calls Config.PausePath (default /purchase/hold/) with
	// purchaseId and resumeDate: an UNCONFIRMED real pause endpoint.
	PauseByEndpoint PauseMode = "endpoint"
)

// Config configures a Client. LoginID and Password are required.
type Config struct {
	// BaseURL defaults to DefaultBaseURL (api2.konnektive.com also exists).
	BaseURL string
	// LoginID and Password are the CRM API user's credentials (≤ 32 chars).
	LoginID, Password string
	// Account names the CRM account in deliveries and the rate budget key
	// (default: the base URL's host). Never the password.
	Account string
	// HTTPClient defaults to outbound's (30 s timeout).
	HTTPClient *http.Client
	// Limiter paces calls (nil: unlimited, 429s still not retried here).
	Limiter outbound.Limiter
	// Budget sizes the rate budget. Konnektive publishes no limit; the zero
	// Rate means unlimited while 429 answers still pause the budget. Key
	// defaults to "konnektive:<account>".
	Budget outbound.Budget
	// Recorder receives one delivery per attempt, credentials redacted.
	Recorder outbound.Recorder
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Encoding defaults to EncodingForm.
	Encoding Encoding
	// PauseMode defaults to PauseByNextBillDate.
	PauseMode PauseMode
	// PausePath is the pause endpoint for PauseByEndpoint (default "/purchase/hold/").
	PausePath string
	// QueryStartDate starts the wide date range sent with look-ups by email
	// or customer (default 01/01/2010); the range ends a year after Now.
	QueryStartDate time.Time
	// PageSize is resultsPerPage for paged queries (default and max 200).
	PageSize int
	// MaxPages bounds one paged query (default 500); past it the rows read
	// so far are returned and a warning is logged.
	MaxPages int
}

// Client calls one Konnektive CRM account. It is safe for concurrent use.
type Client struct {
	baseservice.Archetype
	cfg Config
	out *outbound.Client
	red *redactor
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	arch := baseservice.New(cfg.Logger, cfg.Now)
	if cfg.LoginID == "" || cfg.Password == "" {
		return nil, domain.Errorf(domain.EINVALID, "konnektive loginId and password are required")
	}
	if len(cfg.LoginID) > 32 || len(cfg.Password) > 32 {
		return nil, domain.Errorf(domain.EINVALID, "konnektive loginId and password are at most 32 characters")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Host == "" {
		return nil, domain.Errorf(domain.EINVALID, "konnektive base URL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.Account == "" {
		cfg.Account = u.Host
	}
	if cfg.Budget.Key == "" {
		cfg.Budget.Key = domain.VendorKonnektive + ":" + cfg.Account
	}
	switch cfg.Encoding {
	case "":
		cfg.Encoding = EncodingForm
	case EncodingForm, EncodingMultipart, EncodingQuery:
	default:
		return nil, domain.Errorf(domain.EINVALID, "unknown konnektive encoding %q", cfg.Encoding)
	}
	switch cfg.PauseMode {
	case "":
		cfg.PauseMode = PauseByNextBillDate
	case PauseByNextBillDate, PauseByEndpoint:
	default:
		return nil, domain.Errorf(domain.EINVALID, "unknown konnektive pause mode %q", cfg.PauseMode)
	}
	if cfg.PausePath == "" {
		cfg.PausePath = "/purchase/hold/"
	}
	if cfg.QueryStartDate.IsZero() {
		cfg.QueryStartDate = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 200 {
		cfg.PageSize = 200
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 500
	}
	red := newRedactor(cfg.LoginID, cfg.Password)
	var rec outbound.Recorder
	if cfg.Recorder != nil {
		inner := cfg.Recorder
		rec = outbound.RecorderFunc(func(d *domain.Delivery) {
			d.Endpoint = red.String(d.Endpoint)
			d.Error = red.String(d.Error)
			inner.Record(d)
		})
	}
	budget := cfg.Budget
	out, err := outbound.NewClient(outbound.Config{
		Vendor: domain.VendorKonnektive, Account: cfg.Account, BaseURL: cfg.BaseURL, HTTPClient: cfg.HTTPClient,
		Limiter: cfg.Limiter, DefaultBudget: budget, Recorder: rec, Now: arch.Now, Logger: arch.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating konnektive client: %w", err)
	}
	return &Client{Archetype: arch, cfg: cfg, out: out, red: red}, nil
}

// op is one API path.
type op struct {
	path string // "/order/query/"
	read bool
}

// call makes one request and returns the decoded SUCCESS envelope. An
// ERROR envelope is returned as *APIError wrapped for the caller's mapping.
func (c *Client) call(ctx context.Context, o op, params url.Values) (Envelope, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("loginId", c.cfg.LoginID)
	q.Set("password", c.cfg.Password)
	req := &outbound.Request{Method: http.MethodPost, Path: o.path}
	switch c.cfg.Encoding {
	case EncodingQuery:
		if o.read {
			req.Method = http.MethodGet
		}
		req.Query = q
	case EncodingMultipart:
		body, ctype, err := multipartBody(q)
		if err != nil {
			return Envelope{}, fmt.Errorf("error encoding konnektive request: %w", err)
		}
		req.Body, req.ContentType = body, ctype
	default:
		req.Body, req.ContentType = []byte(q.Encode()), "application/x-www-form-urlencoded"
	}
	req.Endpoint = req.Method + " " + o.path
	var env Envelope
	// The envelope is checked inside Do, so an ERROR answer (HTTP 200) is
	// logged as the failed delivery it is.
	req.Check = func(resp *outbound.Response) error {
		e, err := DecodeEnvelope(resp.Body)
		if err != nil {
			// Not JSON: a proxy page or an outage; retry later (K-fitbox's FAILURE).
			return &outbound.Error{
				Vendor: domain.VendorKonnektive, Endpoint: req.Endpoint, Status: resp.Status, Class: domain.ClassTransient,
				Body: c.red.String(snippet(resp.Body)), Err: err,
			}
		}
		env = e
		if !e.OK() && !(o.read && IsNoResults(e.Text())) {
			return c.apiError(req.Endpoint, resp.Status, e)
		}
		return nil // an empty query result is a successful call
	}
	resp, err := c.out.Do(ctx, req)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return env, err
		}
		return Envelope{}, c.redactErr(err)
	}
	if !env.OK() {
		return env, c.apiError(req.Endpoint, resp.Status, env) // no results: the caller decides
	}
	return env, nil
}

func multipartBody(q url.Values) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			if err := w.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return s
}

// APIError is an ERROR envelope from the CRM. Message is the CRM's text,
// safe to show to a helpdesk agent.
type APIError struct {
	Endpoint string
	Message  string
}

func (e *APIError) Error() string { return "konnektive " + e.Endpoint + ": " + e.Message }

// apiError maps an ERROR envelope to an error whose chain holds a
// *domain.Error (EINVALID with the CRM message, or EUNAUTHORIZED for a
// credentials failure), an *outbound.Error (class terminal or auth, so the
// job is not retried) and the *APIError.
func (c *Client) apiError(endpoint string, status int, env Envelope) error {
	msg := c.red.String(env.Text())
	if msg == "" {
		msg = "Konnektive returned " + env.Result + " without a message"
	}
	code, class := domain.EINVALID, domain.ClassTerminal
	if IsAuthMessage(msg) {
		code, class = domain.EUNAUTHORIZED, domain.ClassAuth
	}
	ae := &APIError{Endpoint: endpoint, Message: msg}
	return &domain.Error{Code: code, Message: msg, Err: &outbound.Error{
		Vendor: domain.VendorKonnektive, Endpoint: endpoint, Status: status, Class: class, Err: ae,
	}}
}

// ---- redaction ----

// redactor removes the credentials from strings (URLs in transport errors,
// vendor messages) before they reach deliveries, errors or logs.
type redactor struct {
	values []string
	params *regexp.Regexp
}

func newRedactor(loginID, password string) *redactor {
	r := &redactor{params: regexp.MustCompile(`(?i)\b(loginId|password)(=|%3D)[^&\s"'<>]*`)}
	for _, v := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if v != "" && !contains(r.values, v) {
			r.values = append(r.values, v)
		}
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	return r
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// String returns s without credential parameters or the password.
func (r *redactor) String(s string) string {
	if s == "" {
		return s
	}
	s = r.params.ReplaceAllString(s, "$1$2[REDACTED]")
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}

// redactErr scrubs the credentials out of an outbound error in place: a
// *url.Error is rebuilt with a redacted URL (keeping Timeout and the cause),
// anything else that still mentions them is replaced by a redacted copy.
func (c *Client) redactErr(err error) error {
	var oe *outbound.Error
	if !errors.As(err, &oe) {
		if s := err.Error(); c.red.String(s) != s {
			return &redactedError{msg: c.red.String(s), cause: err}
		}
		return err
	}
	oe.Body = c.red.String(oe.Body)
	oe.Endpoint = c.red.String(oe.Endpoint)
	if oe.Err == nil {
		return err
	}
	var ue *url.Error
	if errors.As(oe.Err, &ue) && oe.Err == error(ue) {
		inner := ue.Err
		if s := inner.Error(); c.red.String(s) != s {
			inner = &redactedError{msg: c.red.String(s), cause: inner}
		}
		oe.Err = &url.Error{Op: ue.Op, URL: c.red.String(ue.URL), Err: inner}
	} else if s := oe.Err.Error(); c.red.String(s) != s {
		oe.Err = &redactedError{msg: c.red.String(s), cause: oe.Err}
	}
	return err
}

// redactedError hides a cause whose text holds credentials: Error gives
// the redacted text, Is and Timeout consult the cause, Unwrap is not
// offered so the raw text cannot be reached.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }

// Is lets errors.Is see through to the cause (context.DeadlineExceeded, …).
func (e *redactedError) Is(target error) bool { return errors.Is(e.cause, target) }

// Timeout reports whether the cause was a timeout.
func (e *redactedError) Timeout() bool { return outbound.IsTimeout(e.cause) }
