package klaviyo

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	emu "switchyard/internal/emulator/klaviyo"
	"switchyard/internal/emulator/klaviyo/contract"
	"switchyard/internal/outbound"

	"switchyard/internal/provider/oauthstore"
)

// exchangeValidator checks one API exchange against the contract (the
// contract package's validation: kin-openapi's openapi3filter).
type exchangeValidator func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error

// validatingTransport validates every /api/ request the client sends and
// every answer the emulator gives against the Klaviyo contract.
type validatingTransport struct {
	spec       *contract.Spec
	next       http.RoundTripper
	validators []exchangeValidator

	mu        sync.Mutex
	problems  []string
	validated map[string]int // label → exchanges validated
}

func newValidatingTransport(t *testing.T, spec *contract.Spec, next http.RoundTripper) *validatingTransport {
	vt := &validatingTransport{spec: spec, next: next, validated: map[string]int{}}
	vt.validators = append(vt.validators, vt.ownValidator)
	return vt
}

func (vt *validatingTransport) ownValidator(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	path := strings.TrimSuffix(req.URL.Path, "/")
	op, params := vt.spec.Find(req.Method, path)
	if op == nil {
		return fmt.Errorf("%s %s is not in the contract", req.Method, path)
	}
	var errs []string
	if err := op.ValidateRequest(params, req.URL.Query(), req.Header, reqBody); err != nil {
		errs = append(errs, "request: "+err.Error())
	}
	if resp != nil {
		if err := op.ValidateResponse(resp.StatusCode, resp.Header, respBody); err != nil {
			errs = append(errs, fmt.Sprintf("response %d: %v", resp.StatusCode, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// uncontracted reports whether a request goes to a route the contract does
// not have and the client reads only where it is served: the bulk event
// job (EventJob, docs/assumptions/klaviyo.md).
func uncontracted(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/api/event-bulk-create-jobs/")
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/api/") || uncontracted(req) {
		return vt.next.RoundTrip(req) // OAuth endpoints and the event job are not in the contract
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := vt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	label := req.Method + " " + req.URL.Path
	if op, _ := vt.spec.Find(req.Method, strings.TrimSuffix(req.URL.Path, "/")); op != nil {
		label = op.Label()
	}
	for _, v := range vt.validators {
		if err := v(req, reqBody, resp, respBody); err != nil {
			vt.mu.Lock()
			vt.problems = append(vt.problems, fmt.Sprintf("%s → %d: %v", label, resp.StatusCode, err))
			vt.mu.Unlock()
		}
	}
	vt.mu.Lock()
	vt.validated[label]++
	vt.mu.Unlock()
	return resp, nil
}

func (vt *validatingTransport) report() ([]string, map[string]int) {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	counts := map[string]int{}
	for k, v := range vt.validated {
		counts[k] = v
	}
	return append([]string(nil), vt.problems...), counts
}

// fakeClock is shared by the emulator and the client.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	t       *testing.T
	emu     *emu.Emulator
	srv     *httptest.Server
	clock   *fakeClock
	vt      *validatingTransport
	limiter *outbound.LocalLimiter
	client  *Client
	http    *http.Client
}

type options struct {
	emu       func(*emu.Config)
	client    func(*Config)
	noLimiter bool
}

// setup starts an emulator on a frozen clock behind httptest and a client
// whose transport validates every exchange against the contract; contract
// problems fail the test at cleanup.
func setup(t *testing.T, o options) *bundle {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	ecfg := emu.Config{Now: clock.Now, Seed: 7}
	if o.emu != nil {
		o.emu(&ecfg)
	}
	e := emu.New(ecfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	spec, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	vt := newValidatingTransport(t, spec, srv.Client().Transport)
	hc := &http.Client{Transport: vt, Timeout: 10 * time.Second}
	b := &bundle{t: t, emu: e, srv: srv, clock: clock, vt: vt, http: hc}
	if !o.noLimiter {
		b.limiter = outbound.NewLocalLimiter(clock.Now)
	}
	cfg := Config{BaseURL: srv.URL, Account: emu.DefaultAccountID, PrivateKey: emu.DefaultPrivateKey, HTTPClient: hc, Now: clock.Now}
	if b.limiter != nil {
		cfg.Limiter = b.limiter
	}
	if o.client != nil {
		o.client(&cfg)
	}
	if cfg.OAuth == nil {
		c, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		b.client = c
	}
	t.Cleanup(func() {
		problems, _ := vt.report()
		for _, p := range problems {
			t.Errorf("contract violation: %s", p)
		}
	})
	return b
}

func (b *bundle) account() emu.AccountState {
	b.t.Helper()
	a, ok := b.emu.Account(emu.DefaultAccountID)
	if !ok {
		b.t.Fatal("no default account")
	}
	return a
}

// control posts to an emulator control route.
func (b *bundle) control(path, body string) {
	b.t.Helper()
	resp, err := http.Post(b.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.t.Fatalf("%s: %d", path, resp.StatusCode)
	}
}

// memStore is an in-memory TokenStore that counts saves.
type memStore = oauthstore.Memory
