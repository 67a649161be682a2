package adminui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"switchyard/internal/domain"
)

// konnektiveAPI stands in for the admin API of one konnektive-gorgias
// installation: it records the PATCH bodies and answers the installation
// PATCH with checkErr when set (the API's two-sided credentials check).
type konnektiveAPI struct {
	mu       sync.Mutex
	patches  map[string]map[string]any // path → body
	order    []string
	checkErr string
}

func (f *konnektiveAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/v1/merchants/m1/installations/k1":
		_ = json.NewEncoder(w).Encode(domain.Installation{ID: "k1", MerchantID: "m1", Connector: "konnektive-gorgias", State: domain.InstallationActive,
			Connections: map[string]string{"gorgias": "con_g", "konnektive": "con_k"}, Settings: map[string]string{"IntegrationId": "77"}})
	case r.Method == http.MethodGet && p == "/api/v1/merchants/m1/installations/k1/plugin-settings":
		_, _ = io.WriteString(w, `{"baseUrl":"https://acme.gorgias.com/api","userName":"a@acme.com","apiKeySet":true,"IntegrationId":"77",
			"crmBaseUrl":"https://api.konnektive.com","crmLoginId":"demo","crmPasswordSet":true,"hubUrl":"https://hub.example.com","pullTimeout":"3s","cacheTtl":"1m0s","actionWindow":"10m0s"}`)
	case r.Method == http.MethodGet && p == "/api/v1/merchants/m1/installations/k1/audit":
		_, _ = io.WriteString(w, `{"audit":[]}`)
	case r.Method == http.MethodPatch:
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if f.patches == nil {
			f.patches = map[string]map[string]any{}
		}
		f.patches[p] = body
		f.order = append(f.order, p)
		if cfg, _ := body["config"].(map[string]any); cfg["base_url"] == "http://10.0.0.1" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"code":"invalid","message":"base_url host 10.0.0.1 is not allowed"}}`)
			return
		}
		if p == "/api/v1/merchants/m1/installations/k1" && f.checkErr != "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "invalid", "message": f.checkErr}})
			return
		}
		_, _ = io.WriteString(w, `{}`)
	case r.Method == http.MethodGet:
		_, _ = io.WriteString(w, `{"connections":[],"dead_letters":[],"deliveries":[]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

func (f *konnektiveAPI) reset(checkErr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patches, f.order, f.checkErr = nil, nil, checkErr
}

func (f *konnektiveAPI) body(path string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.patches[path]
	if !ok {
		return "-"
	}
	raw, _ := json.Marshal(b)
	return string(raw)
}

// TestKonnektivePluginSettingsForm: the plugin settings form sends each
// changed field to where the guide maps it (the Gorgias and Konnektive
// connections, the installation's settings), an empty secret keeps the
// stored one, IntegrationId is never sent, the installation PATCH (the
// API's credentials check) comes last, and its error is shown as the API
// wrote it, naming the side.
func TestKonnektivePluginSettingsForm(t *testing.T) {
	api := &konnektiveAPI{}
	u := uiOver(t, api)
	srv := httptest.NewServer(u)
	defer srv.Close()
	c := &http.Client{Jar: newJar(t), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(form url.Values) int {
		resp, err := c.PostForm(srv.URL+"/ui/m/m1/installations/k1/action", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	page := get("/ui/login")
	resp, err := c.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {fieldValue(t, page, "csrf")}, "token": {"sy_m1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page = get("/ui/m/m1/installations/k1")
	if !strings.Contains(page, `id="konnektive-settings"`) || !strings.Contains(page, `value="77" readonly`) || !strings.Contains(page, "apiKey is set") {
		t.Fatalf("no plugin settings form:\n%s", page)
	}
	csrf := fieldValue(t, page, "csrf")
	form := func(kv ...string) url.Values {
		f := url.Values{"csrf": {csrf}, "_form": {"plugin-settings"}, "IntegrationId": {"999"},
			"baseUrl": {"https://acme.gorgias.com/api"}, "userName": {"a@acme.com"}, "apiKey": {""},
			"crmLoginId": {"demo"}, "crmPassword": {""}, "crmBaseUrl": {"https://api.konnektive.com"},
			"hubUrl": {"https://hub.example.com"}, "pullTimeout": {"3s"}, "cacheTtl": {"1m0s"}, "actionWindow": {"10m0s"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	const (
		gPath = "/api/v1/merchants/m1/connections/con_g"
		kPath = "/api/v1/merchants/m1/connections/con_k"
		iPath = "/api/v1/merchants/m1/installations/k1"
	)

	// Nothing changed: no connection touched, the check still runs.
	if status := post(form()); status != http.StatusSeeOther {
		t.Fatalf("save = %d", status)
	}
	if g, k, i := api.body(gPath), api.body(kPath), api.body(iPath); g != "-" || k != "-" || i != `{"settings":{}}` {
		t.Errorf("unchanged form sent gorgias %s, konnektive %s, installation %s", g, k, i)
	}
	if page := get("/ui/m/m1/installations/k1"); !strings.Contains(page, "nothing changed") {
		t.Errorf("no notice after an unchanged save")
	}

	// Every field changed: each goes where the guide maps it.
	api.reset("")
	post(form("baseUrl", "https://acme2.gorgias.com/api/", "userName", "b@acme.com", "apiKey", "new-key", "crmLoginId", "api-user",
		"crmPassword", "new-pass", "crmBaseUrl", "https://api2.konnektive.com/", "pullTimeout", "2s"))
	if g := api.body(gPath); g != `{"config":{"base_url":"https://acme2.gorgias.com","email":"b@acme.com"},"secrets":{"api_key":"new-key"}}` {
		t.Errorf("gorgias connection PATCH %s", g)
	}
	if k := api.body(kPath); k != `{"config":{"base_url":"https://api2.konnektive.com","login_id":"api-user"},"secrets":{"password":"new-pass"}}` {
		t.Errorf("konnektive connection PATCH %s", k)
	}
	if i := api.body(iPath); i != `{"settings":{"pullTimeout":"2s"}}` {
		t.Errorf("installation PATCH %s", i)
	}
	if n := len(api.order); n != 3 || api.order[n-1] != iPath {
		t.Errorf("PATCH order %v: the installation (the check) must come last", api.order)
	}

	// A wrong key: the API's error, naming the side, with what was stored.
	api.reset("Gorgias (baseUrl, userName, apiKey): gorgias did not accept the connection's credentials: auth (HTTP 401)")
	post(form("apiKey", "wrong"))
	if g := api.body(gPath); g != `{"secrets":{"api_key":"wrong"}}` {
		t.Errorf("gorgias connection PATCH %s", g)
	}
	page = get("/ui/m/m1/installations/k1")
	if !strings.Contains(page, `<p class="flash error" role="status" id="flash">Gorgias (baseUrl, userName, apiKey): gorgias did not accept`) ||
		!strings.Contains(page, "The new Gorgias values were stored but do not pass this check") {
		t.Errorf("error after a wrong key:\n%s", page)
	}

	// The CRM connection refused after the Gorgias one was stored: said,
	// and the check is not run.
	api.reset("")
	post(form("apiKey", "k2", "crmBaseUrl", "http://10.0.0.1"))
	if i := api.body(iPath); i != "-" || api.body(gPath) == "-" {
		t.Errorf("after a refused connection: gorgias %s, installation %s", api.body(gPath), i)
	}
	if page := get("/ui/m/m1/installations/k1"); !strings.Contains(page, "base_url host 10.0.0.1 is not allowed. The new Gorgias values were stored but not checked yet") {
		t.Errorf("error after a refused connection:\n%s", page)
	}

	// An unknown form is refused before any call.
	api.reset("")
	if status := post(url.Values{"csrf": {csrf}, "_form": {"nope"}}); status != http.StatusBadRequest {
		t.Errorf("unknown form = %d, want 400", status)
	}
	if len(api.order) != 0 {
		t.Errorf("an unknown form sent %v", api.order)
	}
}
