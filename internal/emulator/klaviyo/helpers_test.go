package klaviyo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// fakeClock is a settable clock shared by the emulator under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
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

type harness struct {
	t     *testing.T
	e     *Emulator
	clock *fakeClock
	spec  *contract.Spec
	auth  string
}

// setup builds an emulator on a frozen clock. mod may adjust the config.
func setup(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	clock := newClock()
	cfg := Config{Now: clock.Now, Seed: 42}
	if mod != nil {
		mod(&cfg)
	}
	e := New(cfg)
	t.Cleanup(e.Close)
	return &harness{t: t, e: e, clock: clock, spec: e.Spec(), auth: "Klaviyo-API-Key " + DefaultPrivateKey}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	doc    map[string]any
}

// errCode returns errors[0].code.
func (r *resp) errCode() string {
	errs, _ := r.doc["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].(map[string]any)["code"].(string)
	return c
}

func (r *resp) errObj() map[string]any {
	errs, _ := r.doc["errors"].([]any)
	if len(errs) == 0 {
		return nil
	}
	m, _ := errs[0].(map[string]any)
	return m
}

func (r *resp) data() map[string]any {
	m, _ := r.doc["data"].(map[string]any)
	return m
}

func (r *resp) list() []any {
	l, _ := r.doc["data"].([]any)
	return l
}

func (r *resp) attr(name string) any {
	a, _ := r.data()["attributes"].(map[string]any)
	return a[name]
}

// request sends one request through ServeHTTP with the default revision and
// credentials (override with hdr; an empty value deletes the header) and
// validates API answers against the contract.
func (h *harness) request(method, path string, body any, hdr map[string]string) *resp {
	h.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("revision", "2026-07-15")
	req.Header.Set("Authorization", h.auth)
	req.Header.Set("Accept", "application/vnd.api+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.api+json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	r := &resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if len(r.body) > 0 && strings.Contains(r.header.Get("Content-Type"), "json") {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&r.doc); err != nil {
			h.t.Fatalf("%s %s: response is not JSON: %v: %s", method, path, err, r.body)
		}
	}
	u, _ := url.Parse(path)
	if strings.HasPrefix(u.Path, "/api/") {
		if op, _ := h.spec.Find(method, strings.TrimSuffix(u.Path, "/")); op != nil {
			if err := op.ValidateResponse(r.status, r.header, r.body); err != nil {
				h.t.Errorf("%s %s → %d breaks the contract: %v\nbody: %s", method, path, r.status, err, r.body)
			}
		}
	}
	return r
}

func (h *harness) do(method, path string, body any) *resp {
	h.t.Helper()
	return h.request(method, path, body, nil)
}

// want fails the test unless r has the status.
func (r *resp) want(t *testing.T, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

func profileBody(attrs map[string]any) map[string]any {
	return map[string]any{"data": map[string]any{"type": "profile", "attributes": attrs}}
}

func eventBody(metric, email string, props map[string]any, extra map[string]any) map[string]any {
	attrs := map[string]any{
		"properties": props,
		"metric":     map[string]any{"data": map[string]any{"type": "metric", "attributes": map[string]any{"name": metric}}},
		"profile":    map[string]any{"data": map[string]any{"type": "profile", "attributes": map[string]any{"email": email}}},
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return map[string]any{"data": map[string]any{"type": "event", "attributes": attrs}}
}

func listBody(name string) map[string]any {
	return map[string]any{"data": map[string]any{"type": "list", "attributes": map[string]any{"name": name}}}
}

func (h *harness) account() AccountState {
	h.t.Helper()
	a, ok := h.e.Account(DefaultAccountID)
	if !ok {
		h.t.Fatal("default account missing")
	}
	return a
}

// nextPath turns an absolute links.next into a request path.
func nextPath(t *testing.T, r *resp) string {
	t.Helper()
	links, _ := r.doc["links"].(map[string]any)
	next, _ := links["next"].(string)
	if next == "" {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil {
		t.Fatalf("links.next %q: %v", next, err)
	}
	return u.RequestURI()
}
