package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/server"
)

const operatorToken = "operator-secret"

// fakeIngest stands for the webhook handler.
type fakeIngest struct {
	mu          sync.Mutex
	invalidated []string
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	server.WriteJSON(w, http.StatusAccepted, map[string]string{"ingest": r.PathValue("vendor") + "/" + r.PathValue("installation")})
}

func (f *fakeIngest) Invalidate(id string) {
	f.mu.Lock()
	f.invalidated = append(f.invalidated, id)
	f.mu.Unlock()
}

func (f *fakeIngest) invalidations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.invalidated)
}

// basic is a connector with nothing but the required methods; Install
// returns installErr.
type basic struct {
	name       string
	installErr error
}

func (c *basic) Name() string    { return c.name }
func (c *basic) Roles() []string { return []string{domain.VendorWhiplash, domain.VendorGorgias} }
func (c *basic) Install(_ context.Context, in *domain.Installation) error {
	if c.installErr != nil {
		return c.installErr
	}
	in.State = domain.InstallationActive
	in.RemoteIDs = map[string]string{"widget": "w1"}
	return nil
}

// backfilling has the Backfiller capability and checks its settings.
type backfilling struct {
	basic
	mu       sync.Mutex
	started  []string
	startErr error
}

func (c *backfilling) StartBackfill(_ context.Context, in *domain.Installation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startErr != nil {
		return c.startErr
	}
	c.started = append(c.started, in.ID)
	return nil
}

func (c *backfilling) BackfillStatus(_ context.Context, in *domain.Installation) (any, error) {
	return map[string]string{"phase": "fetch"}, nil
}

// ValidateSettings refuses region=eu the way a vendor would: the vendor
// answers 401 to the check.
func (c *backfilling) ValidateSettings(_ context.Context, in *domain.Installation) error {
	if in.Settings["region"] == "eu" {
		return fmt.Errorf("error checking region: %w", &outbound.Error{Vendor: "gorgias", Endpoint: "GET /api/account", Status: 401, Class: domain.ClassAuth, Body: "vendor-body-secret"})
	}
	return nil
}

// routed serves a route of its own.
type routed struct{ basic }

func (c *routed) Routes() []connector.Route {
	return []connector.Route{{Pattern: "GET /hooks/gorgias/routed/widget/{ticket}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		server.WriteJSON(w, http.StatusOK, map[string]string{"widget": r.PathValue("ticket")})
	})}}
}

type bundle struct {
	srv       *server.Server
	ingest    *fakeIngest
	logs      *syncBuffer
	mu        sync.Mutex
	created   []*domain.Installation
	updated   []domain.Installation
	merchants []string // GetMerchant calls
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// installations of the fake store: m1 has one of each connector, m2 one.
var installations = []domain.Installation{
	{ID: "ins_basic", MerchantID: "m1", Connector: "basic"},
	{ID: "ins_backfill", MerchantID: "m1", Connector: "backfilling"},
	{ID: "ins_m2", MerchantID: "m2", Connector: "basic"},
}

// setup builds a server over a fake store with merchants m1 and m2 (tokens
// sy_m1 and sy_m2) and the given connectors (default: basic, backfilling,
// routed). getMerchantErr, when set, answers GetMerchant.
func setup(t *testing.T, cs []connector.Connector, getMerchantErr func(id string) error) *bundle {
	t.Helper()
	if cs == nil {
		cs = []connector.Connector{&basic{name: "basic"}, &backfilling{basic: basic{name: "backfilling"}}, &routed{basic{name: "routed"}}}
	}
	set, err := connector.Build(cs...)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{ingest: &fakeIngest{}, logs: &syncBuffer{}}
	st := &mock.Store{
		LookupAPITokenFn: func(_ context.Context, plain string) (*domain.APIToken, error) {
			switch plain {
			case "sy_m1", "sy_m2":
				return &domain.APIToken{ID: "tok_" + plain, MerchantID: strings.TrimPrefix(plain, "sy_")}, nil
			case "sy_down":
				return nil, errors.New("dial tcp 10.0.0.7:5432: connection refused")
			}
			return nil, domain.Errorf(domain.ENOTFOUND, "token not found")
		},
		GetMerchantFn: func(_ context.Context, id string) (*domain.Merchant, error) {
			b.mu.Lock()
			b.merchants = append(b.merchants, id)
			b.mu.Unlock()
			if getMerchantErr != nil {
				return nil, getMerchantErr(id)
			}
			if id != "m1" && id != "m2" {
				return nil, domain.Errorf(domain.ENOTFOUND, "merchant %s not found", id)
			}
			return &domain.Merchant{ID: id, Name: "Merchant " + id}, nil
		},
		ListMerchantsFn: func(context.Context) ([]*domain.Merchant, error) {
			return []*domain.Merchant{{ID: "m1"}, {ID: "m2"}}, nil
		},
		JobCountsFn: func(context.Context) ([]domain.JobCount, error) { return nil, nil },
		GetInstallationFn: func(_ context.Context, merchantID, id string) (*domain.Installation, error) {
			for _, in := range installations {
				if in.ID == id && in.MerchantID == merchantID {
					return &in, nil
				}
			}
			return nil, domain.Errorf(domain.ENOTFOUND, "installation %s not found", id)
		},
		UpdateInstallationFn: func(_ context.Context, in *domain.Installation) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.updated = append(b.updated, *in)
			return nil
		},
		CreateInstallationFn: func(_ context.Context, in *domain.Installation) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.created = append(b.created, in)
			return nil
		},
	}
	b.srv = server.New(server.Config{Store: st, Ingest: b.ingest, Connectors: set, AdminToken: operatorToken,
		Logger: slog.New(slog.NewTextHandler(b.logs, nil))})
	return b
}

type answer struct {
	code int
	body string
	err  struct{ Code, Message string }
}

func (b *bundle) do(t *testing.T, token, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	a := answer{code: w.Code, body: w.Body.String()}
	if w.Code >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
			t.Errorf("%s %s: %d with body %q, want {\"error\":{\"code\",\"message\"}}", method, path, w.Code, w.Body)
		}
		a.err = e.Error
	}
	return a
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, header, method, path string
		code                       int
	}{
		{"no token", "", "GET", "/api/v1/merchants/m1", 401},
		{"not a bearer token", "Basic b3BlcmF0b3I=", "GET", "/api/v1/merchants/m1", 401},
		{"empty bearer", "Bearer ", "GET", "/api/v1/merchants/m1", 401},
		{"wrong token", "Bearer nope", "GET", "/api/v1/merchants/m1", 401},
		{"unknown merchant token", "Bearer sy_unknown", "GET", "/api/v1/merchants/m1", 401},
		{"token store down", "Bearer sy_down", "GET", "/api/v1/merchants/m1", 500},
		{"operator, a merchant", "Bearer " + operatorToken, "GET", "/api/v1/merchants/m2", 200},
		{"operator, operator route", "Bearer " + operatorToken, "GET", "/api/v1/merchants", 200},
		{"operator, jobs", "Bearer " + operatorToken, "GET", "/api/v1/jobs", 200},
		{"merchant, itself", "Bearer sy_m1", "GET", "/api/v1/merchants/m1", 200},
		{"merchant, its installation", "Bearer sy_m1", "GET", "/api/v1/merchants/m1/installations/ins_basic", 200},
		{"merchant, another merchant", "Bearer sy_m1", "GET", "/api/v1/merchants/m2", 404},
		{"merchant, another merchant's installation", "Bearer sy_m1", "GET", "/api/v1/merchants/m2/installations/ins_m2", 404},
		{"merchant, its path with another's installation", "Bearer sy_m1", "GET", "/api/v1/merchants/m1/installations/ins_m2", 404},
		{"merchant, install under another merchant", "Bearer sy_m2", "POST", "/api/v1/merchants/m1/installations/ins_basic/install", 404},
		{"merchant, list merchants", "Bearer sy_m1", "GET", "/api/v1/merchants", 403},
		{"merchant, create merchant", "Bearer sy_m1", "POST", "/api/v1/merchants", 403},
		{"merchant, jobs", "Bearer sy_m1", "GET", "/api/v1/jobs", 403},
		{"merchant, rate limits", "Bearer sy_m1", "GET", "/api/v1/rate-limits", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, nil)
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"id":"m3","name":"x"}`))
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			b.srv.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.code)
			}
			if strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Errorf("internal detail in %s", w.Body)
			}
			if tc.code == 404 && strings.HasPrefix(tc.path, "/api/v1/merchants/m2") {
				b.mu.Lock()
				defer b.mu.Unlock()
				if slices.Contains(b.merchants, "m2") {
					t.Errorf("m1's token read merchant m2 from the store")
				}
			}
		})
	}
}

// Without --admin-token, no bearer token is the operator's; merchant tokens
// still work.
func TestNoOperatorTokenConfigured(t *testing.T) {
	t.Parallel()
	set, err := connector.Build(&basic{name: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	st := &mock.Store{
		LookupAPITokenFn: func(_ context.Context, plain string) (*domain.APIToken, error) {
			if plain == "sy_m1" {
				return &domain.APIToken{MerchantID: "m1"}, nil
			}
			return nil, domain.Errorf(domain.ENOTFOUND, "no token")
		},
		GetMerchantFn: func(_ context.Context, id string) (*domain.Merchant, error) { return &domain.Merchant{ID: id}, nil },
	}
	srv := server.New(server.Config{Store: st, Ingest: &fakeIngest{}, Connectors: set})
	for token, code := range map[string]int{"": 401, "anything": 401, "sy_m1": 200} {
		r := httptest.NewRequest("GET", "/api/v1/merchants/m1", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != code {
			t.Errorf("token %q: %d %s, want %d", token, w.Code, w.Body, code)
		}
	}
}

// Each domain code answers its status with {"error":{"code","message"}};
// an internal error answers 500 "internal error" and is logged, not returned.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   string
		status int
	}{
		{domain.EINVALID, 400},
		{domain.EUNAUTHORIZED, 401},
		{domain.EFORBIDDEN, 403},
		{domain.ENOTFOUND, 404},
		{domain.ECONFLICT, 409},
		{domain.ETOOLARGE, 413},
		{domain.EUNAVAILABLE, 503},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, func(id string) error {
				return fmt.Errorf("error reading merchant %s: %w", id, domain.Errorf(tc.code, "message for %s", tc.code))
			})
			a := b.do(t, operatorToken, "GET", "/api/v1/merchants/m1", "")
			if a.code != tc.status || a.err.Code != tc.code || a.err.Message != "message for "+tc.code {
				t.Fatalf("%d %s, want %d with code %s and its message", a.code, a.body, tc.status, tc.code)
			}
		})
	}
	t.Run("internal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, func(string) error { return errors.New("pq: password authentication failed for user \"switchyard\"") })
		a := b.do(t, operatorToken, "GET", "/api/v1/merchants/m1", "")
		if a.code != 500 || a.err.Code != domain.EINTERNAL || a.err.Message != "internal error" || strings.Contains(a.body, "password") {
			t.Fatalf("%d %s, want 500 internal without the detail", a.code, a.body)
		}
		if !strings.Contains(b.logs.String(), "password authentication failed") {
			t.Errorf("the internal error was not logged: %q", b.logs.String())
		}
	})
	t.Run("invalid JSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, nil)
		a := b.do(t, operatorToken, "POST", "/api/v1/merchants/m1/installations", `{"connector":"basic","surprise":1}`)
		if a.code != 400 || a.err.Code != domain.EINVALID {
			t.Fatalf("%d %s, want 400 invalid", a.code, a.body)
		}
	})
}

func TestCreateInstallation(t *testing.T) {
	t.Parallel()
	both := `"connections":{"whiplash":"c1","gorgias":"c2"}`
	for _, tc := range []struct {
		name, body string
		code       int
		says       string
	}{
		{"unknown connector", `{"connector":"zendesk-gorgias",` + both + `}`, 400, `unknown connector "zendesk-gorgias"`},
		{"a missing role", `{"connector":"basic","connections":{"whiplash":"c1"}}`, 400, "needs a gorgias connection"},
		{"a role it does not take", `{"connector":"basic","connections":{"whiplash":"c1","gorgias":"c2","klaviyo":"c3"}}`, 400, "takes no klaviyo connection"},
		{"a bad launch date", `{"connector":"basic",` + both + `,"settings":{"launch_date":"soon"}}`, 400, "launch_date"},
		{"the connector's own check, a vendor 401", `{"connector":"backfilling",` + both + `,"settings":{"region":"eu"}}`, 400, "gorgias did not accept the connection's credentials: auth (HTTP 401)"},
		{"an id outside the merchant's own prefix", `{"id":"ins_new","connector":"basic",` + both + `}`, 400, `must start with "m1-"`},
		{"complete", `{"id":"m1-new","connector":"basic",` + both + `}`, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, nil)
			a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations", tc.body)
			if a.code != tc.code || !strings.Contains(a.err.Message, tc.says) {
				t.Fatalf("%d %s, want %d saying %q", a.code, a.body, tc.code, tc.says)
			}
			if strings.Contains(a.body, "vendor-body-secret") {
				t.Errorf("the vendor's body reached the caller: %s", a.body)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			switch {
			case tc.code != 201 && len(b.created) != 0:
				t.Errorf("a refused installation was stored: %+v", b.created[0])
			case tc.code == 201 && (len(b.created) != 1 || b.created[0].MerchantID != "m1" || b.created[0].State != domain.InstallationPending):
				t.Errorf("stored %+v, want one pending installation of m1 (active only once installed)", b.created)
			}
		})
	}
}

// A vendor's 401 or 404 during install is about the merchant's vendor
// account, not the admin caller's request: it is never answered 401 or 404.
func TestInstallVendorErrors(t *testing.T) {
	t.Parallel()
	vendor := func(status int, class domain.ErrorClass, err error) *outbound.Error {
		return &outbound.Error{Vendor: "gorgias", Endpoint: "POST /api/integrations", Status: status, Class: class, Body: `{"error":"vendor-body-secret"}`, Err: err}
	}
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"vendor 401", fmt.Errorf("error creating widget: %w", vendor(401, domain.ClassAuth, nil)), 400},
		{"vendor 404 as the provider wraps it", fmt.Errorf("error %s: %w: %w", "finding integration", gorgias.ErrNotFound, vendor(404, domain.ClassTerminal, nil)), 400},
		{"revoked OAuth token", vendor(0, domain.ClassAuth, gorgias.ErrTokenRevoked), 400},
		{"vendor 403", vendor(403, domain.ClassTerminal, nil), 400},
		{"vendor throttles", vendor(429, domain.ClassRateLimited, nil), 503},
		{"vendor down", vendor(502, domain.ClassTransient, nil), 503},
		{"our own error", domain.Errorf(domain.EINVALID, "installation lacks a setting"), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, []connector.Connector{&basic{name: "basic", installErr: tc.err}}, nil)
			a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_basic/install", "")
			if a.code != tc.code {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.code)
			}
			if strings.Contains(a.body, "vendor-body-secret") {
				t.Errorf("the vendor's body reached the caller: %s", a.body)
			}
			if got := b.ingest.invalidations(); len(got) != 0 {
				t.Errorf("a failed install invalidated %v", got)
			}
		})
	}
	// Not a vendor's answer and not ours to explain: a retry-later with
	// the detail in the log, not in the answer.
	t.Run("internal error", func(t *testing.T) {
		t.Parallel()
		b := setup(t, []connector.Connector{&basic{name: "basic", installErr: fmt.Errorf("error saving remote ids: %w", errors.New("sqlite: disk I/O error at /var/lib/switchyard/hub.db"))}}, nil)
		a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_basic/install", "")
		if a.code != 503 || strings.Contains(a.body, "sqlite") {
			t.Fatalf("%d %s, want 503 without the internal detail", a.code, a.body)
		}
		if !strings.Contains(b.logs.String(), "disk I/O error") {
			t.Errorf("the cause was not logged: %q", b.logs.String())
		}
	})
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, nil)
		a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_basic/install", "")
		var in domain.Installation
		if err := json.Unmarshal([]byte(a.body), &in); a.code != 200 || err != nil || in.State != domain.InstallationActive || in.RemoteIDs["widget"] != "w1" {
			t.Fatalf("%d %s, want 200 with the active installation", a.code, a.body)
		}
		if got := b.ingest.invalidations(); !slices.Equal(got, []string{"ins_basic"}) {
			t.Errorf("invalidated %v, want ins_basic (its cached state changed)", got)
		}
	})
}

// Backfill routes answer only for a connector with the Backfiller capability.
func TestBackfillCapability(t *testing.T) {
	t.Parallel()
	bf := &backfilling{basic: basic{name: "backfilling"}}
	b := setup(t, []connector.Connector{&basic{name: "basic"}, bf}, nil)
	for _, method := range []string{"GET", "POST"} {
		a := b.do(t, "sy_m1", method, "/api/v1/merchants/m1/installations/ins_basic/backfill", "")
		if a.code != 400 || !strings.Contains(a.err.Message, "connector basic has no backfill") {
			t.Errorf("%s without the capability: %d %s, want 400 no backfill", method, a.code, a.body)
		}
	}
	if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_backfill/backfill", ""); a.code != 202 {
		t.Errorf("start: %d %s", a.code, a.body)
	}
	bf.mu.Lock()
	started := slices.Clone(bf.started)
	bf.startErr = vendorAuth()
	bf.mu.Unlock()
	if !slices.Equal(started, []string{"ins_backfill"}) {
		t.Errorf("started %v", started)
	}
	if a := b.do(t, "sy_m1", "GET", "/api/v1/merchants/m1/installations/ins_backfill/backfill", ""); a.code != 200 || !strings.Contains(a.body, `"phase":"fetch"`) {
		t.Errorf("status: %d %s", a.code, a.body)
	}
	if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_backfill/backfill", ""); a.code != 400 {
		t.Errorf("start refused by the vendor: %d %s, want 400", a.code, a.body)
	}
	if a := b.do(t, "sy_m2", "GET", "/api/v1/merchants/m1/installations/ins_backfill/backfill", ""); a.code != 404 {
		t.Errorf("another merchant's backfill: %d %s, want 404", a.code, a.body)
	}
}

func vendorAuth() error {
	return &outbound.Error{Vendor: "klaviyo", Status: 401, Class: domain.ClassAuth}
}

// A connector's own route is served, and so is the webhook route.
func TestRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	a := b.do(t, "", "GET", "/hooks/gorgias/routed/widget/t-42", "")
	if a.code != 200 || !strings.Contains(a.body, `"widget":"t-42"`) {
		t.Errorf("connector route: %d %s", a.code, a.body)
	}
	a = b.do(t, "", "POST", "/hooks/whiplash/ins_basic", "{}")
	if a.code != 202 || !strings.Contains(a.body, `"ingest":"whiplash/ins_basic"`) {
		t.Errorf("webhook route: %d %s", a.code, a.body)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	set, err := connector.Build(&basic{name: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	ready := errors.New("migration 12 not applied")
	st := &mock.Store{ReadyFn: func(context.Context) error { return ready }}
	srv := server.New(server.Config{Store: st, Ingest: &fakeIngest{}, Connectors: set, Version: "v1.2.3"})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("%s: %d %s, want %d", path, w.Code, w.Body, want)
		}
	}
}

// audited declares admin routes and an uninstall.
type audited struct {
	basic
	mu          sync.Mutex
	uninstalled []string
}

func (c *audited) AdminRoutes() []connector.AdminRoute {
	return []connector.AdminRoute{
		{Method: "GET", Path: "audit", Handle: func(r *http.Request, in *domain.Installation) (int, any, error) {
			return http.StatusOK, map[string]string{"installation": in.ID, "ticket": r.URL.Query().Get("ticket")}, nil
		}},
		{Method: "POST", Path: "link/approve", Operator: true, Handle: func(r *http.Request, in *domain.Installation) (int, any, error) {
			return http.StatusOK, map[string]string{"approved": in.ID}, nil
		}},
		{Method: "POST", Path: "fail", Handle: func(r *http.Request, in *domain.Installation) (int, any, error) {
			return 0, nil, vendorAuth()
		}},
	}
}

func (c *audited) Uninstall(_ context.Context, in *domain.Installation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uninstalled = append(c.uninstalled, in.ID)
	return nil
}

// A connector's admin routes are mounted under the installation, answered
// by the installation's own connector, scoped to the merchant, and an
// Operator route refuses merchant tokens.
func TestConnectorAdminRoutes(t *testing.T) {
	t.Parallel()
	au := &audited{basic: basic{name: "backfilling"}} // ins_backfill's connector
	b := setup(t, []connector.Connector{&basic{name: "basic"}, au}, nil)
	a := b.do(t, "sy_m1", "GET", "/api/v1/merchants/m1/installations/ins_backfill/audit?ticket=7", "")
	if a.code != 200 || !strings.Contains(a.body, `"installation":"ins_backfill"`) || !strings.Contains(a.body, `"ticket":"7"`) {
		t.Errorf("audit: %d %s", a.code, a.body)
	}
	if a := b.do(t, "sy_m1", "GET", "/api/v1/merchants/m1/installations/ins_basic/audit", ""); a.code != 404 {
		t.Errorf("another connector's installation: %d %s, want 404", a.code, a.body)
	}
	if a := b.do(t, "sy_m2", "GET", "/api/v1/merchants/m1/installations/ins_backfill/audit", ""); a.code != 404 {
		t.Errorf("another merchant's token: %d %s, want 404", a.code, a.body)
	}
	if a := b.do(t, "", "GET", "/api/v1/merchants/m1/installations/ins_backfill/audit", ""); a.code != 401 {
		t.Errorf("no token: %d %s, want 401", a.code, a.body)
	}
	if inv := b.ingest.invalidations(); slices.Contains(inv, "ins_backfill") {
		t.Errorf("invalidated %v by a GET", inv)
	}
	if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_backfill/link/approve", ""); a.code != 403 {
		t.Errorf("operator route with a merchant token: %d %s, want 403", a.code, a.body)
	}
	if a := b.do(t, "sy_m2", "POST", "/api/v1/merchants/m1/installations/ins_backfill/link/approve", ""); a.code != 404 {
		t.Errorf("operator route with another merchant's token: %d %s, want 404", a.code, a.body)
	}
	if a := b.do(t, operatorToken, "POST", "/api/v1/merchants/m1/installations/ins_backfill/link/approve", ""); a.code != 200 || !strings.Contains(a.body, `"approved":"ins_backfill"`) {
		t.Errorf("operator route: %d %s", a.code, a.body)
	}
	if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_backfill/fail", ""); a.code != 400 || !strings.Contains(a.err.Message, "klaviyo did not accept") {
		t.Errorf("vendor error in a route: %d %s, want 400 naming the vendor", a.code, a.body)
	}
	// The operator's approve (a POST that answered) invalidated the
	// installation for ingest; the GETs did not.
	if inv := b.ingest.invalidations(); len(inv) != 1 || inv[0] != "ins_backfill" {
		t.Errorf("invalidated %v, want ins_backfill once (the approve)", inv)
	}
}

// Uninstall runs the connector's Uninstall, marks the installation
// uninstalled and invalidates the ingest cache; again is harmless.
func TestUninstall(t *testing.T) {
	t.Parallel()
	au := &audited{basic: basic{name: "backfilling"}}
	b := setup(t, []connector.Connector{&basic{name: "basic"}, au}, nil)
	for range 2 {
		if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_backfill/uninstall", ""); a.code != 200 || !strings.Contains(a.body, `"state":"uninstalled"`) {
			t.Errorf("uninstall: %d %s", a.code, a.body)
		}
	}
	if a := b.do(t, "sy_m1", "POST", "/api/v1/merchants/m1/installations/ins_basic/uninstall", ""); a.code != 200 {
		t.Errorf("uninstall without the capability: %d %s, want 200 (nothing remote to remove)", a.code, a.body)
	}
	if a := b.do(t, "sy_m2", "POST", "/api/v1/merchants/m1/installations/ins_backfill/uninstall", ""); a.code != 404 {
		t.Errorf("another merchant: %d %s, want 404", a.code, a.body)
	}
	au.mu.Lock()
	defer au.mu.Unlock()
	if !slices.Equal(au.uninstalled, []string{"ins_backfill", "ins_backfill"}) {
		t.Errorf("Uninstall ran for %v", au.uninstalled)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.updated) != 3 || b.updated[0].State != domain.InstallationUninstalled {
		t.Errorf("stored %v, want uninstalled each time (the fake store keeps no state)", b.updated)
	}
	if inv := b.ingest.invalidations(); !slices.Contains(inv, "ins_backfill") {
		t.Errorf("invalidated %v", inv)
	}
}
