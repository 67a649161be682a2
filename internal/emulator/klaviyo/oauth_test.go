package klaviyo

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchyard/internal/emulator/emukit"
)

func emukitFaults(outage bool) emukit.Faults { return emukit.Faults{Outage: outage} }

const redirect = "https://hub.example/oauth/callback/klaviyo"

func challenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authorizeURL(scope, verifier string, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {DefaultOAuthClientID}, "redirect_uri": {redirect},
		"scope": {scope}, "state": {"st8"}, "code_challenge_method": {"S256"}, "code_challenge": {challenge(verifier)}}
	for k, v := range extra {
		q[k] = v
	}
	return "/oauth/authorize?" + q.Encode()
}

func serve(e *Emulator, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// codeFrom follows an authorize answer's redirect and returns the code.
func codeFrom(t *testing.T, rec *httptest.ResponseRecorder) url.Values {
	t.Helper()
	if rec.Code != http.StatusFound {
		t.Fatalf("authorize: %d %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), redirect) {
		t.Fatalf("redirect to %q", rec.Header().Get("Location"))
	}
	return u.Query()
}

func tokenCall(e *Emulator, form url.Values, basic bool) (int, map[string]any) {
	req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(DefaultOAuthClientID, DefaultOAuthClientSecret)
	}
	rec := serve(e, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func TestOAuthCodeFlowRefreshAndScopes(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.OAuthAutoApprove = true })
	q := codeFrom(t, serve(h.e, httptest.NewRequest("GET", authorizeURL("profiles:write lists:write", "verifier-1234567890", nil), nil)))
	if q.Get("state") != "st8" || q.Get("code") == "" {
		t.Fatalf("redirect query = %v", q)
	}
	// Wrong verifier burns the code.
	if st, m := tokenCall(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"wrong"}}, true); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", st, m)
	}
	q = codeFrom(t, serve(h.e, httptest.NewRequest("GET", authorizeURL("profiles:write lists:write", "verifier-1234567890", nil), nil)))
	st, tok := tokenCall(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"verifier-1234567890"}}, true)
	if st != 200 || tok["token_type"] != "Bearer" || tok["expires_in"].(float64) != 3600 || tok["refresh_token"] == "" {
		t.Fatalf("token: %d %v", st, tok)
	}
	bearer := "Bearer " + tok["access_token"].(string)
	h.request("GET", "/api/profiles", nil, map[string]string{"Authorization": bearer}).want(t, 200)
	// profiles:write implies profiles:read; events:write was not granted.
	r := h.request("POST", "/api/events", eventBody("M", "a@example.com", map[string]any{}, nil), map[string]string{"Authorization": bearer}).want(t, 403)
	if r.errCode() != "permission_denied" {
		t.Errorf("missing scope code = %q", r.errCode())
	}
	// The code is single use.
	if st, _ := tokenCall(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"verifier-1234567890"}}, true); st != 400 {
		t.Errorf("code reuse: %d, want 400", st)
	}

	h.clock.Advance(time.Hour)
	if r := h.request("GET", "/api/profiles", nil, map[string]string{"Authorization": bearer}); r.status != 401 {
		t.Errorf("expired token: %d, want 401", r.status)
	}
	// Form client auth works too; the refresh token is kept (no rotation).
	st, tok2 := tokenCall(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)},
		"client_id": {DefaultOAuthClientID}, "client_secret": {DefaultOAuthClientSecret}}, false)
	if st != 200 || tok2["access_token"] == tok["access_token"] || tok2["refresh_token"] != tok["refresh_token"] {
		t.Fatalf("refresh: %d %v", st, tok2)
	}
	h.request("GET", "/api/profiles", nil, map[string]string{"Authorization": "Bearer " + tok2["access_token"].(string)}).want(t, 200)

	if st, m := tokenCall(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, false); st != 401 || m["error"] != "invalid_client" {
		t.Errorf("no client auth: %d %v", st, m)
	}
	// Revoking the refresh token kills the pair.
	req := httptest.NewRequest("POST", "/oauth/revoke", strings.NewReader(url.Values{"token": {tok["refresh_token"].(string)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(DefaultOAuthClientID, DefaultOAuthClientSecret)
	if rec := serve(h.e, req); rec.Code != 200 {
		t.Fatalf("revoke: %d", rec.Code)
	}
	if r := h.request("GET", "/api/profiles", nil, map[string]string{"Authorization": "Bearer " + tok2["access_token"].(string)}); r.status != 401 {
		t.Errorf("after revoke: %d, want 401", r.status)
	}
	if st, _ := tokenCall(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true); st != 400 {
		t.Errorf("refresh after revoke: %d, want 400", st)
	}
}

func TestOAuthConsentPageAndErrors(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.RotateRefreshTokens = true })
	rec := serve(h.e, httptest.NewRequest("GET", authorizeURL("events:write", "v-abcdefghijklmnopqrstuvwxyz0123456789", nil), nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `value="allow"`) || !strings.Contains(rec.Body.String(), "events:write") {
		t.Fatalf("consent page: %d %s", rec.Code, rec.Body)
	}
	post := func(decision string) *httptest.ResponseRecorder {
		u, _ := url.Parse(authorizeURL("events:write", "v-abcdefghijklmnopqrstuvwxyz0123456789", nil))
		form := u.Query()
		form.Set("decision", decision)
		req := httptest.NewRequest("POST", "/oauth/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(h.e, req)
	}
	if q := codeFrom(t, post("deny")); q.Get("error") != "access_denied" {
		t.Errorf("deny: %v", q)
	}
	q := codeFrom(t, post("allow"))
	st, tok := tokenCall(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {"v-abcdefghijklmnopqrstuvwxyz0123456789"}}, true)
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, tok)
	}
	h.request("POST", "/api/events", eventBody("M", "a@example.com", map[string]any{}, nil), map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)}).want(t, 202)
	_, tok2 := tokenCall(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
	if tok2["refresh_token"] == tok["refresh_token"] || tok2["refresh_token"] == nil {
		t.Errorf("rotation: old %v new %v", tok["refresh_token"], tok2["refresh_token"])
	}
	if st, _ := tokenCall(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true); st != 400 {
		t.Errorf("rotated-out refresh token accepted: %d", st)
	}

	// No PKCE → error redirect; unknown client → 400 without redirect.
	u, _ := url.Parse(authorizeURL("events:write", "x", nil))
	noPKCE := u.Query()
	noPKCE.Del("code_challenge")
	if q := codeFrom(t, serve(h.e, httptest.NewRequest("GET", "/oauth/authorize?"+noPKCE.Encode(), nil))); q.Get("error") != "invalid_request" {
		t.Errorf("no PKCE: %v", q)
	}
	if rec := serve(h.e, httptest.NewRequest("GET", authorizeURL("x", "y", url.Values{"client_id": {"evil"}}), nil)); rec.Code != 400 {
		t.Errorf("unknown client: %d", rec.Code)
	}
}

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	r := h.request("POST", "/_emulator/accounts", `{"id":"Acme01","private_key":"pk_acme"}`, map[string]string{"Content-Type": "application/json"}).want(t, 201)
	if !strings.Contains(string(r.body), "pk_acme") {
		t.Errorf("add account: %s", r.body)
	}
	h.request("POST", "/_emulator/accounts", `{"id":"Acme01"}`, nil).want(t, 409)
	r = h.request("POST", "/_emulator/seed", `{"profiles":5,"lists":["Seeded"]}`, nil).want(t, 200)
	a := h.account()
	if len(a.Profiles) != 5 || len(a.Lists) != 1 || a.Profiles[0].FirstName == "" {
		t.Errorf("seeded %d profiles %d lists: %s", len(a.Profiles), len(a.Lists), r.body)
	}
	h.request("POST", "/_emulator/seed", `{"account":"nope","profiles":1}`, nil).want(t, 404)
	r = h.request("GET", "/_emulator/state", nil, nil).want(t, 200)
	var st struct {
		State State `json:"state"`
	}
	if err := json.Unmarshal(r.body, &st); err != nil || len(st.State.Accounts) != 2 {
		t.Errorf("state dump: %v %s", err, r.body)
	}
	h.request("POST", "/_emulator/jobs/advance", `{}`, nil).want(t, 200)
	h.request("POST", "/_emulator/tokens/expire", nil, nil).want(t, 200)
	if r := h.do("GET", "/api/nothing-here", nil); r.status != 404 || r.errCode() != "not_found" {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
	if r := h.do("PUT", "/api/lists", nil); r.status != 405 {
		t.Errorf("wrong method: %d", r.status)
	}
	h.e.Close()
	h.e.Close() // safe twice
}
