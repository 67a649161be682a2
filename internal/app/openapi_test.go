package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"switchyard/internal/app"
	konnektiveemu "switchyard/internal/emulator/konnektive"
)

// invalidKey marks a request the test sends invalid on purpose: only its
// (error) response is checked against the spec.
type invalidKey struct{}

// validating checks every admin API exchange against api/openapi.yaml and
// remembers which operations it saw.
type validating struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: not in api/openapi.yaml: %v", req.Method, req.URL.Path, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
			if !strings.HasPrefix(ai.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
				return fmt.Errorf("no bearer token")
			}
			return nil
		}}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && req.Context().Value(invalidKey{}) == nil {
		v.t.Errorf("%s %s request: %v", req.Method, req.URL.Path, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("%s %s response %d: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	v.mu.Lock()
	v.seen[route.Operation.OperationID] = true
	v.mu.Unlock()
	return resp, nil
}

// TestAdminAPIMatchesOpenAPI calls every admin operation, successes and
// errors, and validates each request and response against the spec.
func TestAdminAPIMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("api/openapi.yaml is not valid: %v", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := &validating{t: t, router: router, seen: map[string]bool{}}
	client := &http.Client{Transport: v, Timeout: 30 * time.Second}

	// A Konnektive CRM for konnektive-gorgias's admin routes.
	crm := httptest.NewServer(konnektiveemu.New(konnektiveemu.Config{}))
	t.Cleanup(crm.Close)
	h := startHub(t, time.Second, func(c *app.Config) {
		c.AllowVendorHosts = append(c.AllowVendorHosts, strings.TrimPrefix(crm.URL, "http://"))
	})
	call := func(method, path, body string, want int) {
		t.Helper()
		ctx := context.Background()
		if want == 400 {
			ctx = context.WithValue(ctx, invalidKey{}, true)
		}
		req, _ := http.NewRequestWithContext(ctx, method, h.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
	}
	m := "/api/v1/merchants/" + h.merchant
	call("GET", "/api/v1/merchants", "", 200)
	call("POST", "/api/v1/merchants", `{"name":"Second"}`, 201)
	call("POST", "/api/v1/merchants", `{"name":"x","color":"red"}`, 400)
	call("GET", m, "", 200)
	call("GET", "/api/v1/merchants/mer_nope", "", 404)
	call("GET", m+"/connections", "", 200)
	call("POST", m+"/connections", `{"vendor":"shopify","account":"demo-store.myshopify.com","secrets":{"access_token":"shpat"}}`, 201)
	call("POST", m+"/connections", `{"vendor":"fax","account":"x"}`, 400)
	var in struct{ Connections map[string]string }
	h.api("GET", m+"/installations/"+h.c1, "", 200, &in)
	call("PATCH", m+"/connections/"+in.Connections["whiplash"], `{"config":{"note":"rotated"}}`, 200)
	call("GET", m+"/installations", "", 200)
	call("POST", m+"/installations", `{"connector":"whiplash-gorgias","connections":{"whiplash":"con_nope","gorgias":"con_nope"}}`, 400)
	call("GET", m+"/installations/"+h.c1, "", 200)
	call("PATCH", m+"/installations/"+h.c1, `{"settings":{"display_name":"Whiplash → Gorgias"}}`, 200)
	call("POST", m+"/installations/"+h.c1+"/install", "", 200)
	// A degraded installation shows its reason.
	if ok, err := h.app.Store().DegradeInstallation(h.ctx, h.merchant, h.c1, "auth failure: test"); err != nil || !ok {
		t.Fatalf("degrade: %v %v", ok, err)
	}
	call("GET", m+"/installations/"+h.c1, "", 200)
	call("POST", m+"/installations/"+h.c2+"/backfill", "", 400)
	call("GET", m+"/installations/"+h.c2+"/backfill", "", 404)
	body := orderBody(t, 5, 1, "oa@example.com", "Open Api", 100, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	if err := h.post(h.c1, body); err != nil {
		t.Fatal(err)
	}
	h.idle(time.Minute)
	call("GET", m+"/events?email=oa@example.com&limit=10", "", 200)
	var evs struct{ Events []struct{ ID int64 } }
	h.api("GET", m+"/events", "", 200, &evs)
	call("POST", fmt.Sprintf("%s/events/%d/replay", m, evs.Events[0].ID), "", 202)
	call("POST", m+"/events/abc/replay", "", 400)
	call("GET", m+"/deliveries?vendor=gorgias", "", 200)
	call("GET", fmt.Sprintf("%s/deliveries?event=%d&before=99999", m, evs.Events[0].ID), "", 200)
	call("GET", fmt.Sprintf("%s/events?before=%d&limit=5", m, evs.Events[0].ID), "", 200)
	call("GET", m+"/dead-letters?pending=true", "", 200)
	call("GET", m+"/dead-letters?before=5", "", 200)
	call("POST", m+"/dead-letters/424242/replay", "", 404)
	call("GET", m+"/tokens", "", 200)
	var tok struct{ ID string }
	req, _ := http.NewRequest("POST", h.url+m+"/tokens", strings.NewReader(`{"name":"desk"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	call("DELETE", m+"/tokens/"+tok.ID, "", 204)
	call("DELETE", m+"/tokens/"+tok.ID, "", 404)
	// together-gorgias: link request, decision and the OAuth links.
	var sc, tg struct{ ID string }
	h.api("POST", m+"/connections", `{"vendor":"shopify","account":"acme.myshopify.com","config":{"client_id":"app","redirect_url":"https://hub.example.com/oauth/callback/together-gorgias/shopify"},"secrets":{"client_secret":"s"}}`, 201, &sc)
	h.api("POST", m+"/installations", fmt.Sprintf(`{"connector":"together-gorgias","connections":{"shopify":%q,"gorgias":%q}}`, sc.ID, in.Connections["gorgias"]), 201, &tg)
	ti := m + "/installations/" + tg.ID
	call("GET", ti+"/link", "", 200)
	call("POST", ti+"/link", `{"shopify_store":"acme.com","gorgias_account":"acme.gorgias.com"}`, 400)
	call("POST", ti+"/link", `{"shopify_store":"acme.myshopify.com","gorgias_account":"acme.gorgias.com"}`, 202)
	call("POST", ti+"/link/reject", `{"reason":"unverified"}`, 200)
	call("POST", ti+"/link", `{"shopify_store":"acme.myshopify.com","gorgias_account":"acme.gorgias.com"}`, 202)
	call("POST", ti+"/link/approve", "", 200)
	call("POST", ti+"/authorize", "", 200)
	call("POST", m+"/installations/"+h.c2+"/uninstall", "", 200)
	// yotpo-gorgias's routes answer 404 for another connector's installation
	// (their 200s are validated in TestYotpoGorgiasSyncRule).
	call("GET", m+"/installations/"+h.c1+"/integration-name", "", 404)
	call("PUT", m+"/installations/"+h.c1+"/integration-name", `{"name":"Yotpo"}`, 404)
	// konnektive-gorgias: its audit rows and plugin settings.
	var kc, c3 struct{ ID string }
	h.api("POST", m+"/connections", fmt.Sprintf(`{"vendor":"konnektive","account":"demo","config":{"base_url":%q},"secrets":{"password":"konnektive-pass"}}`, crm.URL), 201, &kc)
	h.api("POST", m+"/installations", fmt.Sprintf(`{"connector":"konnektive-gorgias","connections":{"konnektive":%q,"gorgias":%q},"settings":{"hubUrl":%q}}`,
		kc.ID, in.Connections["gorgias"], h.url), 201, &c3)
	call("GET", m+"/installations/"+c3.ID+"/audit?ticket=1&limit=10", "", 200)
	call("GET", m+"/installations/"+h.c1+"/audit", "", 404)
	call("GET", m+"/installations/"+c3.ID+"/plugin-settings", "", 200)
	call("GET", "/api/v1/jobs", "", 200)
	call("GET", "/api/v1/rate-limits", "", 200)

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !v.seen[op.OperationID] {
				t.Errorf("%s %s (%s) was not exercised", method, path, op.OperationID)
			}
		}
	}
}
