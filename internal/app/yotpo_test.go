package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/legacy"

	"switchyard/internal/app"
	"switchyard/internal/connector/yotpogorgias"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/testutil/pgtest"
)

// yotpoSimClock is the hub's simulated clock: it runs with real time (so rate
// budgets refill and tokens age) from two hours in the past, and the test
// moves it forward. Staying behind real time keeps River's schedule (real
// time) from holding jobs the connector itself times by this clock.
type yotpoSimClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *yotpoSimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *yotpoSimClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// yotpoHub is a running hub with the Gorgias and Yotpo emulators and the
// yotpo-gorgias connector configured as an app-store app.
type yotpoHub struct {
	t       *testing.T
	ctx     context.Context
	app     *app.App
	url     string
	clock   *yotpoSimClock
	gorgias *gorgiasemu.Emulator
	gURL    string
	yotpo   *yotpoemu.Emulator
	yURL    string
	// yCalls counts the Yotpo emulator's API calls by "METHOD path".
	yMu    sync.Mutex
	yCalls map[string]int
	yTotal atomic.Int64
}

const (
	yotpoJaneEmail = "jane.both@example.com"
	yotpoRevEmail  = "rita.reviews@example.com"
	yotpoLoyEmail  = "leo.loyalty@example.com"
)

func startYotpoHub(t *testing.T, opts ...func(*app.Config)) *yotpoHub {
	t.Helper()
	h := &yotpoHub{t: t, ctx: context.Background(), clock: &yotpoSimClock{offset: -2 * time.Hour}, yCalls: map[string]int{}}
	h.gorgias = gorgiasemu.New(gorgiasemu.Config{AutoApprove: true})
	for _, d := range []string{"reviewsonly", "loyaltyonly"} {
		if err := h.gorgias.AddAccount(gorgiasemu.AccountSpec{Domain: d}); err != nil {
			t.Fatal(err)
		}
	}
	h.yotpo = yotpoemu.New(yotpoemu.Config{Customers: -1, Seed: 7, Emails: []string{yotpoJaneEmail}})
	h.yotpo.AddAccount(yotpoemu.Account{Name: "Reviews Only Store", AppKey: "rev-app", Secret: "rev-secret"})
	h.yotpo.AddAccount(yotpoemu.Account{Name: "Loyalty Only Store", GUID: "loy-guid", APIKey: "loy-key"})
	h.yotpo.SeedEmail("rev-app", yotpoRevEmail, true, true)
	h.yotpo.SeedEmail("loy-guid", yotpoLoyEmail, true, true)
	gsrv := httptest.NewServer(h.gorgias)
	ysrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_emulator") && r.URL.Path != "/oauth/authorize" {
			h.yMu.Lock()
			h.yCalls[r.Method+" "+r.URL.Path]++
			h.yMu.Unlock()
			h.yTotal.Add(1)
		}
		h.yotpo.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { gsrv.Close(); ysrv.Close(); h.gorgias.Close(); h.yotpo.Close() })
	h.gURL, h.yURL = gsrv.URL, ysrv.URL
	cfg := app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{7}, 32),
		AdminToken: adminToken, Coalesce: 100 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffCap: time.Second,
		AllowVendorHosts: hostsOf(h.gURL, h.yURL), Now: h.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.New(h.ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := a.Connector(yotpogorgias.Name).(*yotpogorgias.Connector)
	if !ok {
		t.Fatal("yotpo-gorgias is not registered")
	}
	c.Configure(yotpogorgias.Config{GorgiasBaseURL: h.gURL + "/a/{account}", GorgiasClientID: gorgiasemu.DefaultClientID,
		GorgiasClientSecret: gorgiasemu.DefaultClientSecret, YotpoBaseURL: h.yURL, YotpoClientID: "switchyard"})
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	h.app, h.url = a, a.URL()
	return h
}

var yotpoHiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// install runs the app-store flow in a fresh browser: /install/yotpo →
// Gorgias consent (auto-approved) → Yotpo's Connect page, where the
// merchant picks the store yotpoAccount and presses Connect → the
// confirmation page. It returns the final page.
func (h *yotpoHub) install(account, yotpoAccount string) string {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.Get(h.url + "/install/yotpo?account=" + account)
	if err != nil {
		h.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), h.yURL+"/oauth/authorize") {
		h.t.Fatalf("after Gorgias consent: %d at %s: %s", resp.StatusCode, resp.Request.URL, page)
	}
	form := url.Values{"account": {yotpoAccount}, "action": {"connect"}}
	for _, m := range yotpoHiddenRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("state") == "" {
		h.t.Fatalf("no state on the Connect page: %s", page)
	}
	resp, err = browser.PostForm(h.yURL+"/oauth/authorize", form)
	if err != nil {
		h.t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Yotpo is connected") {
		h.t.Fatalf("confirmation: %d %s", resp.StatusCode, page)
	}
	return string(page)
}

// gstate decodes the Gorgias emulator's state of an account.
type yotpoGorgiasAccount struct {
	Customers []struct {
		ID    int64                      `json:"id"`
		Email string                     `json:"email"`
		Data  map[string]json.RawMessage `json:"data"`
	} `json:"customers"`
	Integrations []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Active bool   `json:"active"`
		HTTP   struct {
			URL string `json:"url"`
		} `json:"http"`
	} `json:"integrations"`
	Widgets []struct {
		ID int64 `json:"id"`
	} `json:"widgets"`
	Tickets []struct {
		ID         int64   `json:"id"`
		ExternalID *string `json:"external_id"`
		Channel    string  `json:"channel"`
		Via        string  `json:"via"`
		Subject    string  `json:"subject"`
	} `json:"tickets"`
}

func (h *yotpoHub) gstate(account string) yotpoGorgiasAccount {
	h.t.Helper()
	raw, _ := json.Marshal(h.gorgias.Snapshot().Accounts[account])
	var a yotpoGorgiasAccount
	if err := json.Unmarshal(raw, &a); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// yotpoData is the customer's customer.data.yotpo (nil when absent).
func (h *yotpoHub) yotpoData(account, email string) *yotpogorgias.Data {
	h.t.Helper()
	for _, c := range h.gstate(account).Customers {
		if c.Email != email {
			continue
		}
		raw, ok := c.Data[yotpogorgias.DataKey]
		if !ok {
			return nil
		}
		var d yotpogorgias.Data
		if err := json.Unmarshal(raw, &d); err != nil {
			h.t.Fatal(err)
		}
		return &d
	}
	return nil
}

// gclient is an API-key client of a Gorgias account (an agent's or
// another app's actions).
func (h *yotpoHub) gclient(account string) *gorgias.Client {
	h.t.Helper()
	email, key := gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey
	if account != "acme" {
		email, key = "admin@"+account+".test", account+"-key"
	}
	g, err := gorgias.New(gorgias.Config{Account: account, BaseURL: h.gURL + "/a/" + account, Email: email, APIKey: key})
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// customerMessage opens a ticket with a customer message (a message event).
func (h *yotpoHub) customerMessage(account, email, text string) gorgias.ID {
	h.t.Helper()
	f := false
	t, err := h.gclient(account).CreateTicket(h.ctx, gorgias.TicketCreate{Channel: "email", Via: "email", Customer: &gorgias.Person{Email: email},
		Messages: []gorgias.Message{{Channel: "email", Via: "email", FromAgent: f, Sender: &gorgias.Person{Email: email}, BodyText: text}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return t.ID
}

// message adds a message to a ticket: a customer's, an agent's public
// reply, or an internal note.
func (h *yotpoHub) message(account string, ticket gorgias.ID, m *gorgias.Message) {
	h.t.Helper()
	if _, err := h.gclient(account).CreateMessage(h.ctx, ticket, m); err != nil {
		h.t.Fatal(err)
	}
}

func yotpoAgentReply(text string) *gorgias.Message {
	return &gorgias.Message{Channel: "email", Via: "helpdesk", FromAgent: true, Sender: &gorgias.Person{Email: gorgiasemu.DefaultUserEmail}, BodyText: text}
}

// settled waits until the Gorgias emulator has made its integration calls
// and every stored event of the account's merchant is processed.
func (h *yotpoHub) settled(account string) {
	h.t.Helper()
	h.gorgias.Flush()
	h.until(30*time.Second, "events processed", func() bool {
		evs, err := h.app.Store().ListEvents(h.ctx, domain.EventFilter{MerchantID: "mer_yg_" + account, Limit: 1000})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.ProcessedAt == nil {
				return false
			}
		}
		return true
	})
}

// until polls cond (real time) up to timeout.
func (h *yotpoHub) until(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *yotpoHub) loyaltyCalls() int {
	h.yMu.Lock()
	defer h.yMu.Unlock()
	return h.yCalls["GET /api/v2/customers"]
}

// noJobsBusy reports whether no job is waiting or running.
func (h *yotpoHub) noJobsBusy() bool {
	counts, err := h.app.Store().JobCounts(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range counts {
		switch c.State {
		case "available", "scheduled", "running", "retryable", "pending":
			if c.Count > 0 {
				return false
			}
		}
	}
	return true
}

// The app-store install through the whole redirect chain, repeated: one
// merchant, one installation, one integration (long default name), one
// widget, two escalation webhooks; Gorgias OAuth tokens stored encrypted
// in the connection.
func TestYotpoGorgiasInstallFlow(t *testing.T) {
	h := startYotpoHub(t)
	h.install("acme", yotpoemu.DefaultAppKey)
	h.install("acme", yotpoemu.DefaultAppKey) // "repeat steps 1 through 4"
	ins, err := h.app.Store().ListInstallations(h.ctx, "mer_yg_acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].State != domain.InstallationActive || ins[0].Connector != yotpogorgias.Name {
		t.Fatalf("installations %+v, want one active yotpo-gorgias", ins)
	}
	ms, _ := h.app.Store().ListMerchants(h.ctx)
	if len(ms) != 1 {
		t.Fatalf("%d merchants, want 1", len(ms))
	}
	g := h.gstate("acme")
	if len(g.Integrations) != 1 || !g.Integrations[0].Active || g.Integrations[0].Name != yotpogorgias.DefaultIntegrationName("Demo Store") {
		t.Fatalf("integrations %+v", g.Integrations)
	}
	if len(g.Widgets) != 1 {
		t.Fatalf("%d widgets, want 1", len(g.Widgets))
	}
	h.yMu.Lock()
	hooks := h.yCalls["POST /apps/demo-app/webhooks"]
	h.yMu.Unlock()
	if hooks != 2 {
		t.Fatalf("%d yotpo webhooks created over two installs, want 2", hooks)
	}
	conn, err := h.app.Store().GetConnection(h.ctx, "mer_yg_acme", ins[0].Connections[domain.VendorGorgias])
	if err != nil || conn.Secrets["access_token"] == "" || conn.Secrets["refresh_token"] == "" || conn.Config["token_expiry"] == "" {
		t.Fatalf("gorgias connection %+v (%v)", conn, err)
	}

	// Uninstall removes what the install made and revokes the tokens; the
	// app-store flow installs it again in the same installation.
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/merchants/mer_yg_acme/installations/ins_yg_acme/uninstall", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("uninstall: %d", resp.StatusCode)
	}
	if g := h.gstate("acme"); len(g.Integrations) != 0 || len(g.Widgets) != 0 {
		t.Fatalf("after uninstall: %d integrations, %d widgets", len(g.Integrations), len(g.Widgets))
	}
	h.yMu.Lock()
	deleted := h.yCalls["DELETE /apps/demo-app/webhooks/1"] + h.yCalls["DELETE /apps/demo-app/webhooks/2"]
	h.yMu.Unlock()
	if deleted != 2 {
		t.Fatalf("%d yotpo webhooks deleted, want 2", deleted)
	}
	if n := h.gorgias.Snapshot().OAuth.RevokedRefresh; n == 0 {
		t.Fatal("the gorgias refresh token was not revoked")
	}
	h.install("acme", yotpoemu.DefaultAppKey)
	ins, _ = h.app.Store().ListInstallations(h.ctx, "mer_yg_acme")
	if g := h.gstate("acme"); len(ins) != 1 || ins[0].State != domain.InstallationActive || len(g.Integrations) != 1 || len(g.Widgets) != 1 {
		t.Fatalf("reinstalled: %+v; %d integrations, %d widgets", ins, len(g.Integrations), len(g.Widgets))
	}

	// A forged or replayed state is refused.
	resp, err = http.Get(h.url + "/oauth/callback/yotpo/gorgias?code=x&state=forged.sig")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged state: %d, want 401", resp.StatusCode)
	}
}

// The sync rule under the simulated clock: a new profile gets no Yotpo
// data; a customer message brings it within 5 minutes; ten messages in a
// minute are one sync; ten quiet minutes make no Yotpo call; an agent
// reply brings fresh data. The widget renders every field on the agent
// page. Renaming the integration shows in Gorgias, and an expiring Gorgias
// token is refreshed and stored.
func TestYotpoGorgiasSyncRule(t *testing.T) { yotpoSyncRule(t) }

// The sync rule and escalations on Postgres (River's Postgres driver:
// unique sync jobs inserted in the event's transaction).
func TestYotpoGorgiasPostgres(t *testing.T) {
	t.Run("sync rule", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		yotpoSyncRule(t, func(c *app.Config) { c.DB = db })
	})
	t.Run("escalations", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		yotpoEscalations(t, func(c *app.Config) { c.DB = db })
	})
}

func yotpoSyncRule(t *testing.T, opts ...func(*app.Config)) {
	h := startYotpoHub(t, opts...)
	h.install("acme", yotpoemu.DefaultAppKey)
	g := h.gclient("acme")

	// A profile appears (another integration created it): no Yotpo data.
	pre, err := g.CreateCustomer(h.ctx, gorgias.CustomerFields{Email: yotpoJaneEmail, Name: "Jane Both"})
	if err != nil {
		t.Fatal(err)
	}
	// Another app's key in the shared customer data document.
	if err := g.SetCustomerData(h.ctx, pre.ID, map[string]any{"other_app": map[string]any{"points": 7}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	before := h.loyaltyCalls()
	h.clock.Advance(10 * time.Minute)
	h.settled("acme")
	if d := h.yotpoData("acme", yotpoJaneEmail); d != nil || h.loyaltyCalls() != before {
		t.Fatalf("data %+v and %d loyalty calls after the profile appeared, want none", d, h.loyaltyCalls()-before)
	}

	// A customer message: nothing before the window, data within 5 minutes.
	ticket := h.customerMessage("acme", yotpoJaneEmail, "Where are my points?")
	h.settled("acme")
	if d := h.yotpoData("acme", yotpoJaneEmail); d != nil {
		t.Fatalf("data written at once: %+v", d)
	}
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "yotpo data", func() bool { return h.yotpoData("acme", yotpoJaneEmail) != nil })
	d := h.yotpoData("acme", yotpoJaneEmail)
	if d.Loyalty == nil || d.Reviews == nil || d.Overview == nil || len(d.LatestReviews) == 0 || d.SyncedAt == "" {
		t.Fatalf("incomplete data %+v", d)
	}
	for _, c := range h.gstate("acme").Customers {
		if c.Email == yotpoJaneEmail && string(c.Data["other_app"]) != `{"points":7}` {
			t.Fatalf("the other app's key was not kept: %s", c.Data["other_app"])
		}
	}
	h.until(30*time.Second, "sync done", h.noJobsBusy)
	if n := h.loyaltyCalls() - before; n != 1 {
		t.Fatalf("%d loyalty calls for one message, want 1", n)
	}

	// Ten messages in a minute: one sync.
	before = h.loyaltyCalls()
	for i := range 10 {
		h.message("acme", ticket, &gorgias.Message{Channel: "email", Via: "email", FromAgent: false, Sender: &gorgias.Person{Email: yotpoJaneEmail}, BodyText: fmt.Sprintf("hello %d", i)})
		h.clock.Advance(5 * time.Second)
	}
	h.settled("acme")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "one sync for ten messages", func() bool { return h.loyaltyCalls() > before })
	h.until(30*time.Second, "sync done", h.noJobsBusy)
	if n := h.loyaltyCalls() - before; n != 1 {
		t.Fatalf("%d loyalty calls for ten messages in a minute, want 1", n)
	}

	// Ten quiet minutes: no Yotpo call at all.
	total := h.yTotal.Load()
	h.clock.Advance(10 * time.Minute)
	h.settled("acme")
	h.until(30*time.Second, "idle", h.noJobsBusy)
	if n := h.yTotal.Load() - total; n != 0 {
		t.Fatalf("%d Yotpo calls in ten minutes without a message, want 0", n)
	}

	// A new review, then an agent reply: fresh data.
	prev := h.yotpoData("acme", yotpoJaneEmail)
	if _, err := h.yotpo.Escalate(yotpoemu.EscalateRequest{Email: yotpoJaneEmail}); err != nil {
		t.Fatal(err)
	}
	h.message("acme", ticket, yotpoAgentReply("We are on it."))
	h.settled("acme")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "fresh data", func() bool {
		d := h.yotpoData("acme", yotpoJaneEmail)
		return d != nil && d.SyncedAt != prev.SyncedAt
	})
	d = h.yotpoData("acme", yotpoJaneEmail)
	if *d.Overview.NumberOfReviews != *prev.Overview.NumberOfReviews+1 {
		t.Fatalf("number of reviews %d, want %d", *d.Overview.NumberOfReviews, *prev.Overview.NumberOfReviews+1)
	}

	// The widget on the agent page: every field of the spec.
	resp, err := http.Get(fmt.Sprintf("%s/a/acme/app/ticket/%d", h.gURL, ticket))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for sec, fields := range yotpogorgias.WidgetFields() {
		for _, f := range fields {
			if !strings.Contains(string(page), html.EscapeString(f)) {
				t.Errorf("agent page lacks %s / %q", sec, f)
			}
		}
	}

	// Update integration: the new name shows in Gorgias; the Gorgias token
	// close to expiry is refreshed first and stored.
	conn, err := h.app.Store().GetConnection(h.ctx, "mer_yg_acme", "con_yg_acme_gorgias")
	if err != nil {
		t.Fatal(err)
	}
	oldToken := conn.Secrets["access_token"]
	conn.Config["token_expiry"] = h.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	if err := h.app.Store().UpdateConnection(h.ctx, conn); err != nil {
		t.Fatal(err)
	}
	api := h.openAPIClient()
	req, _ := http.NewRequest(http.MethodPut, h.url+"/api/v1/merchants/mer_yg_acme/installations/ins_yg_acme/integration-name", strings.NewReader(`{"name":"Yotpo"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("rename: %d %s", resp.StatusCode, body)
	}
	if n := h.gstate("acme").Integrations[0].Name; n != "Yotpo" {
		t.Fatalf("integration name %q after the rename", n)
	}
	conn, _ = h.app.Store().GetConnection(h.ctx, "mer_yg_acme", "con_yg_acme_gorgias")
	if conn.Secrets["access_token"] == oldToken {
		t.Fatal("the expiring gorgias token was not refreshed")
	}
	req, _ = http.NewRequest(http.MethodGet, h.url+"/api/v1/merchants/mer_yg_acme/installations/ins_yg_acme/integration-name", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err = api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got yotpogorgias.IntegrationName
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Name != "Yotpo" {
		t.Fatalf("GET integration-name: %d %+v", resp.StatusCode, got)
	}
}

// openAPIClient validates requests and responses against api/openapi.yaml.
func (h *yotpoHub) openAPIClient() *http.Client {
	h.t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		h.t.Fatal(err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		h.t.Fatal(err)
	}
	return &http.Client{Transport: &validating{t: h.t, router: router, seen: map[string]bool{}}, Timeout: 30 * time.Second}
}

// Only-Reviews and only-Loyalty merchants get only their sections; the
// second product, enabled later in Yotpo, fills in without a reinstall.
func TestYotpoGorgiasSingleProduct(t *testing.T) {
	h := startYotpoHub(t)
	h.install("reviewsonly", "rev-app")
	h.install("loyaltyonly", "loy-guid")
	tickets := map[string]gorgias.ID{}
	for _, tc := range []struct{ account, email string }{{"reviewsonly", yotpoRevEmail}, {"loyaltyonly", yotpoLoyEmail}} {
		tickets[tc.account] = h.customerMessage(tc.account, tc.email, "hi")
		h.settled(tc.account)
	}
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "data", func() bool {
		return h.yotpoData("reviewsonly", yotpoRevEmail) != nil && h.yotpoData("loyaltyonly", yotpoLoyEmail) != nil
	})
	r, l := h.yotpoData("reviewsonly", yotpoRevEmail), h.yotpoData("loyaltyonly", yotpoLoyEmail)
	if r.Loyalty != nil || r.Reviews == nil || len(r.LatestReviews) == 0 || r.Overview.VIPTierName != "" {
		t.Fatalf("reviews-only data %+v", r)
	}
	if l.Reviews != nil || len(l.LatestReviews) != 0 || l.Loyalty == nil || l.Overview.NumberOfReviews != nil {
		t.Fatalf("loyalty-only data %+v", l)
	}
	if page := h.agentPage("reviewsonly", tickets["reviewsonly"]); strings.Contains(page, "Total points earned") || !strings.Contains(page, "Published status") {
		t.Fatalf("reviews-only widget shows the wrong sections")
	}
	if page := h.agentPage("loyaltyonly", tickets["loyaltyonly"]); !strings.Contains(page, "Total points earned") || strings.Contains(page, "Published status") {
		t.Fatalf("loyalty-only widget shows the wrong sections")
	}

	// The merchant adds Loyalty in Yotpo: the next message fills it in.
	if !h.yotpo.EnableProduct("rev-app", yotpoemu.Account{GUID: "rev-guid", APIKey: "rev-loyalty-key"}) {
		t.Fatal("no such yotpo account")
	}
	h.yotpo.SeedEmail("rev-app", yotpoRevEmail, true, true)
	tk := h.customerMessage("reviewsonly", yotpoRevEmail, "and my points?")
	h.settled("reviewsonly")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "loyalty after enabling it", func() bool {
		d := h.yotpoData("reviewsonly", yotpoRevEmail)
		return d != nil && d.Loyalty != nil
	})
	if page := h.agentPage("reviewsonly", tk); !strings.Contains(page, "Total points earned") {
		t.Fatal("the loyalty section does not render after enabling loyalty")
	}
	ins, _ := h.app.Store().ListInstallations(h.ctx, "mer_yg_reviewsonly")
	if len(ins) != 1 {
		t.Fatalf("%d installations", len(ins))
	}

	// The loyalty-only merchant adds Reviews: its sections fill in, and the
	// escalation subscriptions are made, still without a reinstall.
	if !h.yotpo.EnableProduct("loy-guid", yotpoemu.Account{AppKey: "loy-app", Secret: "loy-secret"}) {
		t.Fatal("no such yotpo account")
	}
	h.yotpo.SeedEmail("loy-guid", yotpoLoyEmail, true, true)
	h.customerMessage("loyaltyonly", yotpoLoyEmail, "I wrote a review")
	h.settled("loyaltyonly")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "reviews after enabling them", func() bool {
		d := h.yotpoData("loyaltyonly", yotpoLoyEmail)
		return d != nil && d.Reviews != nil && len(d.LatestReviews) > 0
	})
	h.yMu.Lock()
	subs := h.yCalls["POST /apps/loy-app/webhooks"]
	h.yMu.Unlock()
	if subs != 2 {
		t.Fatalf("%d escalation subscriptions after adding Reviews, want 2", subs)
	}
}

func (h *yotpoHub) agentPage(account string, ticket gorgias.ID) string {
	h.t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/a/%s/app/ticket/%d", h.gURL, account, ticket))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// An escalated review becomes one ticket even when delivered twice; the
// agent's public reply becomes a Yotpo comment and an internal note does
// not; a forged escalation is 401 and creates nothing.
func TestYotpoGorgiasEscalations(t *testing.T) { yotpoEscalations(t) }

func yotpoEscalations(t *testing.T, opts ...func(*app.Config)) {
	h := startYotpoHub(t, opts...)
	h.install("acme", yotpoemu.DefaultAppKey)
	var reviewID int64
	for _, rv := range h.yotpo.Reviews() {
		if rv.Email == yotpoJaneEmail && rv.SKU != yotpoemu.SiteReviewSKU {
			reviewID = rv.ID
			break
		}
	}
	if reviewID == 0 {
		t.Fatal("no product review to escalate")
	}
	for range 2 {
		if _, err := h.yotpo.Escalate(yotpoemu.EscalateRequest{ID: reviewID}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.yotpo.WaitIdle(h.ctx); err != nil {
		t.Fatal(err)
	}
	ext := fmt.Sprintf("yotpo-review-%d", reviewID)
	var ticket gorgias.ID
	h.until(30*time.Second, "escalation ticket", func() bool {
		for _, tk := range h.gstate("acme").Tickets {
			if tk.ExternalID != nil && *tk.ExternalID == ext {
				ticket = gorgias.ID(tk.ID)
				return true
			}
		}
		return false
	})
	h.settled("acme")
	h.clock.Advance(5 * time.Minute) // the ticket's message event syncs the reviewer's widget
	h.until(30*time.Second, "idle", h.noJobsBusy)
	n := 0
	for _, tk := range h.gstate("acme").Tickets {
		if tk.ExternalID != nil && *tk.ExternalID == ext {
			n++
			if tk.Channel != "yotpo-review" || tk.Via != "yotpo" || !strings.Contains(tk.Subject, "★") {
				t.Errorf("ticket %+v", tk)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d tickets for one review escalated twice, want 1", n)
	}
	for _, d := range h.yotpo.Deliveries() {
		if d.Status != http.StatusAccepted && d.Status != http.StatusOK {
			t.Errorf("delivery %+v", d)
		}
	}

	// Internal note first, then the public reply.
	h.message("acme", ticket, gorgias.InternalNote(gorgiasemu.DefaultUserEmail, "internal: check the carrier", ""))
	h.message("acme", ticket, yotpoAgentReply("Sorry about that, a replacement is on its way."))
	h.until(30*time.Second, "the reply as a Yotpo comment", func() bool {
		for _, rv := range h.yotpo.Reviews() {
			if rv.ID == reviewID && len(rv.Comments) > 0 {
				return true
			}
		}
		return false
	})
	h.settled("acme")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "idle", h.noJobsBusy)
	for _, rv := range h.yotpo.Reviews() {
		if rv.ID != reviewID {
			continue
		}
		if len(rv.Comments) != 1 || !strings.Contains(rv.Comments[0].Content, "replacement") || !rv.Comments[0].Public {
			t.Fatalf("comments %+v, want only the public reply", rv.Comments)
		}
	}

	// An escalated question: one ticket; the public reply becomes the answer.
	q, err := h.yotpo.Escalate(yotpoemu.EscalateRequest{Type: "question", Email: yotpoJaneEmail})
	if err != nil {
		t.Fatal(err)
	}
	qid := q.(*yotpoemu.Question).ID
	qext := fmt.Sprintf("yotpo-question-%d", qid)
	var qticket gorgias.ID
	h.until(30*time.Second, "question ticket", func() bool {
		for _, tk := range h.gstate("acme").Tickets {
			if tk.ExternalID != nil && *tk.ExternalID == qext {
				qticket = gorgias.ID(tk.ID)
				return true
			}
		}
		return false
	})
	h.message("acme", qticket, yotpoAgentReply("Yes, at 30 degrees."))
	h.until(30*time.Second, "the answer in Yotpo", func() bool {
		for _, qq := range h.yotpo.Questions() {
			if qq.ID == qid && len(qq.Answers) == 1 && strings.Contains(qq.Answers[0].Content, "30 degrees") {
				return true
			}
		}
		return false
	})
	h.settled("acme")
	h.clock.Advance(5 * time.Minute)
	h.until(30*time.Second, "idle", h.noJobsBusy)

	// A forged escalation: 401, nothing stored, no ticket.
	evs, _ := h.app.Store().ListEvents(h.ctx, domain.EventFilter{MerchantID: "mer_yg_acme", Limit: 1000})
	tickets := len(h.gstate("acme").Tickets)
	body := fmt.Sprintf(`{"event_name":"review_escalated","app_key":"demo-app","type":"review","data":{"id":%d,"escalated":true,"email":"x@example.com"}}`, reviewID+1)
	for _, path := range []string{"/hooks/yotpo/yotpo-gorgias/ins_yg_acme/wrong-token", "/hooks/yotpo/yotpo-gorgias/ins_yg_acme/"} {
		resp, err := http.Post(h.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("forged escalation at %s: %d", path, resp.StatusCode)
		}
		if path == "/hooks/yotpo/yotpo-gorgias/ins_yg_acme/wrong-token" && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d, want 401", resp.StatusCode)
		}
	}
	// The signed ingest route without a configured secret refuses too.
	resp, err := http.Post(h.url+"/hooks/yotpo/ins_yg_acme", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery to the ingest route: %d, want 401", resp.StatusCode)
	}
	// The message hook: wrong or missing token 401, unknown installation
	// 404, malformed 400 (with the right token), oversized 413.
	conn, err := h.app.Store().GetConnection(h.ctx, "mer_yg_acme", "con_yg_acme_gorgias")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		inst, token, body string
		want              int
	}{
		{"ins_yg_acme", "wrong", `{"customer_email":"x@example.com"}`, 401},
		{"ins_yg_acme", "", `{"customer_email":"x@example.com"}`, 401},
		{"ins_nope", conn.Secrets["hook_token"], `{}`, 404},
		{"ins_yg_acme", conn.Secrets["hook_token"], `{not json`, 400},
		{"ins_yg_acme", conn.Secrets["hook_token"], `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/hooks/gorgias/yotpo-gorgias/"+tc.inst+"/messages", strings.NewReader(tc.body))
		if tc.token != "" {
			req.Header.Set(yotpogorgias.HookTokenHeader, tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("message hook %s token %q: %d, want %d", tc.inst, tc.token, resp.StatusCode, tc.want)
		}
	}
	after, _ := h.app.Store().ListEvents(h.ctx, domain.EventFilter{MerchantID: "mer_yg_acme", Limit: 1000})
	if len(after) != len(evs) || len(h.gstate("acme").Tickets) != tickets {
		t.Fatalf("refused calls stored %d events and made %d tickets", len(after)-len(evs), len(h.gstate("acme").Tickets)-tickets)
	}
}
