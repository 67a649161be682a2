package shopify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// simClock is a simulated clock tests move by hand.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tokenAnswer is the token endpoint's JSON answer, success or error.
type tokenAnswer struct {
	Status                int
	AccessToken           string          `json:"access_token"`
	ExpiresIn             *int64          `json:"expires_in"`
	RefreshToken          string          `json:"refresh_token"`
	RefreshTokenExpiresIn *int64          `json:"refresh_token_expires_in"`
	Scope                 string          `json:"scope"`
	Error                 string          `json:"error"`
	ErrorDescription      string          `json:"error_description"`
	AssociatedUser        json.RawMessage `json:"associated_user"`
}

func postToken(t *testing.T, s *httptest.Server, contentType, body string) tokenAnswer {
	t.Helper()
	resp, err := http.Post(s.URL+"/admin/oauth/access_token", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out tokenAnswer
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("token answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	out.Status = resp.StatusCode
	return out
}

func refreshForm(secret, rt string) string {
	return url.Values{"client_id": {DefaultClientID}, "client_secret": {secret}, "grant_type": {"refresh_token"},
		"refresh_token": {rt}}.Encode()
}

const formType = "application/x-www-form-urlencoded"

// authCode runs the authorize step (auto-approved) and returns the code.
func authCode(t *testing.T, s *httptest.Server, extra url.Values) string {
	t.Helper()
	q := url.Values{"client_id": {DefaultClientID}, "scope": {"read_orders,read_customers"},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"n1"}, "auto_approve": {"1"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := noRedirect().Get(s.URL + "/admin/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

func shopName(t *testing.T, s *httptest.Server, tok string) (int, string) {
	t.Helper()
	st, out, raw := gql(t, s, tok, `{ shop { name } }`, nil)
	if st == http.StatusOK {
		if shop, _ := out.Data["shop"].(map[string]any); shop != nil {
			name, _ := shop["name"].(string)
			return st, name
		}
	}
	return st, raw
}

func TestExpiringOfflineTokenLifecycle(t *testing.T) {
	t.Parallel()
	clk := &simClock{now: t0}
	_, s := newServer(t, Config{Now: clk.Now, OfflineTokenTTL: 2 * time.Minute, RefreshTokenTTL: time.Hour})

	// Auth code grant with expiring=1 (form body).
	code := authCode(t, s, nil)
	first := postToken(t, s, formType, url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
		"code": {code}, "expiring": {"1"}}.Encode())
	if first.Status != 200 || first.AccessToken == "" || first.RefreshToken == "" || first.Scope != "read_orders,read_customers" {
		t.Fatalf("expiring grant: %+v", first)
	}
	if first.ExpiresIn == nil || *first.ExpiresIn != 120 || first.RefreshTokenExpiresIn == nil || *first.RefreshTokenExpiresIn != 3600 {
		t.Fatalf("lifetimes: expires_in %v, refresh_token_expires_in %v", first.ExpiresIn, first.RefreshTokenExpiresIn)
	}
	if st, name := shopName(t, s, first.AccessToken); st != 200 || name != "Demo Store" {
		t.Fatalf("fresh token: %d %s", st, name)
	}

	// Expired at exactly expires_in: 401 with Shopify's REST error body.
	clk.Advance(2 * time.Minute)
	st, raw := shopName(t, s, first.AccessToken)
	if st != http.StatusUnauthorized || !strings.Contains(raw, `"errors":"[API] Invalid API key or access token`) {
		t.Fatalf("expired token: %d %s", st, raw)
	}

	// Refresh: a new pair with the configured lifetimes; the new token works.
	second := postToken(t, s, formType, refreshForm(DefaultClientSecret, first.RefreshToken))
	if second.Status != 200 || second.AccessToken == "" || second.AccessToken == first.AccessToken ||
		second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.Scope != first.Scope {
		t.Fatalf("refresh: %+v", second)
	}
	if *second.ExpiresIn != 120 || *second.RefreshTokenExpiresIn != 3600 {
		t.Fatalf("refreshed lifetimes: %d %d", *second.ExpiresIn, *second.RefreshTokenExpiresIn)
	}
	if st, name := shopName(t, s, second.AccessToken); st != 200 || name != "Demo Store" {
		t.Fatalf("refreshed token: %d %s", st, name)
	}

	// Refresh before expiry (JSON body): the previous access token stops
	// working at once, as only one expiring token is active per app and shop.
	clk.Advance(time.Minute)
	third := postToken(t, s, "application/json", `{"client_id":"switchyard","client_secret":"shopify-app-secret","grant_type":"refresh_token","refresh_token":"`+second.RefreshToken+`"}`)
	if third.Status != 200 || third.AccessToken == "" {
		t.Fatalf("json refresh: %+v", third)
	}
	if st, _ := shopName(t, s, second.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("replaced access token still answers %d", st)
	}
	if st, _ := shopName(t, s, third.AccessToken); st != 200 {
		t.Errorf("new access token answers %d", st)
	}

	// The refresh token has its own lifetime, renewed by each refresh.
	clk.Advance(time.Hour)
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, third.RefreshToken)); got.Status != 400 || got.Error != "invalid_grant" {
		t.Errorf("expired refresh token: %+v", got)
	}
}

func TestExpiringTokenGrantForms(t *testing.T) {
	t.Parallel()
	_, s := newServer(t, Config{})
	// expiring as a JSON number, and as "true".
	for _, expiring := range []string{`1`, `"1"`, `true`} {
		got := postToken(t, s, "application/json", `{"client_id":"switchyard","client_secret":"shopify-app-secret","code":"`+
			authCode(t, s, nil)+`","expiring":`+expiring+`}`)
		if got.Status != 200 || got.RefreshToken == "" || got.ExpiresIn == nil || *got.ExpiresIn != 3600 ||
			*got.RefreshTokenExpiresIn != int64(90*24*3600) {
			t.Errorf("expiring=%s: %+v", expiring, got)
		}
	}
	// Without expiring: a non-expiring token, no refresh token.
	got := postToken(t, s, "application/json", `{"client_id":"switchyard","client_secret":"shopify-app-secret","code":"`+authCode(t, s, nil)+`"}`)
	if got.Status != 200 || got.AccessToken == "" || got.RefreshToken != "" || got.ExpiresIn != nil {
		t.Errorf("non-expiring: %+v", got)
	}
	// Online (per-user) tokens ignore expiring: 24 h, no refresh token.
	got = postToken(t, s, "application/json", `{"client_id":"switchyard","client_secret":"shopify-app-secret","expiring":"1","code":"`+
		authCode(t, s, url.Values{"grant_options[]": {"per-user"}})+`"}`)
	if got.Status != 200 || got.RefreshToken != "" || got.ExpiresIn == nil || *got.ExpiresIn != 86400 || len(got.AssociatedUser) == 0 {
		t.Errorf("per-user: %+v", got)
	}
}

func TestRefreshTokenErrors(t *testing.T) {
	t.Parallel()
	clk := &simClock{now: t0}
	e, s := newServer(t, Config{Now: clk.Now})
	_, rt := e.IssueExpiringToken("", "read_orders")
	if rt == "" {
		t.Fatal("no refresh token")
	}
	// Another app on the same emulator.
	resp, err := http.Post(s.URL+"/_emulator/accounts", "application/json",
		strings.NewReader(`{"shop":"other.myshopify.com","client_id":"other-app","client_secret":"other-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown refresh token", refreshForm(DefaultClientSecret, "shprt_nope"), "invalid_grant"},
		{"missing refresh token", refreshForm(DefaultClientSecret, ""), "invalid_request"},
		{"wrong secret", refreshForm("wrong", rt), "invalid_client"},
		{"another app's client", url.Values{"client_id": {"other-app"}, "client_secret": {"other-secret"},
			"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), "invalid_grant"},
		{"unsupported grant", url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
			"grant_type": {"client_credentials"}}.Encode(), "unsupported_grant_type"},
		{"access token as refresh token", refreshForm(DefaultClientSecret, e.IssueToken("", "read_orders")), "invalid_grant"},
	} {
		if got := postToken(t, s, formType, tc.body); got.Status != 400 || got.Error != tc.want || got.AccessToken != "" {
			t.Errorf("%s: %+v, want 400 %s", tc.name, got, tc.want)
		}
	}
	// None of the failures used the refresh token up.
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, rt)); got.Status != 200 {
		t.Errorf("refresh after failures: %+v", got)
	}
}

func TestRefreshTokenRotationAndRecovery(t *testing.T) {
	t.Parallel()
	clk := &simClock{now: t0}
	e, s := newServer(t, Config{Now: clk.Now})
	a1, r1 := e.IssueExpiringToken("", "read_orders")
	p2 := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1))
	if p2.Status != 200 {
		t.Fatalf("first refresh: %+v", p2)
	}
	if st, _ := shopName(t, s, a1); st != 401 {
		t.Errorf("access token replaced by a refresh answers %d", st)
	}
	// The answer was lost: r1 is retried before r2 is used, and works. The
	// pair it returns replaces the lost one.
	clk.Advance(time.Hour)
	p3 := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1))
	if p3.Status != 200 || p3.RefreshToken == p2.RefreshToken || p3.AccessToken == p2.AccessToken {
		t.Fatalf("recovery retry: %+v", p3)
	}
	if st, _ := shopName(t, s, p2.AccessToken); st != 401 {
		t.Errorf("lost pair's access token answers %d", st)
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, p2.RefreshToken)); got.Error != "invalid_grant" {
		t.Errorf("lost pair's refresh token: %+v", got)
	}
	// Using the replacement retires r1.
	p4 := postToken(t, s, formType, refreshForm(DefaultClientSecret, p3.RefreshToken))
	if p4.Status != 200 {
		t.Fatalf("refresh with replacement: %+v", p4)
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1)); got.Error != "invalid_grant" {
		t.Errorf("retired refresh token: %+v", got)
	}
	// A used refresh token can be retried for 30 days after its first use.
	clk.Advance(DefaultRefreshRecovery)
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, p3.RefreshToken)); got.Error != "invalid_grant" {
		t.Errorf("used refresh token past the recovery window: %+v", got)
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, p4.RefreshToken)); got.Status != 200 {
		t.Errorf("latest refresh token: %+v", got)
	}
}

func TestRefreshTokenStrictSingleUse(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{RefreshRecovery: -1})
	_, r1 := e.IssueExpiringToken("")
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1)); got.Status != 200 {
		t.Fatalf("refresh: %+v", got)
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1)); got.Status != 400 || got.Error != "invalid_grant" {
		t.Errorf("used refresh token: %+v", got)
	}
}

func TestNewExpiringGrantRevokesPrevious(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{})
	legacy := e.IssueToken("", "read_orders")
	a1, r1 := e.IssueExpiringToken("", "read_orders")
	second := postToken(t, s, formType, url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
		"code": {authCode(t, s, nil)}, "expiring": {"1"}}.Encode())
	if second.Status != 200 {
		t.Fatalf("grant: %+v", second)
	}
	if st, _ := shopName(t, s, a1); st != 401 {
		t.Errorf("previous expiring access token answers %d", st)
	}
	if got := postToken(t, s, formType, refreshForm(DefaultClientSecret, r1)); got.Error != "invalid_grant" {
		t.Errorf("previous refresh token: %+v", got)
	}
	for name, tok := range map[string]string{"new": second.AccessToken, "non-expiring": legacy} {
		if st, _ := shopName(t, s, tok); st != 200 {
			t.Errorf("%s token answers %d", name, st)
		}
	}
	// Another shop's expiring token is not affected.
	resp, err := http.Post(s.URL+"/_emulator/accounts", "application/json", strings.NewReader(`{"shop":"second.myshopify.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	other, _ := e.IssueExpiringToken("second.myshopify.com", "read_orders")
	e.IssueExpiringToken("", "read_orders")
	if st, name := shopName(t, s, other); st != 200 || name != "Second" {
		t.Errorf("other shop's token: %d %s", st, name)
	}
}

func TestRejectNonExpiringTokens(t *testing.T) {
	t.Parallel()
	clk := &simClock{now: time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)}
	e, s := newServer(t, Config{Now: clk.Now, RejectNonExpiringFrom: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	legacy := e.IssueToken("", "read_orders")
	if st, _ := shopName(t, s, legacy); st != 200 {
		t.Fatalf("before the cut-off: %d", st)
	}
	clk.Advance(time.Minute)
	if st, raw := shopName(t, s, legacy); st != http.StatusForbidden || !strings.Contains(raw, "Non-expiring access tokens") {
		t.Errorf("after the cut-off: %d %s", st, raw)
	}
	a, _ := e.IssueExpiringToken("", "read_orders")
	if st, _ := shopName(t, s, a); st != 200 {
		t.Errorf("expiring token after the cut-off: %d", st)
	}
}

func TestControlExpiringToken(t *testing.T) {
	t.Parallel()
	_, s := newServer(t, Config{OfflineTokenTTL: 30 * time.Second})
	resp, err := http.Post(s.URL+"/_emulator/tokens", "application/json", strings.NewReader(`{"scopes":"read_orders","expiring":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || got.RefreshToken == "" || got.ExpiresIn == nil || *got.ExpiresIn != 30 {
		t.Fatalf("control token: %d %+v", resp.StatusCode, got)
	}
	if refreshed := postToken(t, s, formType, refreshForm(DefaultClientSecret, got.RefreshToken)); refreshed.Status != 200 {
		t.Errorf("refresh of a control token: %+v", refreshed)
	}
}
