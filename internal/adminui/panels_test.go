package adminui

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/domain/mock"
)

// fakeAPI stands in for the admin API: it records what the UI asks and
// answers the few routes the test needs.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
	body  map[string]string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/api/v1/merchants":
		w.WriteHeader(http.StatusForbidden) // a merchant token
		_, _ = io.WriteString(w, `{"error":{"code":"forbidden","message":"this route needs the operator token"}}`)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/merchants/m1/installations/i1":
		_ = json.NewEncoder(w).Encode(domain.Installation{ID: "i1", MerchantID: "m1", Connector: "together-gorgias", State: domain.InstallationActive, RemoteIDs: map[string]string{"integration_id": "42"}})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/merchants/m1/installations":
		_ = json.NewEncoder(w).Encode(map[string]any{"installations": []domain.Installation{{ID: "i1", MerchantID: "m1", Connector: "together-gorgias", State: domain.InstallationActive}}})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/merchants/m1/installations/i1/audit":
		_ = json.NewEncoder(w).Encode(map[string]any{"rows": []string{"refund by agent for " + r.URL.Query().Get("email")}})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/merchants/m1/installations/i1/link-requests":
		_, _ = io.WriteString(w, `{"requests":[{"id":"7","brand":"Fizz & Co"}]}`)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/merchants/m1/installations/i1/link-requests/approve":
		f.body = map[string]string{}
		_ = json.NewDecoder(r.Body).Decode(&f.body)
		_, _ = io.WriteString(w, `{"status":"approved"}`)
	case r.Method == http.MethodGet:
		_, _ = io.WriteString(w, `{"connections":[],"dead_letters":[],"deliveries":[]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

func (f *fakeAPI) called(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// uiOver is a UI whose admin API is api, with one merchant token, "sy_m1"
// of merchant m1, and no connectors.
func uiOver(t *testing.T, api http.Handler) *UI {
	t.Helper()
	st := &mock.Store{LookupAPITokenFn: func(_ context.Context, plain string) (*domain.APIToken, error) {
		if plain != "sy_m1" {
			return nil, domain.Errorf(domain.ENOTFOUND, "no token")
		}
		return &domain.APIToken{MerchantID: "m1"}, nil
	}}
	set, err := connector.Build()
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{API: api, Store: st, Connectors: set, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConnectorPanelAndAction: a connector's panel is rendered on its
// installation page from the data its Load reads through the connector's
// admin routes, its timeline section on a customer's timeline, and a panel form posts to one of those routes with the
// session's token and the form's fields as the JSON body; a path that is
// not an admin route's form is refused before any call.
func TestConnectorPanelAndAction(t *testing.T) {
	api := &fakeAPI{}
	u := uiOver(t, api)
	u.panels["together-gorgias"] = Panel{Load: func(ctx context.Context, call PanelCall, in *domain.Installation) (any, error) {
		var out struct {
			Requests []struct{ ID, Brand string } `json:"requests"`
		}
		err := call(http.MethodGet, "link-requests", nil, &out)
		return out.Requests, err
	}}
	u.panels["together-gorgias"] = Panel{Load: u.panels["together-gorgias"].Load, Timeline: func(ctx context.Context, call PanelCall, in *domain.Installation, email string) (any, error) {
		var out struct {
			Rows []string `json:"rows"`
		}
		err := call(http.MethodGet, "audit?email="+url.QueryEscape(email), nil, &out)
		return out.Rows, err
	}}
	template.Must(u.pages["timeline"].New("timeline:together-gorgias").Parse(`<section id="audit">{{range .Data}}<p>{{.}}</p>{{end}}</section>`))
	template.Must(u.pages["installation"].New("panel:together-gorgias").Parse(
		`<section id="panel">{{range .Data}}<form method="post" action="{{$.ActionURL}}"><input type="hidden" name="csrf" value="{{$.CSRF}}">` +
			`<input type="hidden" name="_path" value="link-requests/approve"><input type="hidden" name="request_id" value="{{.ID}}">{{.Brand}}</form>{{end}}` +
			`<p>integration {{index .Installation.RemoteIDs "integration_id"}}</p></section>`))
	srv := httptest.NewServer(u)
	defer srv.Close()

	jar := newJar(t)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		resp, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get("/ui/login")
	if status, _ := post("/ui/login", url.Values{"csrf": {fieldValue(t, page, "csrf")}, "token": {"sy_m1"}}); status != http.StatusSeeOther {
		t.Fatalf("login = %d", status)
	}
	status, page := get("/ui/m/m1/installations/i1")
	if status != 200 || !strings.Contains(page, `<section id="panel">`) || !strings.Contains(page, "Fizz &amp; Co") || !strings.Contains(page, "integration 42") {
		t.Fatalf("installation page = %d, no panel:\n%s", status, page)
	}
	if status, page := get("/ui/m/m1/timeline?email=Ann%2Bx@Example.com"); status != 200 || !strings.Contains(page, `<section id="audit"><p>refund by agent for ann&#43;x@example.com</p></section>`) {
		t.Fatalf("timeline = %d, no connector section:\n%s", status, page)
	}
	csrf := fieldValue(t, page, "csrf")
	if status, _ := post("/ui/m/m1/installations/i1/action", url.Values{"csrf": {csrf}, "_path": {"link-requests/approve"}, "request_id": {"7"}}); status != http.StatusSeeOther {
		t.Fatalf("action = %d", status)
	}
	if n := api.called("POST /api/v1/merchants/m1/installations/i1/link-requests/approve Bearer sy_m1"); n != 1 || api.body["request_id"] != "7" || len(api.body) != 1 {
		t.Fatalf("approve calls %d, body %v; calls %v", n, api.body, api.calls)
	}
	for _, bad := range []string{"../../../merchants", "link-requests/../../x", "Link", ""} {
		if status, _ := post("/ui/m/m1/installations/i1/action", url.Values{"csrf": {csrf}, "_path": {bad}}); status != http.StatusBadRequest {
			t.Errorf("action path %q = %d, want 400", bad, status)
		}
	}
	if status, _ := post("/ui/m/m1/installations/i1/action", url.Values{"csrf": {csrf}, "_path": {"link-requests/approve"}, "_method": {"GET"}}); status != http.StatusBadRequest {
		t.Errorf("action with method GET = %d, want 400", status)
	}
	if status, _ := post("/ui/m/m1/installations/i1/action", url.Values{"_path": {"link-requests/approve"}, "request_id": {"8"}}); status != http.StatusForbidden {
		t.Errorf("action without csrf = %d, want 403", status)
	}
	if status, _ := post("/ui/m/m2/installations/i1/action", url.Values{"csrf": {csrf}, "_path": {"link-requests/approve"}}); status != http.StatusNotFound {
		t.Errorf("action on another merchant = %d, want 404", status)
	}
	if n := api.called("POST"); n != 1 {
		t.Errorf("%d POSTs reached the API, want only the one approved", n)
	}
}

// TestSessionCookieSecureOverTLS: served over TLS, the session cookie is
// Secure (and still HttpOnly, SameSite=Strict).
func TestSessionCookieSecureOverTLS(t *testing.T) {
	st := &mock.Store{LookupAPITokenFn: func(_ context.Context, plain string) (*domain.APIToken, error) {
		return &domain.APIToken{MerchantID: "m1"}, nil
	}}
	set, err := connector.Build()
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{API: &fakeAPI{}, Store: st, Connectors: set})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(u)
	defer srv.Close()
	c := srv.Client()
	c.Jar = newJar(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "sy_login" && !ck.Secure {
			t.Errorf("login cookie over TLS is not Secure")
		}
	}
	resp, err = c.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {fieldValue(t, string(page), "csrf")}, "token": {"sy_m1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "sy_session" {
			sc = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login over TLS = %d, session cookie %+v", resp.StatusCode, sc)
	}
}
