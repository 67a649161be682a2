package adminui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	klaviyoemu "switchyard/internal/emulator/klaviyo"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/apitest"
)

const adminToken = "ui-test-admin-token"

// env is a running hub with the Gorgias, Klaviyo and Whiplash emulators,
// two merchants and their tokens: Acme with C1 (installed) and C2
// (installed, no launch date yet), Other with C1 (pending).
type env struct {
	t                   *testing.T
	app                 *app.App
	url                 string
	gURL, kURL, wURL    string
	gorgias             *gorgiasemu.Emulator
	whiplash            *whiplashemu.Emulator
	acme, other         string
	c1, c2, otherC1     string
	acmeToken, othToken string
}

func startEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	e.gorgias = gorgiasemu.New(gorgiasemu.Config{Window: time.Second})
	kl := klaviyoemu.New(klaviyoemu.Config{DisableRateLimits: true})
	e.whiplash = whiplashemu.New(whiplashemu.Config{Seed: 3, AllowClientCredentials: true})
	for _, x := range []struct {
		h   http.Handler
		url *string
		c   func()
	}{{e.gorgias, &e.gURL, e.gorgias.Close}, {kl, &e.kURL, kl.Close}, {e.whiplash, &e.wURL, e.whiplash.Close}} {
		srv := httptest.NewServer(x.h)
		*x.url = srv.URL
		t.Cleanup(func() { srv.Close(); x.c() })
	}
	hosts := []string{strings.TrimPrefix(e.gURL, "http://"), strings.TrimPrefix(e.kURL, "http://"), strings.TrimPrefix(e.wURL, "http://")}
	a, err := app.New(context.Background(), app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{9}, 32),
		AdminToken: adminToken, Coalesce: 100 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffCap: 500 * time.Millisecond,
		RetryHorizon: 3 * time.Second, AllowVendorHosts: hosts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	e.app, e.url = a, a.URL()

	var m, o, wl, gg, kk, c1, c2, ow, og, oc1 struct{ ID string }
	e.api("POST", "/api/v1/merchants", `{"id":"acme","name":"Acme Outfitters"}`, 201, &m)
	e.api("POST", "/api/v1/merchants", `{"id":"other","name":"Other Shop"}`, 201, &o)
	e.acme, e.other = m.ID, o.ID
	e.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"whiplash-app-secret"}}`, e.wURL), 201, &wl)
	e.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q},"secrets":{"api_key":%q}}`, e.gURL, gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey), 201, &gg)
	e.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_demo"}}`, e.kURL), 201, &kk)
	e.api("POST", "/api/v1/merchants/acme/installations", fmt.Sprintf(`{"id":"acme-c1","connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	e.api("POST", "/api/v1/merchants/acme/installations", fmt.Sprintf(`{"id":"acme-c2","connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kk.ID), 201, &c2)
	e.c1, e.c2 = c1.ID, c2.ID
	e.api("POST", "/api/v1/merchants/acme/installations/"+e.c1+"/install", "", 200, nil)
	e.api("POST", "/api/v1/merchants/acme/installations/"+e.c2+"/install", "", 200, nil)

	e.api("POST", "/api/v1/merchants/other/connections", `{"vendor":"whiplash","account":"2","secrets":{"client_secret":"other-secret"}}`, 201, &ow)
	e.api("POST", "/api/v1/merchants/other/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"other","config":{"base_url":%q},"secrets":{"api_key":"k"}}`, e.gURL), 201, &og)
	e.api("POST", "/api/v1/merchants/other/installations", fmt.Sprintf(`{"id":"other-c1","connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q},"settings":{"display_name":"Other secret name"}}`, ow.ID, og.ID), 201, &oc1)
	e.otherC1 = oc1.ID

	var tok struct{ Token string }
	e.api("POST", "/api/v1/merchants/acme/tokens", `{"name":"ui test"}`, 201, &tok)
	e.acmeToken = tok.Token
	e.api("POST", "/api/v1/merchants/other/tokens", `{"name":"ui test"}`, 201, &tok)
	e.othToken = tok.Token
	return e
}

func (e *env) api(method, path, body string, want int, out any) {
	e.t.Helper()
	apitest.Do(e.t, e.url, adminToken, method, path, body, want, out)
}

// order returns the emulator's seeded order n (from 1).
func (e *env) order(n int) whiplash.Order {
	e.t.Helper()
	found := 0
	for id := int64(1); id < 100000; id++ {
		var o whiplash.Order
		ok, err := e.whiplash.DecodeOrder(id, &o)
		if err != nil {
			e.t.Fatal(err)
		}
		if ok {
			found++
			if found == n {
				return o
			}
		}
	}
	e.t.Fatalf("no seeded order %d", n)
	return whiplash.Order{}
}

// hook posts an order's state as a signed Whiplash webhook.
func (e *env) hook(inst string, o whiplash.Order) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"event_name": "order.status_changed", "order": o})
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.url+"/hooks/whiplash/"+inst, bytes.NewReader(body))
	req.Header.Set(whiplash.SignatureHeader, whiplash.Sign("whiplash-app-secret", body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 && resp.StatusCode != 200 {
		e.t.Fatalf("hook answered %d", resp.StatusCode)
	}
}

func (e *env) faults(base, body string) {
	e.t.Helper()
	resp, err := http.Post(base+"/_emulator/faults", "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("faults answered %d", resp.StatusCode)
	}
}

// waitFor polls cond (test set-up only; assertions never depend on timing).
func (e *env) waitFor(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) deadLetters(merchant string) []*domain.DeadLetter {
	e.t.Helper()
	dls, err := e.app.Store().ListDeadLetters(context.Background(), domain.DeadLetterFilter{MerchantID: merchant})
	if err != nil {
		e.t.Fatal(err)
	}
	return dls
}

// client is a browser-like HTTP client (cookie jar, no redirects followed
// unless asked).
type client struct {
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) get(path string) (int, string) {
	c.e.t.Helper()
	resp, err := c.http.Get(c.e.url + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

func (c *client) post(path string, form url.Values) (int, string) {
	c.e.t.Helper()
	resp, err := c.http.PostForm(c.e.url+path, form)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the forms on a page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the page:\n%s", page)
	}
	return m[1]
}

// login logs the client in with token.
func (c *client) login(token string) {
	c.e.t.Helper()
	_, page := c.get("/ui/login")
	status, loc := c.post("/ui/login", url.Values{"csrf": {csrf(c.e.t, page)}, "token": {token}})
	if status != http.StatusSeeOther || loc != "/ui/" {
		c.e.t.Fatalf("login = %d %s", status, loc)
	}
}

// whiplashSeed seeds n orders over the 14 days before now (the backfill's
// history).
func whiplashSeed(n int) whiplashemu.SeedOptions {
	return whiplashemu.SeedOptions{Seed: 21, Orders: n, From: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -14), Days: 13}
}
