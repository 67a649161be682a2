package whiplash

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedNow is a clock for deterministic fixtures.
func fixedNow() time.Time { return time.Date(2026, 3, 20, 15, 0, 0, 0, time.UTC) }

// receiver captures webhooks; status decides the answer to the n-th request
// (0-based). It dedupes nothing.
type receiver struct {
	srv    *httptest.Server
	status func(n int, body []byte) int

	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
}

func newReceiver(t *testing.T, status func(n int, body []byte) int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.bodies)
		rc.bodies = append(rc.bodies, b)
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.mu.Unlock()
		code := http.StatusAccepted
		if rc.status != nil {
			code = rc.status(n, b)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() ([][]byte, []http.Header) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), append([]http.Header(nil), rc.headers...)
}

// newTestEmulator returns an emulator (closed at cleanup) and its server.
func newTestEmulator(t *testing.T, cfg Config) (*Emulator, *httptest.Server) {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	if cfg.Fixtures == nil {
		cfg.Fixtures = &SeedOptions{}
	}
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = func(int) time.Duration { return 0 }
	}
	e := New(cfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	return e, srv
}

// token runs the authorization-code flow over HTTP and returns an access
// token (and the refresh token).
func token(t *testing.T, srv *httptest.Server, scope string) (string, string) {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {DefaultClientID}, "redirect_uri": {"http://127.0.0.1/cb"}, "response_type": {"code"}, "scope": {scope}, "state": {"s1"}, "auto_approve": {"true"}}
	resp, err := noRedirect.Get(srv.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != "s1" {
		t.Fatalf("state not echoed: %s", loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1/cb"},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	resp, err = http.PostForm(srv.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	if tok.TokenType != "bearer" || tok.ExpiresIn != 7200 || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token response %+v", tok)
	}
	return tok.AccessToken, tok.RefreshToken
}

// call makes an API request and decodes the JSON answer into out.
func call(t *testing.T, method, u, tok string, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, b)
		}
	}
	return resp.StatusCode
}

// verifyAndDecode checks X-WHIPLASH-SIGNATURE with its own HMAC (not Sign)
// and decodes the body with the emulator's wire types.
func verifyAndDecode(h http.Header, body []byte, secret string) (*webhook, error) {
	got, err := hex.DecodeString(h.Get(SignatureHeader))
	if err != nil {
		return nil, fmt.Errorf("signature is not hex: %w", err)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil, errors.New("bad signature")
	}
	var w webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("undecodable webhook: %w", err)
	}
	if w.EventName == "" || w.Order == nil || w.Order.ID == 0 {
		return nil, fmt.Errorf("incomplete webhook %s", body)
	}
	return &w, nil
}

// storeOf is the order's shop: shop_id, else originator.shop_id.
func storeOf(o *Order) int64 {
	if o.ShopID != 0 {
		return int64(o.ShopID)
	}
	if o.Originator != nil {
		return int64(o.Originator.ShopID)
	}
	return 0
}

// eventIDOf names a delivered event the way the simulation report does.
func eventIDOf(w *webhook) string {
	return EventID(w.EventName, TransitionID(storeOf(w.Order), int64(w.Order.ID), int(w.Order.Status), w.Order.UpdatedAt.Time))
}
