package yotpo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func fixed() time.Time { return t0 }

func newServer(t *testing.T, cfg Config) (*Emulator, *httptest.Server) {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixed
	}
	e := New(cfg)
	s := httptest.NewServer(e)
	t.Cleanup(func() { s.Close(); e.Close(); e.Close() })
	return e, s
}

func do(t *testing.T, method, u string, h map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func token(t *testing.T, base string) string {
	t.Helper()
	st, _, b := do(t, "POST", base+"/oauth/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		url.Values{"client_id": {DefaultAppKey}, "client_secret": {DefaultSecret}, "grant_type": {"client_credentials"}}.Encode())
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if st != 200 || json.Unmarshal(b, &out) != nil || out.AccessToken == "" {
		t.Fatalf("token: %d %s", st, b)
	}
	return out.AccessToken
}

func TestDeterministicFixtures(t *testing.T) {
	t.Parallel()
	a := New(Config{Now: fixed, Seed: 7, Emails: []string{"x@example.com"}})
	b := New(Config{Now: fixed, Seed: 7, Emails: []string{"x@example.com"}})
	c := New(Config{Now: fixed, Seed: 8, Emails: []string{"x@example.com"}})
	defer a.Close()
	defer b.Close()
	defer c.Close()
	ja, _ := json.Marshal(a.Reviews())
	jb, _ := json.Marshal(b.Reviews())
	jc, _ := json.Marshal(c.Reviews())
	if string(ja) != string(jb) {
		t.Fatal("same seed gave different reviews")
	}
	if string(ja) == string(jc) {
		t.Fatal("different seeds gave the same reviews")
	}
	la, ok1 := a.LoyaltyOf("x@example.com")
	lb, ok2 := b.LoyaltyOf("X@Example.com")
	if !ok1 || !ok2 || la.PointsBalance != lb.PointsBalance || la.PointsBalance != la.PointsEarned-la.PointsRedeemed {
		t.Fatalf("loyalty %+v %+v", la, lb)
	}
	// The random population mixes loyalty-only, reviews-only and both.
	e := New(Config{Now: fixed, Seed: 3, Customers: 40})
	defer e.Close()
	withReviews := map[string]bool{}
	for _, r := range e.Reviews() {
		withReviews[normEmail(r.Email)] = true
	}
	var loyOnly, bothN int
	for em := range e.stores[0].loyalty {
		if withReviews[em] {
			bothN++
		} else {
			loyOnly++
		}
	}
	if loyOnly == 0 || bothN == 0 || len(withReviews) == bothN {
		t.Fatalf("mix: loyalty-only %d, both %d, reviewers %d", loyOnly, bothN, len(withReviews))
	}
}

func TestLoyaltyHTTP(t *testing.T) {
	t.Parallel()
	_, s := newServer(t, Config{Seed: 1, Emails: []string{"a@example.com"}})
	h := map[string]string{"x-guid": DefaultGUID, "x-api-key": DefaultAPIKey}
	tests := []struct {
		name  string
		h     map[string]string
		q     string
		want  int
		field string
	}{
		{"found", h, "customer_email=a%40example.com", 200, `"vip_tier_name"`},
		{"history only on request", h, "customer_email=a%40example.com&with_history=true", 200, `"history_items"`},
		{"unknown", h, "customer_email=zz%40example.com", 404, `"error"`},
		{"missing email", h, "", 400, `"error"`},
		{"no headers", nil, "customer_email=a%40example.com", 401, `"error"`},
		{"bad key", map[string]string{"x-guid": DefaultGUID, "x-api-key": "x"}, "customer_email=a%40example.com", 401, `"error"`},
	}
	for _, tc := range tests {
		st, _, b := do(t, "GET", s.URL+"/api/v2/customers?"+tc.q, tc.h, "")
		if st != tc.want || !strings.Contains(string(b), tc.field) {
			t.Errorf("%s: %d %s", tc.name, st, b)
		}
	}
	if _, _, b := do(t, "GET", s.URL+"/api/v2/customers?customer_email=a%40example.com", h, ""); strings.Contains(string(b), "history_items") {
		t.Errorf("history without with_history: %s", b)
	}
}

func TestReviewsHTTP(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1, Emails: []string{"a@example.com"}})
	tok := token(t, s.URL)
	st, _, b := do(t, "GET", s.URL+"/v1/apps/"+DefaultAppKey+"/reviews?count=1000&utoken="+tok, nil, "")
	var out struct {
		Reviews []Review `json:"reviews"`
	}
	if st != 200 || json.Unmarshal(b, &out) != nil || len(out.Reviews) == 0 || len(out.Reviews) > 100 {
		t.Fatalf("reviews: %d %d", st, len(out.Reviews))
	}
	if st, _, _ := do(t, "GET", s.URL+"/v1/apps/"+DefaultAppKey+"/reviews?utoken=bad", nil, ""); st != 401 {
		t.Errorf("bad token: %d", st)
	}
	if st, _, _ := do(t, "GET", s.URL+"/v1/apps/other/reviews?utoken="+tok, nil, ""); st != 403 {
		t.Errorf("other app key: %d", st)
	}
	if st, _, _ := do(t, "GET", s.URL+"/v1/apps/"+DefaultAppKey+"/reviews?since_updated_at=yesterday&utoken="+tok, nil, ""); st != 400 {
		t.Errorf("bad since: %d", st)
	}
	// Widget shows published reviews only, with bottom line and product.
	sku := e.Products()[0].ExternalID
	st, _, b = do(t, "GET", s.URL+"/v1/widget/"+DefaultAppKey+"/products/"+sku+"/reviews.json?per_page=150", nil, "")
	var w struct {
		Response struct {
			Bottomline struct {
				TotalReview int `json:"total_review"`
			} `json:"bottomline"`
			Products []struct {
				Name string `json:"name"`
			} `json:"products"`
			Reviews []json.RawMessage `json:"reviews"`
		} `json:"response"`
	}
	if st != 200 || json.Unmarshal(b, &w) != nil || len(w.Response.Products) != 1 || len(w.Response.Reviews) != w.Response.Bottomline.TotalReview {
		t.Fatalf("widget: %d %s", st, b)
	}
	pub := 0
	for _, r := range e.Reviews() {
		if r.SKU == sku && !r.Deleted && !r.Archived {
			pub++
		}
	}
	if pub != w.Response.Bottomline.TotalReview {
		t.Errorf("widget total %d, want %d", w.Response.Bottomline.TotalReview, pub)
	}
	// Core v3 requires the header or utoken.
	if st, _, _ := do(t, "GET", s.URL+"/core/v3/stores/"+DefaultAppKey+"/products", nil, ""); st != 401 {
		t.Errorf("core without token: %d", st)
	}
	st, _, b = do(t, "GET", s.URL+"/core/v3/stores/"+DefaultAppKey+"/products?limit=4", map[string]string{"X-Yotpo-Token": tok}, "")
	if st != 200 || !strings.Contains(string(b), "next_page_info") {
		t.Errorf("products page: %d %s", st, b)
	}
	if st, _, _ := do(t, "GET", s.URL+"/core/v3/stores/"+DefaultAppKey+"/products?page_info=not-base64!!", map[string]string{"X-Yotpo-Token": tok}, ""); st != 400 {
		t.Errorf("bad page_info: %d", st)
	}
}

func TestControlRoutes(t *testing.T) {
	t.Parallel()
	e, s := newServer(t, Config{Seed: 1, Customers: -1})
	if n := len(e.Reviews()); n != 0 {
		t.Fatalf("Customers -1 generated %d reviews", n)
	}
	st, _, b := do(t, "POST", s.URL+"/_emulator/seed", nil, `{"emails":["r@example.com"],"loyalty":false}`)
	if st != 200 {
		t.Fatalf("seed: %d %s", st, b)
	}
	if _, ok := e.LoyaltyOf("r@example.com"); ok || len(e.Reviews()) == 0 {
		t.Fatalf("reviews-only seed gave loyalty or no reviews")
	}
	st, _, b = do(t, "POST", s.URL+"/_emulator/accounts", nil, `{"name":"L","guid":"g9","api_key":"k9","customers":2}`)
	if st != 201 || strings.Contains(string(b), "k9") {
		t.Fatalf("accounts: %d %s", st, b)
	}
	if st, _, _ := do(t, "POST", s.URL+"/_emulator/accounts", nil, `{"guid":"g9","api_key":"k9"}`); st != 409 {
		t.Errorf("duplicate account: %d", st)
	}
	if st, _, _ := do(t, "POST", s.URL+"/_emulator/accounts", nil, `{"guid":"g10"}`); st != 400 {
		t.Errorf("half account: %d", st)
	}
	st, _, b = do(t, "POST", s.URL+"/_emulator/escalate", nil, `{"type":"review","email":"angry@example.com"}`)
	if st != 200 || !strings.Contains(string(b), `"escalated":true`) {
		t.Fatalf("escalate: %d %s", st, b)
	}
	st, _, b = do(t, "GET", s.URL+"/_emulator/state", nil, "")
	if st != 200 || !strings.Contains(string(b), "angry@example.com") || strings.Contains(string(b), DefaultSecret) {
		t.Fatalf("state: %d", st)
	}
	if st, _, _ := do(t, "POST", s.URL+"/_emulator/faults", nil, `{"outage":true}`); st != 200 {
		t.Fatal("faults")
	}
	if st, _, _ := do(t, "GET", s.URL+"/api/v2/campaigns", map[string]string{"x-guid": DefaultGUID, "x-api-key": DefaultAPIKey}, ""); st != 503 {
		t.Errorf("outage: %d", st)
	}
	do(t, "POST", s.URL+"/_emulator/reset", nil, "")
	if st, _, _ := do(t, "GET", s.URL+"/api/v2/campaigns", map[string]string{"x-guid": DefaultGUID, "x-api-key": DefaultAPIKey}, ""); st != 200 {
		t.Errorf("after reset: %d", st)
	}
	for _, r := range e.Reviews() {
		if r.Email == "angry@example.com" || r.Email == "r@example.com" {
			t.Fatal("reset kept seeded data")
		}
	}
}

func TestAuthorizeValidation(t *testing.T) {
	t.Parallel()
	_, s := newServer(t, Config{AutoApprove: true})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, q := range []string{"", "client_id=x", "client_id=x&redirect_uri=javascript:alert(1)", "client_id=x&redirect_uri=http://h/cb&response_type=token"} {
		resp, err := noFollow.Get(s.URL + "/oauth/authorize?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%q: %d", q, resp.StatusCode)
		}
	}
	resp, err := noFollow.Get(s.URL + "/oauth/authorize?client_id=x&redirect_uri=" + url.QueryEscape("http://h/cb?a=1") + "&state=s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("a") != "1" || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s" {
		t.Fatalf("auto approve: %d %s", resp.StatusCode, loc)
	}
}

func TestWebhookRetriesAndClose(t *testing.T) {
	t.Parallel()
	calls := make(chan int, 8)
	n := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		calls <- n
		if n == 1 {
			w.WriteHeader(500)
			return
		}
		if r.Header.Get(HeaderSignature) != "" {
			t.Error("unsigned subscription got a signature")
		}
		w.WriteHeader(200)
	}))
	defer recv.Close()
	e, _ := newServer(t, Config{Seed: 1, WebhookURL: recv.URL})
	if _, err := e.Escalate(EscalateRequest{Type: "question", Email: "q@example.com"}); err != nil {
		t.Fatal(err)
	}
	<-calls
	<-calls
	if err := e.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Close()
	d := e.Deliveries()
	if len(d) != 1 || d[0].Attempts != 2 || d[0].Status != 200 {
		t.Fatalf("deliveries = %+v", d)
	}
}
