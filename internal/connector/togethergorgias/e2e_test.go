package togethergorgias_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/connector/togethergorgias"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	shopifyemu "switchyard/internal/emulator/shopify"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/store/sqlstore"
	"switchyard/internal/testutil/apitest"
	"switchyard/internal/testutil/pgtest"
)

const adminToken = "test-admin-token"

// clock is real time plus an offset the test moves forward (token
// expiries), shared by the hub and both emulators.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// syncBuffer is the hub's log output.
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

// grantCounter counts refresh grants at a token endpoint.
type grantCounter struct {
	h       http.Handler
	path    string
	refresh atomic.Int32
}

func (g *grantCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, g.path) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("refresh_token")) && (bytes.Contains(body, []byte(`"grant_type":"refresh_token"`)) || bytes.Contains(body, []byte("grant_type=refresh_token"))) {
			g.refresh.Add(1)
		}
	}
	g.h.ServeHTTP(w, r)
}

type env struct {
	t        *testing.T
	ctx      context.Context
	clock    *clock
	logs     *syncBuffer
	app      *app.App
	url      string
	gemu     *gorgiasemu.Emulator
	gURL     string
	gGrants  *grantCounter
	semu     *shopifyemu.Emulator
	sURL     string
	sGrants  *grantCounter
	merchant string
	mToken   string
	inst     string
	gConn    string
	sConn    string
}

type envOpts struct {
	gorgiasTTL time.Duration
	shopifyTTL time.Duration
	// bigBucket lifts the Shopify points budget (the burst's 1,000 queries
	// would otherwise wait minutes for the 100 points/s restore).
	bigBucket bool
	// db is the hub's database URL (default: a new SQLite file).
	db string
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: &clock{}, logs: &syncBuffer{}}
	e.gemu = gorgiasemu.New(gorgiasemu.Config{Now: e.clock.Now, AutoApprove: true, AccessTokenTTL: o.gorgiasTTL, ZeroExpiresIn: true, Window: 2 * time.Second})
	scfg := shopifyemu.Config{Now: e.clock.Now, AutoApprove: true, Customers: -1, OfflineTokenTTL: o.shopifyTTL}
	if o.bigBucket {
		scfg.BucketSize, scfg.RestoreRate = 1e9, 1e6
	}
	e.semu = shopifyemu.New(scfg)
	e.gGrants = &grantCounter{h: e.gemu, path: "/oauth/token"}
	e.sGrants = &grantCounter{h: e.semu, path: "/admin/oauth/access_token"}
	gs := httptest.NewServer(e.gGrants)
	ss := httptest.NewServer(e.sGrants)
	e.gURL, e.sURL = gs.URL, ss.URL
	t.Cleanup(func() { gs.Close(); ss.Close(); e.gemu.Close(); e.semu.Close() })

	if o.db == "" {
		o.db = "sqlite://" + filepath.Join(t.TempDir(), "hub.db")
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(e.ctx, app.Config{Addr: "127.0.0.1:0", DB: o.db, SecretKey: bytes.Repeat([]byte{7}, 32),
		AdminToken: adminToken, Now: e.clock.Now, AllowVendorHosts: []string{strings.TrimPrefix(gs.URL, "http://"), strings.TrimPrefix(ss.URL, "http://")}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	e.app, e.url = a, a.URL()

	var m, g, s, in struct{ ID string }
	e.api(adminToken, "POST", "/api/v1/merchants", `{"name":"Acme"}`, 201, &m)
	e.merchant = m.ID
	var tok struct{ Token string }
	e.api(adminToken, "POST", "/api/v1/merchants/"+m.ID+"/tokens", `{"name":"merchant"}`, 201, &tok)
	e.mToken = tok.Token
	e.api(e.mToken, "POST", e.mpath("/connections"), fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"client_id":%q,"redirect_url":%q,"rate_window":"2s"},"secrets":{"client_secret":%q}}`,
		e.gURL, gorgiasemu.DefaultClientID, e.url+togethergorgias.CallbackGorgias, gorgiasemu.DefaultClientSecret), 201, &g)
	e.api(e.mToken, "POST", e.mpath("/connections"), fmt.Sprintf(`{"vendor":"shopify","account":%q,"config":{"base_url":%q,"client_id":%q,"redirect_url":%q},"secrets":{"client_secret":%q}}`,
		shopifyemu.DefaultShop, e.sURL, shopifyemu.DefaultClientID, e.url+togethergorgias.CallbackShopify, shopifyemu.DefaultClientSecret), 201, &s)
	e.gConn, e.sConn = g.ID, s.ID
	e.api(e.mToken, "POST", e.mpath("/installations"), fmt.Sprintf(`{"connector":"together-gorgias","connections":{"gorgias":%q,"shopify":%q},"settings":{"hub_url":%q}}`,
		g.ID, s.ID, e.url), 201, &in)
	e.inst = in.ID
	return e
}

func (e *env) mpath(p string) string { return "/api/v1/merchants/" + e.merchant + p }
func (e *env) ipath(p string) string { return e.mpath("/installations/" + e.inst + p) }

// call sends an admin API request and returns the status and body.
func (e *env) call(token, method, path, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (e *env) api(token, method, path, body string, want int, out any) {
	e.t.Helper()
	st, raw := e.call(token, method, path, body)
	apitest.Expect(e.t, method, path, st, raw, want, out)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// follow opens an authorize URL as the merchant's browser would (the
// emulators approve at once) and lands on the hub's callback.
func (e *env) follow(authURL string) {
	e.t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.url+"/oauth/callback/") {
		e.t.Fatalf("authorize %s = %d to %q", authURL, resp.StatusCode, loc)
	}
	resp, err = noRedirect.Get(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("callback %s = %d %s", loc, resp.StatusCode, body)
	}
}

// install runs link, approval, both authorizations and the install.
func (e *env) install() {
	e.t.Helper()
	e.api(e.mToken, "POST", e.ipath("/link"), fmt.Sprintf(`{"shopify_store":%q,"gorgias_account":"acme.gorgias.com"}`, shopifyemu.DefaultShop), 202, nil)
	e.api(adminToken, "POST", e.ipath("/link/approve"), ``, 200, nil)
	var links togethergorgias.Links
	e.api(e.mToken, "POST", e.ipath("/authorize"), ``, 200, &links)
	e.follow(links.GorgiasURL)
	e.follow(links.ShopifyURL)
	var in domain.Installation
	e.api(e.mToken, "POST", e.ipath("/install"), ``, 200, &in)
	if in.State != domain.InstallationActive {
		e.t.Fatalf("installation after install = %+v", in)
	}
}

func (e *env) installation() domain.Installation {
	e.t.Helper()
	var in domain.Installation
	e.api(e.mToken, "GET", e.ipath(""), ``, 200, &in)
	return in
}

// eventToken reads the stored event token (as Gorgias holds it in the
// integration's headers).
func (e *env) eventToken() string {
	e.t.Helper()
	for _, in := range e.gemu.Snapshot().Accounts {
		for _, it := range in.Integrations {
			if it.Name == togethergorgias.IntegrationName {
				return it.HTTP.Headers[togethergorgias.TokenHeader]
			}
		}
	}
	e.t.Fatal("no Together integration in the emulator")
	return ""
}

// hook posts one integration call as Gorgias would.
func (e *env) hook(token, email string) (int, []byte) {
	e.t.Helper()
	body := fmt.Sprintf(`{"ticket_id":"42","account_domain":"acme","email":%q}`, email)
	req, _ := http.NewRequest("POST", e.url+togethergorgias.HookPrefix+e.inst, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set(togethergorgias.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// order creates a Shopify order of email placed daysAgo days ago, with one
// final-sale line when upgraded, and returns its name.
func (e *env) order(email string, daysAgo int, upgraded bool) string {
	e.t.Helper()
	at := e.clock.Now().Add(-time.Duration(daysAgo)*24*time.Hour - time.Hour)
	n := shopifyemu.NewOrder{Email: email, FirstName: "Pat", LastName: "Doe", CreatedAt: &at}
	n.LineItems = append(n.LineItems, struct {
		Title     string `json:"title"`
		SKU       string `json:"sku"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
		FinalSale bool   `json:"final_sale"`
	}{Title: "Linen shirt", SKU: "LS-1", Quantity: 1, Price: "40.00", FinalSale: upgraded}, struct {
		Title     string `json:"title"`
		SKU       string `json:"sku"`
		Quantity  int    `json:"quantity"`
		Price     string `json:"price"`
		FinalSale bool   `json:"final_sale"`
	}{Title: "Socks", SKU: "SK-1", Quantity: 2, Price: "5.00"})
	o, err := e.semu.CreateOrder(n)
	if err != nil {
		e.t.Fatal(err)
	}
	return o.Name()
}

func orderNames(t *testing.T, raw []byte) []string {
	t.Helper()
	var a togethergorgias.Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	if a.Together == nil {
		return nil
	}
	var out []string
	for _, o := range a.Together.Orders {
		out = append(out, o.Name)
		if len(o.Items) != 1 || o.Items[0].Title != "Linen shirt" || o.Items[0].Price != "40.00 USD" || o.Date == "" || o.UpgradedAt == "" {
			t.Fatalf("order %+v: want the final-sale line only, with price and dates", o)
		}
	}
	return out
}

// gorgiasClient is the merchant's own Gorgias (API key) to act as the
// helpdesk: tickets and reading customers.
func (e *env) gorgiasClient() *gorgias.Client {
	e.t.Helper()
	c, err := gorgias.New(gorgias.Config{Account: "acme", BaseURL: e.gURL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// widgetData opens a ticket from email in Gorgias, waits for the HTTP
// integration's call and returns what it stored for the Together widget.
func (e *env) widgetData(email string) (map[string]any, gorgias.ID) {
	e.t.Helper()
	g := e.gorgiasClient()
	tk, err := g.CreateTicket(e.ctx, gorgias.TicketCreate{Channel: "email", Via: "email", Subject: "My order",
		Customer: &gorgias.Person{Email: email}, Messages: []gorgias.Message{{Channel: "email", Via: "email", Sender: &gorgias.Person{Email: email}, BodyText: "Can I return it?"}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.gemu.Flush()
	cust, err := g.GetCustomer(e.ctx, tk.Customer.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	in := e.installation()
	var data map[string]any
	if raw, ok := cust.Integrations[in.RemoteIDs[togethergorgias.RemoteIntegration]]; ok {
		if err := json.Unmarshal(raw, &data); err != nil {
			e.t.Fatal(err)
		}
	}
	return data, tk.ID
}

// sidebar returns the agent's ticket page (the emulator renders only the
// widgets with data).
func (e *env) sidebar(ticket gorgias.ID) string {
	e.t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/app/ticket/%d", e.gURL, ticket))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLinkApproveInstallEventsUninstall(t *testing.T) {
	e := newEnv(t, envOpts{})

	// Link request: both forms validated with clear errors.
	for _, c := range []struct{ body, want string }{
		{`{"shopify_store":"https://acme.com","gorgias_account":"acme.gorgias.com"}`, "is not a Shopify store domain"},
		{`{"shopify_store":"demo-store.myshopify.com","gorgias_account":"acme"}`, "is not a Gorgias account domain"},
		{`{"shopify_store":"demo-store.myshopify.com","gorgias_account":"other.gorgias.com"}`, "Gorgias connection is for acme.gorgias.com"},
		{`{"gorgias_account":"acme.gorgias.com"}`, "shopify_store is required"},
	} {
		st, raw := e.call(e.mToken, "POST", e.ipath("/link"), c.body)
		if st != 400 || !strings.Contains(string(raw), c.want) {
			t.Fatalf("link %s = %d %s, want 400 naming %q", c.body, st, raw, c.want)
		}
	}
	var l togethergorgias.Link
	e.api(e.mToken, "GET", e.ipath("/link"), ``, 200, &l)
	if l.Status != togethergorgias.LinkNotRequested {
		t.Fatalf("link before request = %+v", l)
	}
	e.api(e.mToken, "POST", e.ipath("/link"), `{"shopify_store":"Demo-Store.myshopify.com ","gorgias_account":"acme.gorgias.com"}`, 202, &l)
	if l.Status != togethergorgias.LinkPending || l.ShopifyStore != shopifyemu.DefaultShop {
		t.Fatalf("link after request = %+v", l)
	}
	// Install before approval is refused and says why.
	if st, raw := e.call(e.mToken, "POST", e.ipath("/install"), ``); st != 400 || !strings.Contains(string(raw), "not linked yet") {
		t.Fatalf("install before approval = %d %s", st, raw)
	}
	// The merchant cannot approve its own link.
	if st, _ := e.call(e.mToken, "POST", e.ipath("/link/approve"), ``); st != 403 {
		t.Fatalf("merchant approve = %d, want 403", st)
	}
	e.api(adminToken, "POST", e.ipath("/link/reject"), `{"reason":"store owner not verified"}`, 200, &l)
	e.api(e.mToken, "GET", e.ipath("/link"), ``, 200, &l)
	if l.Status != togethergorgias.LinkRejected || !strings.Contains(l.Message, "store owner not verified") {
		t.Fatalf("link after reject = %+v", l)
	}
	e.api(e.mToken, "POST", e.ipath("/link"), fmt.Sprintf(`{"shopify_store":%q,"gorgias_account":"acme.gorgias.com"}`, shopifyemu.DefaultShop), 202, &l)
	e.api(adminToken, "POST", e.ipath("/link/approve"), ``, 200, &l)
	e.api(e.mToken, "GET", e.ipath("/link"), ``, 200, &l)
	if l.Status != togethergorgias.LinkLinked {
		t.Fatalf("link after approval = %+v", l)
	}

	// Install: both OAuth flows, then the integration and widget.
	var links togethergorgias.Links
	e.api(e.mToken, "POST", e.ipath("/authorize"), ``, 200, &links)
	if st, raw := e.call(e.mToken, "POST", e.ipath("/install"), ``); st != 400 || !strings.Contains(string(raw), "not connected yet") {
		t.Fatalf("install before OAuth = %d %s", st, raw)
	}
	e.follow(links.GorgiasURL)
	e.follow(links.ShopifyURL)
	// A callback with a forged state or an unsigned Shopify query is refused.
	if resp, err := http.Get(e.url + togethergorgias.CallbackGorgias + "?code=x&state=" + url.QueryEscape("e30.AAAA")); err != nil || resp.StatusCode != 401 {
		t.Fatalf("forged gorgias callback = %v %v", resp, err)
	}
	u, _ := url.Parse(links.ShopifyURL)
	if resp, err := http.Get(e.url + togethergorgias.CallbackShopify + "?code=x&shop=" + shopifyemu.DefaultShop + "&state=" + url.QueryEscape(u.Query().Get("state")) + "&hmac=00"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unsigned shopify callback = %v %v", resp, err)
	}
	sconn, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.sConn)
	if err != nil {
		t.Fatal(err)
	}
	if sconn.Secrets["refresh_token"] == "" || sconn.Config["token_expiry"] == "" || sconn.Config["refresh_token_expiry"] == "" {
		t.Fatalf("shopify connection after OAuth: config %v, secrets %v (want an expiring offline token with its refresh token)", sconn.Config, sconn.Secrets.Names())
	}
	var in domain.Installation
	e.api(e.mToken, "POST", e.ipath("/install"), ``, 200, &in)
	st := e.gemu.Snapshot()
	var integ *gorgiasemu.IntegrationState
	for _, a := range st.Accounts {
		for i := range a.Integrations {
			if a.Integrations[i].Name == "Together" {
				integ = &a.Integrations[i]
			}
		}
		if integ != nil && len(a.Widgets) != 1 {
			t.Fatalf("widgets = %+v, want one", a.Widgets)
		}
	}
	if integ == nil || in.RemoteIDs[togethergorgias.RemoteIntegration] != fmt.Sprint(integ.ID) || in.RemoteIDs[togethergorgias.RemoteWidget] == "" {
		t.Fatalf("integration %+v, installation remote ids %v", integ, in.RemoteIDs)
	}
	// Repair is idempotent: same ids, still one of each.
	var again domain.Installation
	e.api(e.mToken, "POST", e.ipath("/install"), ``, 200, &again)
	if again.RemoteIDs[togethergorgias.RemoteIntegration] != in.RemoteIDs[togethergorgias.RemoteIntegration] || again.RemoteIDs[togethergorgias.RemoteWidget] != in.RemoteIDs[togethergorgias.RemoteWidget] {
		t.Fatalf("repair changed ids: %v → %v", in.RemoteIDs, again.RemoteIDs)
	}

	// Orders at 10, 59 and 61 days: the widget shows exactly the first two.
	buyer := "buyer@example.com"
	o10 := e.order(buyer, 10, true)
	o59 := e.order(buyer, 59, true)
	e.order(buyer, 61, true)
	e.order(buyer, 5, false) // no final-sale line
	e.order("plain@example.com", 3, false)

	data, ticket := e.widgetData(buyer)
	raw, _ := json.Marshal(data)
	if got := orderNames(t, raw); strings.Join(got, ",") != o10+","+o59 {
		t.Fatalf("widget orders = %v, want [%s %s] (stored %s)", got, o10, o59, raw)
	}
	if page := e.sidebar(ticket); !strings.Contains(page, "Together") || !strings.Contains(page, o59) {
		t.Fatalf("ticket sidebar does not show the Together widget with %s", o59)
	}
	// A customer without upgrades: the widget stays hidden.
	data, ticket = e.widgetData("plain@example.com")
	if v, ok := data["together"]; !ok || v != nil {
		t.Fatalf("widget data for a customer without upgrades = %v, want together: null", data)
	}
	if page := e.sidebar(ticket); strings.Contains(page, "Final-sale item") || strings.Contains(page, "Upgraded to final sale") {
		t.Fatal("the Together widget is shown for a customer without upgrades")
	}

	// Wrong or missing token: 401.
	token := e.eventToken()
	if st, _ := e.hook("", buyer); st != 401 {
		t.Fatalf("no token = %d", st)
	}
	if st, _ := e.hook(token+"x", buyer); st != 401 {
		t.Fatalf("wrong token = %d", st)
	}
	if st, raw := e.hook(token, buyer); st != 200 || len(orderNames(t, raw)) != 2 {
		t.Fatalf("right token = %d %s", st, raw)
	}
	// An event for another account than the linked one is refused.
	req, _ := http.NewRequest("POST", e.url+togethergorgias.HookPrefix+e.inst, strings.NewReader(`{"ticket_id":1,"account_domain":"other","email":"buyer@example.com"}`))
	req.Header.Set(togethergorgias.TokenHeader, token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("other account = %v %v", resp, err)
	}
	// Unlinked by the operator: answered with nothing, so the widget hides.
	e.api(adminToken, "POST", e.ipath("/link/reject"), `{"reason":"ownership dispute"}`, 200, nil)
	if st, raw := e.hook(token, buyer); st != 200 || orderNames(t, raw) != nil {
		t.Fatalf("unlinked = %d %s, want 200 with nothing", st, raw)
	}

	// Uninstall: both objects gone, the token refused at once, tokens revoked.
	e.api(e.mToken, "POST", e.ipath("/uninstall"), ``, 200, nil)
	for _, a := range e.gemu.Snapshot().Accounts {
		if len(a.Integrations) != 0 || len(a.Widgets) != 0 {
			t.Fatalf("after uninstall: integrations %+v, widgets %+v", a.Integrations, a.Widgets)
		}
	}
	if st, _ := e.hook(token, buyer); st != 401 {
		t.Fatalf("old token after uninstall = %d, want 401", st)
	}
	gconn, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.gConn)
	if err != nil {
		t.Fatal(err)
	}
	if len(gconn.Secrets.Names()) != 1 { // client_secret only
		t.Fatalf("gorgias connection secrets after uninstall = %v", gconn.Secrets.Names())
	}
	if a, r := e.semu.TokenCount("", ""); a != 0 || r != 0 {
		t.Fatalf("shopify tokens of the app after uninstall: %d access, %d refresh", a, r)
	}
	sconn, err = e.app.Store().GetConnection(e.ctx, e.merchant, e.sConn)
	if err != nil || len(sconn.Secrets.Names()) != 1 {
		t.Fatalf("shopify connection secrets after uninstall = %v, %v", sconn.Secrets.Names(), err)
	}
	e.api(e.mToken, "POST", e.ipath("/uninstall"), ``, 200, nil) // harmless
	if got := e.installation(); got.State != domain.InstallationUninstalled {
		t.Fatalf("state = %s", got.State)
	}
}

// tableDump reads every row of every table of the hub's SQLite database
// as text.
func (e *env) tableDump() (map[string]int, string) {
	e.t.Helper()
	var sb strings.Builder
	rows := map[string]int{}
	err := e.app.Store().Backend().Write(e.ctx, func(tx sqlstore.Tx) error {
		if e.app.Store().Backend().Name() == "postgres" {
			return pgDump(e.ctx, tx, rows, &sb)
		}
		rs, err := tx.Query(e.ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
		if err != nil {
			return err
		}
		var tables []string
		for rs.Next() {
			var n string
			if err := rs.Scan(&n); err != nil {
				return err
			}
			tables = append(tables, n)
		}
		rs.Close()
		for _, tbl := range tables {
			var ncols int
			if err := tx.QueryRow(e.ctx, `SELECT count(*) FROM pragma_table_info(?)`, tbl).Scan(&ncols); err != nil || ncols == 0 {
				return fmt.Errorf("table %s: %d columns, %v", tbl, ncols, err)
			}
			rs, err := tx.Query(e.ctx, `SELECT * FROM "`+tbl+`"`)
			if err != nil {
				return fmt.Errorf("table %s: %w", tbl, err)
			}
			for rs.Next() {
				vals := make([]any, ncols)
				ptrs := make([]any, ncols)
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rs.Scan(ptrs...); err != nil {
					return fmt.Errorf("table %s: %w", tbl, err)
				}
				rows[tbl]++
				for _, v := range vals {
					if b, ok := v.([]byte); ok {
						v = string(b)
					}
					fmt.Fprintf(&sb, "%v\t", v)
				}
				sb.WriteString("\n")
			}
			rs.Close()
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return rows, sb.String()
}

// pgDump reads every row of every table of every schema but the
// system's, one JSON text per row.
func pgDump(ctx context.Context, tx sqlstore.Tx, rows map[string]int, sb *strings.Builder) error {
	rs, err := tx.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		return err
	}
	var tables [][2]string
	for rs.Next() {
		var sc, n string
		if err := rs.Scan(&sc, &n); err != nil {
			return err
		}
		tables = append(tables, [2]string{sc, n})
	}
	rs.Close()
	for _, tb := range tables {
		rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT row_to_json(t)::text FROM %q.%q t`, tb[0], tb[1]))
		if err != nil {
			return fmt.Errorf("table %s.%s: %w", tb[0], tb[1], err)
		}
		for rs.Next() {
			var row string
			if err := rs.Scan(&row); err != nil {
				return err
			}
			rows[tb[1]]++
			sb.WriteString(row + "\n")
		}
		rs.Close()
	}
	return nil
}

func TestBurstStoresNothing(t *testing.T) {
	burstStoresNothing(t, "")
}

func TestBurstStoresNothingPostgres(t *testing.T) {
	burstStoresNothing(t, pgtest.NewDatabase(t))
}

func burstStoresNothing(t *testing.T, db string) {
	e := newEnv(t, envOpts{bigBucket: true, db: db})
	// The default 10 requests/s cap would make the burst take 100 s.
	e.api(e.mToken, "PATCH", e.mpath("/connections/"+e.sConn), `{"config":{"max_rps":"1000"}}`, 200, nil)
	e.install()
	token := e.eventToken()

	const customers, events = 40, 1000
	var emails, names []string
	for i := range customers {
		email := fmt.Sprintf("burst.customer%02d@example.org", i)
		emails = append(emails, email)
		names = append(names, e.order(email, 1+i%50, true))
		if i%2 == 0 {
			names = append(names, e.order(email, 2, false))
		}
	}
	var shown atomic.Int32
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan string, events)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				email := emails[i%customers]
				if i%5 == 4 {
					email = fmt.Sprintf("nobody%04d@example.org", i) // no orders at all
				}
				st, raw := e.hook(token, email)
				if st != 200 {
					errs <- fmt.Sprintf("event %d: %d %s", i, st, raw)
					continue
				}
				var a togethergorgias.Answer
				if json.Unmarshal(raw, &a) == nil && a.Together != nil && len(a.Together.Orders) > 0 {
					shown.Add(1)
				}
			}
		})
	}
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	if shown.Load() != events*4/5 {
		t.Fatalf("%d answers showed orders, want %d", shown.Load(), events*4/5)
	}

	// Nothing that passed through is anywhere: every table, the log output.
	rows, dump := e.tableDump()
	logs := e.logs.String()
	if rows["installations"] != 1 || !strings.Contains(dump, e.inst) || !strings.Contains(logs, e.inst) {
		t.Fatalf("the dump or the logs miss what they must hold (rows %v)", rows)
	}
	needles := append([]string{"@example.org", "burst.customer", "OrdersByEmail"}, names...)
	for _, n := range needles {
		if strings.Contains(strings.ToLower(dump), strings.ToLower(n)) {
			t.Errorf("the database holds %q", n)
		}
		if strings.Contains(strings.ToLower(logs), strings.ToLower(n)) {
			t.Errorf("the log output holds %q", n)
		}
	}
	t.Logf("tables read: %v; %d log bytes", rows, len(logs))
}

// holdingRefresh makes a grant counter hold each refresh until release is
// closed, signalling seen when the first one arrives.
func holdRefreshes(g *grantCounter) (seen chan struct{}, release chan struct{}) {
	seen, release = make(chan struct{}), make(chan struct{})
	inner := g.h
	var once sync.Once
	g.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("refresh_token")) && r.Method == http.MethodPost {
			once.Do(func() { close(seen) })
			<-release
		}
		inner.ServeHTTP(w, r)
	})
	return seen, release
}

func TestTokenRefreshBothVendors(t *testing.T) {
	e := newEnv(t, envOpts{gorgiasTTL: 10 * time.Minute, shopifyTTL: 10 * time.Minute})
	e.install()
	token := e.eventToken()
	buyer := "refresh@example.com"
	name := e.order(buyer, 3, true)
	before, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.sConn)
	if err != nil {
		t.Fatal(err)
	}
	if st, raw := e.hook(token, buyer); st != 200 || len(orderNames(t, raw)) != 1 || e.sGrants.refresh.Load() != 0 {
		t.Fatalf("fresh token: %d %s, %d refreshes", st, raw, e.sGrants.refresh.Load())
	}

	t.Run("shopify: two requests during one refresh", func(t *testing.T) {
		e.clock.Add(11 * time.Minute) // the access token has expired
		seen, release := holdRefreshes(e.sGrants)
		type result struct {
			st  int
			raw []byte
		}
		results := make(chan result, 2)
		go func() { st, raw := e.hook(token, buyer); results <- result{st, raw} }()
		<-seen // the first request is refreshing
		go func() { st, raw := e.hook(token, buyer); results <- result{st, raw} }()
		time.Sleep(100 * time.Millisecond) // let the second reach the refresh lock (not an assertion)
		close(release)
		for range 2 {
			r := <-results
			if r.st != 200 || strings.Join(orderNames(t, r.raw), ",") != name {
				t.Fatalf("event during refresh = %d %s", r.st, r.raw)
			}
		}
		if n := e.sGrants.refresh.Load(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		after, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.sConn)
		if err != nil {
			t.Fatal(err)
		}
		if after.Secrets["refresh_token"] == before.Secrets["refresh_token"] || after.Config["token_expiry"] == before.Config["token_expiry"] {
			t.Fatal("the rotated refresh token and new expiry were not stored")
		}
	})

	t.Run("gorgias: two requests during one refresh", func(t *testing.T) {
		e.clock.Add(11 * time.Minute)
		seen, release := holdRefreshes(e.gGrants)
		results := make(chan int, 2)
		repair := func() { st, _ := e.call(e.mToken, "POST", e.ipath("/install"), ``); results <- st }
		go repair()
		<-seen
		go repair()
		time.Sleep(100 * time.Millisecond)
		close(release)
		for range 2 {
			if st := <-results; st != 200 {
				t.Fatalf("repair during refresh = %d", st)
			}
		}
		if n := e.gGrants.refresh.Load(); n != 1 {
			t.Fatalf("%d gorgias refreshes, want 1", n)
		}
	})

	t.Run("shopify invalid_grant degrades the installation until reconnect", func(t *testing.T) {
		e.sGrants.h = e.semu
		e.semu.IssueExpiringToken(shopifyemu.DefaultShop) // a new grant revokes ours
		e.clock.Add(11 * time.Minute)
		if st, raw := e.hook(token, buyer); st != 502 || !strings.Contains(string(raw), "reconnect") {
			t.Fatalf("event with a revoked refresh token = %d %s", st, raw)
		}
		in := e.installation()
		if in.State != domain.InstallationDegraded || !strings.Contains(in.StateReason, "reconnect Shopify") {
			t.Fatalf("installation = %s %q, want degraded asking to reconnect", in.State, in.StateReason)
		}
		var links togethergorgias.Links
		e.api(e.mToken, "POST", e.ipath("/authorize"), ``, 200, &links)
		e.follow(links.ShopifyURL)
		e.api(e.mToken, "POST", e.ipath("/install"), ``, 200, &in)
		if in.State != domain.InstallationActive {
			t.Fatalf("after reconnect: %s", in.State)
		}
		if st, raw := e.hook(token, buyer); st != 200 || len(orderNames(t, raw)) != 1 {
			t.Fatalf("after reconnect = %d %s", st, raw)
		}
	})

	t.Run("gorgias invalid_grant degrades; uninstall then asks for a manual removal", func(t *testing.T) {
		e.gGrants.h = e.gemu
		conn, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.gConn)
		if err != nil {
			t.Fatal(err)
		}
		// The merchant disconnects the app in Gorgias: the refresh token is revoked.
		req, _ := http.NewRequest("POST", e.gURL+"/oauth/revoke", strings.NewReader(url.Values{"token": {conn.Secrets["refresh_token"]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(gorgiasemu.DefaultClientID, gorgiasemu.DefaultClientSecret)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", resp, err)
		}
		e.clock.Add(11 * time.Minute)
		if st, raw := e.call(e.mToken, "POST", e.ipath("/install"), ``); st != 400 {
			t.Fatalf("repair with a revoked refresh token = %d %s", st, raw)
		}
		in := e.installation()
		if in.State != domain.InstallationDegraded || !strings.Contains(in.StateReason, "reconnect Gorgias") {
			t.Fatalf("installation = %s %q, want degraded asking to reconnect Gorgias", in.State, in.StateReason)
		}
		e.api(e.mToken, "POST", e.ipath("/uninstall"), ``, 200, &in)
		if in.State != domain.InstallationUninstalled || !strings.Contains(in.StateReason, "delete them in Gorgias") {
			t.Fatalf("uninstall = %s %q, want the manual removal named", in.State, in.StateReason)
		}
		if st, _ := e.hook(token, buyer); st != 401 {
			t.Fatalf("event after uninstall = %d", st)
		}
		e.api(e.mToken, "POST", e.ipath("/uninstall"), ``, 200, nil) // harmless
		after, err := e.app.Store().GetConnection(e.ctx, e.merchant, e.gConn)
		if err != nil {
			t.Fatal(err)
		}
		if after.Secrets["refresh_token"] != "" || after.Secrets["access_token"] != "" {
			t.Fatal("the refused tokens were kept")
		}
	})
}
