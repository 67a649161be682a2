package adminui_test

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
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchyard/internal/app"
	"switchyard/internal/connector/yotpogorgias"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	shopifyemu "switchyard/internal/emulator/shopify"
	yotpoemu "switchyard/internal/emulator/yotpo"
	"switchyard/internal/testutil/browser"
)

// The connector panels' browser tests (konnektive-gorgias,
// together-gorgias, yotpo-gorgias). Each starts the hub and the
// connector's emulators on free ports and sets the installation up through
// the admin API (or the app-store flow), as the connectors' own tests do.

// panelHub is a running hub for one connector's panel.
type panelHub struct {
	*env
}

// startPanelHub starts the hub with the vendor hosts allowed; configure
// runs before it listens.
func startPanelHub(t *testing.T, hosts []string, configure func(*app.App)) *panelHub {
	t.Helper()
	a, err := app.New(context.Background(), app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{9}, 32),
		AdminToken: adminToken, Coalesce: 100 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffCap: 500 * time.Millisecond,
		AllowVendorHosts: hosts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(a)
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
	return &panelHub{env: &env{t: t, app: a, url: a.URL()}}
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func hostOf(u string) string { return strings.TrimPrefix(u, "http://") }

// submit runs action (a click that posts a form), waits for the next page
// to load, then for sel on it (a flash left on the old page must not
// count).
func submit(t *testing.T, bctx context.Context, action chromedp.Action[chromedp.Void], sel string) {
	t.Helper()
	do(t, bctx, chromedp.Evaluate[chromedp.Void](`window.__stale = 1`), action)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		fresh, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`!window.__stale && document.readyState === 'complete'`))
		if err == nil && fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new page after the form was posted")
		}
	}
	do(t, bctx, chromedp.WaitVisible(sel))
}

// TestBrowserKonnektivePanel: the plugin settings form shows the guide's
// fields (apiKey only as set, IntegrationId read-only); saved with a wrong
// apiKey it shows the API's error naming the Gorgias side, with a wrong CRM
// password the Konnektive side, and with the right ones it saves; the
// audit row of an agent's macro shows on the installation page and in the
// customer's timeline.
func TestBrowserKonnektivePanel(t *testing.T) {
	gemu := gorgiasemu.New(gorgiasemu.Config{Window: 10 * time.Millisecond})
	kemu := konnektiveemu.New(konnektiveemu.Config{Seed: 11, Customers: 20})
	t.Cleanup(func() { gemu.Close(); kemu.Close() })
	gURL, kURL := serve(t, gemu), serve(t, kemu)
	h := startPanelHub(t, []string{hostOf(gURL), hostOf(kURL)}, nil)
	var m, gg, kk, in struct{ ID string }
	h.api("POST", "/api/v1/merchants", `{"id":"acme","name":"Acme"}`, 201, &m)
	h.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":"10ms"},"secrets":{"api_key":%q}}`,
		gURL, gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey), 201, &gg)
	h.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"konnektive","account":%q,"config":{"base_url":%q},"secrets":{"password":%q}}`,
		konnektiveemu.DefaultLoginID, kURL, konnektiveemu.DefaultPassword), 201, &kk)
	h.api("POST", "/api/v1/merchants/acme/installations", fmt.Sprintf(`{"id":"acme-c3","connector":"konnektive-gorgias","connections":{"konnektive":%q,"gorgias":%q},"settings":{"hubUrl":%q}}`,
		kk.ID, gg.ID, h.url), 201, &in)
	var installed struct {
		RemoteIDs map[string]string `json:"remote_ids"`
	}
	h.api("POST", "/api/v1/merchants/acme/installations/acme-c3/install", "", 200, &installed)
	integrationID := installed.RemoteIDs["gorgias_integration_id"]
	if integrationID == "" {
		t.Fatalf("installed without an integration id: %v", installed.RemoteIDs)
	}

	// An agent applies a macro with a bad argument: refused before the
	// CRM, recorded in the audit.
	var snap struct {
		Accounts map[string]struct {
			Integrations []struct {
				Name string `json:"name"`
				HTTP struct {
					Headers map[string]string `json:"headers"`
				} `json:"http"`
			} `json:"integrations"`
		} `json:"accounts"`
	}
	raw, _ := json.Marshal(gemu.Snapshot())
	if err := json.Unmarshal(raw, &snap); err != nil || len(snap.Accounts["acme"].Integrations) != 1 {
		t.Fatalf("gorgias state: %v %s", err, raw)
	}
	token := snap.Accounts["acme"].Integrations[0].HTTP.Headers["X-Switchyard-Token"]
	req, _ := http.NewRequest("POST", h.url+"/hooks/gorgias/konnektive-gorgias/acme-c3/actions/partial-refund?ticket=4242&email=ann@example.com&agent=agent@acme.test",
		strings.NewReader(`{"orderId":"ORD1","refundAmount":"-5"}`))
	req.Header.Set("X-Switchyard-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 1000))
	loginAs(t, bctx, h.env, adminToken, "/ui/m/acme/installations/acme-c3")
	do(t, bctx, chromedp.WaitVisible("#konnektive-settings"))
	for sel, want := range map[string]string{"#k-userName": gorgiasemu.DefaultUserEmail, "#k-IntegrationId": integrationID, "#k-crmLoginId": konnektiveemu.DefaultLoginID,
		"#k-baseUrl": gURL + "/api", "#k-crmBaseUrl": kURL, "#k-apiKey": "", "#k-crmPassword": ""} {
		if got := eval[string](t, bctx, `document.querySelector('`+sel+`').value`); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if !eval[bool](t, bctx, `document.querySelector('#k-IntegrationId').readOnly && !document.querySelector('#k-IntegrationId').name`) {
		t.Errorf("IntegrationId is editable or sent with the form")
	}
	if got := text(t, bctx, "#k-apiKey-state"); !strings.HasPrefix(got, "apiKey is set") {
		t.Errorf("apiKey state: %q", got)
	}
	if body := text(t, bctx, "body"); strings.Contains(body, gorgiasemu.DefaultAPIKey) || strings.Contains(body, konnektiveemu.DefaultPassword) {
		t.Errorf("a secret is on the page")
	}
	if got := text(t, bctx, "#konnektive-audit"); !strings.Contains(got, "4242") || !strings.Contains(got, "partial-refund") || !strings.Contains(got, "agent@acme.test") {
		t.Errorf("audit on the installation page: %q", got)
	}
	shot(t, bctx, "panel-konnektive")

	// A wrong apiKey: the Gorgias side is named.
	do(t, bctx, chromedp.SendKeys("#k-apiKey", "wrong-key"))
	submit(t, bctx, chromedp.Click("#save-plugin-settings"), "#flash")
	if got := text(t, bctx, "#flash"); !strings.HasPrefix(got, "Gorgias (baseUrl, userName, apiKey)") || strings.Contains(got, "Konnektive CRM (") {
		t.Errorf("wrong apiKey: %q", got)
	}
	if !eval[bool](t, bctx, `document.querySelector('#flash').classList.contains('error')`) {
		t.Errorf("the error is not shown as an error")
	}
	shot(t, bctx, "panel-konnektive-wrong-key")
	// Put the right key back and give a wrong CRM password: the Konnektive side.
	do(t, bctx, chromedp.SendKeys("#k-apiKey", gorgiasemu.DefaultAPIKey), chromedp.SendKeys("#k-crmPassword", "wrong-pass"))
	submit(t, bctx, chromedp.Click("#save-plugin-settings"), "#flash")
	if got := text(t, bctx, "#flash"); !strings.HasPrefix(got, "Konnektive CRM (") || strings.Contains(got, "Gorgias (") {
		t.Errorf("wrong CRM password: %q", got)
	}
	do(t, bctx, chromedp.SendKeys("#k-crmPassword", konnektiveemu.DefaultPassword), chromedp.SetValue(`#konnektive-settings input[name=pullTimeout]`, "2s"))
	submit(t, bctx, chromedp.Click("#save-plugin-settings"), "#flash")
	if got := text(t, bctx, "#flash"); got != "Plugin settings saved: Gorgias and the Konnektive CRM both answer." {
		t.Errorf("right credentials: %q", got)
	}
	st, err := h.app.Store().GetInstallation(context.Background(), "acme", "acme-c3")
	if err != nil || st.Settings["pullTimeout"] != "2s" || st.Settings["IntegrationId"] != integrationID {
		t.Fatalf("settings after saving: %v %v", st, err)
	}

	// The customer's timeline shows the agent actions on its tickets, and
	// another customer's does not.
	do(t, bctx, chromedp.Navigate(h.url+"/ui/m/acme/timeline?email=ann@example.com"), chromedp.WaitVisible("#timeline-konnektive"))
	if got := text(t, bctx, "#timeline-konnektive"); !strings.Contains(got, "4242") || !strings.Contains(got, "partial-refund") {
		t.Errorf("timeline section: %q", got)
	}
	shot(t, bctx, "timeline-konnektive")
	do(t, bctx, chromedp.Navigate(h.url+"/ui/m/acme/timeline?email=bob@example.com"), chromedp.WaitVisible("#timeline-konnektive"))
	if got := text(t, bctx, "#timeline-konnektive"); strings.Contains(got, "partial-refund") || !strings.Contains(got, "No macro has run on this customer's tickets") {
		t.Errorf("another customer's timeline section: %q", got)
	}
}

// TestBrowserTogetherPanel: the merchant requests the link in its panel
// (pending) and has no approve button; a forged approve post (with the
// session's CSRF token) is refused by the API and changes nothing; the
// operator approves and the merchant then sees linked; the authorize
// button gives the OAuth links.
func TestBrowserTogetherPanel(t *testing.T) {
	gemu := gorgiasemu.New(gorgiasemu.Config{AutoApprove: true})
	semu := shopifyemu.New(shopifyemu.Config{AutoApprove: true, Customers: -1})
	t.Cleanup(func() { gemu.Close(); semu.Close() })
	gURL, sURL := serve(t, gemu), serve(t, semu)
	h := startPanelHub(t, []string{hostOf(gURL), hostOf(sURL)}, nil)
	var m, g, s, in struct{ ID string }
	h.api("POST", "/api/v1/merchants", `{"id":"acme","name":"Acme"}`, 201, &m)
	var tok struct{ Token string }
	h.api("POST", "/api/v1/merchants/acme/tokens", `{"name":"merchant"}`, 201, &tok)
	h.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"client_id":%q,"redirect_url":%q},"secrets":{"client_secret":%q}}`,
		gURL, gorgiasemu.DefaultClientID, h.url+"/oauth/callback/together-gorgias/gorgias", gorgiasemu.DefaultClientSecret), 201, &g)
	h.api("POST", "/api/v1/merchants/acme/connections", fmt.Sprintf(`{"vendor":"shopify","account":%q,"config":{"base_url":%q,"client_id":%q,"redirect_url":%q},"secrets":{"client_secret":%q}}`,
		shopifyemu.DefaultShop, sURL, shopifyemu.DefaultClientID, h.url+"/oauth/callback/together-gorgias/shopify", shopifyemu.DefaultClientSecret), 201, &s)
	h.api("POST", "/api/v1/merchants/acme/installations", fmt.Sprintf(`{"id":"acme-c5","connector":"together-gorgias","connections":{"gorgias":%q,"shopify":%q},"settings":{"hub_url":%q}}`,
		g.ID, s.ID, h.url), 201, &in)
	status := func() string {
		var l struct{ Status string }
		h.api("GET", "/api/v1/merchants/acme/installations/acme-c5/link", "", 200, &l)
		return l.Status
	}
	page := "/ui/m/acme/installations/acme-c5"

	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 1000))
	loginAs(t, bctx, h.env, tok.Token, page)
	do(t, bctx, chromedp.WaitVisible("#link-status"))
	if got := text(t, bctx, "#link-status"); got != "not_requested" {
		t.Fatalf("status before the request: %q", got)
	}
	// A wrong store domain: the API's error.
	do(t, bctx, chromedp.SendKeys("#shopify-store", "https://demo-store.com"), chromedp.SendKeys("#gorgias-account", "acme.gorgias.com"))
	submit(t, bctx, chromedp.Click("#submit-link"), "#flash")
	if got := text(t, bctx, "#flash"); !strings.Contains(got, "is not a Shopify store domain") {
		t.Errorf("wrong store: %q", got)
	}
	do(t, bctx, chromedp.SetValue("#shopify-store", shopifyemu.DefaultShop), chromedp.SetValue("#gorgias-account", "acme.gorgias.com"))
	submit(t, bctx, chromedp.Click("#submit-link"), "#flash")
	if got := text(t, bctx, "#link-status"); got != "pending" {
		t.Fatalf("status after the request: %q (%s)", got, text(t, bctx, "#flash"))
	}
	if n := eval[int](t, bctx, `document.querySelectorAll('#approve-link, #reject-link').length`); n != 0 {
		t.Errorf("the merchant sees %d approve/reject buttons", n)
	}
	// A forged approve: the same form the operator gets, posted by the
	// merchant's session with its CSRF token.
	submit(t, bctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement('form'); f.method = 'post'; f.action = document.querySelector('#request-link').action;
		for (const [k, v] of [['csrf', document.querySelector('#request-link input[name=csrf]').value], ['_path', 'link/approve']]) {
			const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit();
	})()`), "#flash")
	if got := text(t, bctx, "#flash"); !strings.Contains(got, "operator") {
		t.Errorf("forged approve: %q", got)
	}
	if got := status(); got != "pending" {
		t.Fatalf("after the merchant's forged approve the link is %s", got)
	}
	shot(t, bctx, "panel-together-pending")

	// The operator approves.
	do(t, bctx, chromedp.Click(".logout button"), chromedp.WaitVisible("#token"))
	loginAs(t, bctx, h.env, adminToken, "/ui/merchants")
	do(t, bctx, chromedp.WaitVisible(`[data-waiting="acme"]`))
	if got := text(t, bctx, `[data-waiting="acme"]`); got != "acme-c5: link request pending: approve or reject" {
		t.Errorf("merchants list: %q", got)
	}
	do(t, bctx, chromedp.Click(`[data-waiting="acme"]`), chromedp.WaitVisible(`[data-badge="acme-c5"]`))
	if got := text(t, bctx, `[data-badge="acme-c5"]`); got != "link request pending: approve or reject" {
		t.Errorf("badge in the merchant's installations: %q", got)
	}
	do(t, bctx, chromedp.Navigate(h.url+page), chromedp.WaitVisible("#approve-link"))
	submit(t, bctx, chromedp.Click("#approve-link"), "#flash")
	if got := text(t, bctx, "#link-status"); got != "linked" {
		t.Fatalf("operator sees %q after approving (%s)", got, text(t, bctx, "#flash"))
	}
	do(t, bctx, chromedp.Navigate(h.url+"/ui/m/acme"), chromedp.WaitVisible("#installations"))
	if n := eval[int](t, bctx, `document.querySelectorAll('[data-badge]').length`); n != 0 {
		t.Errorf("a badge is still shown after the approval")
	}
	do(t, bctx, chromedp.Click(".logout button"), chromedp.WaitVisible("#token"))

	// The merchant sees it linked, and gets the authorization links.
	loginAs(t, bctx, h.env, tok.Token, page)
	do(t, bctx, chromedp.WaitVisible("#link-status"))
	if got := text(t, bctx, "#link-status"); got != "linked" {
		t.Fatalf("merchant sees %q after the approval", got)
	}
	submit(t, bctx, chromedp.Click("#authorize"), "#auth-links")
	for _, sel := range []string{"#gorgias-auth", "#shopify-auth"} {
		href := eval[string](t, bctx, `document.querySelector('`+sel+`').href`)
		if !strings.HasPrefix(href, gURL) && !strings.HasPrefix(href, sURL) || !strings.Contains(href, "state=") {
			t.Errorf("%s = %q", sel, href)
		}
	}
	shot(t, bctx, "panel-together")
	// The links are shown once.
	do(t, bctx, chromedp.Reload(), chromedp.WaitVisible("#link-status"))
	if n := eval[int](t, bctx, `document.querySelectorAll('#auth-links').length`); n != 0 {
		t.Errorf("the authorization links are shown again")
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// TestBrowserYotpoPanel: installed through the app-store flow, the Yotpo
// panel shows the integration's name; "Update integration" renames it, and
// the Gorgias emulator has the new name.
func TestBrowserYotpoPanel(t *testing.T) {
	gemu := gorgiasemu.New(gorgiasemu.Config{AutoApprove: true})
	yemu := yotpoemu.New(yotpoemu.Config{Customers: -1, Seed: 7})
	t.Cleanup(func() { gemu.Close(); yemu.Close() })
	gURL, yURL := serve(t, gemu), serve(t, yemu)
	h := startPanelHub(t, []string{hostOf(gURL), hostOf(yURL)}, func(a *app.App) {
		c, ok := a.Connector(yotpogorgias.Name).(*yotpogorgias.Connector)
		if !ok {
			t.Fatal("yotpo-gorgias is not registered")
		}
		c.Configure(yotpogorgias.Config{GorgiasBaseURL: gURL + "/a/{account}", GorgiasClientID: gorgiasemu.DefaultClientID,
			GorgiasClientSecret: gorgiasemu.DefaultClientSecret, YotpoBaseURL: yURL, YotpoClientID: "switchyard"})
	})
	// The app-store install: Gorgias consent (auto-approved), Yotpo's
	// Connect page, the confirmation.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(h.url + "/install/yotpo?account=acme")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"account": {yotpoemu.DefaultAppKey}, "action": {"connect"}}
	for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	resp, err = c.PostForm(yURL+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Yotpo is connected") {
		t.Fatalf("install: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Installations []struct{ ID, MerchantID, Connector string } `json:"installations"`
	}
	h.api("GET", "/api/v1/merchants/mer_yg_acme/installations", "", 200, &list)
	if len(list.Installations) != 1 {
		t.Fatalf("installations: %+v", list)
	}
	inst := list.Installations[0].ID
	integrationNames := func() []string {
		var names []string
		for _, in := range gemu.Snapshot().Accounts["acme"].Integrations {
			names = append(names, in.Name)
		}
		return names
	}
	before := integrationNames()
	if len(before) != 1 || !strings.HasPrefix(before[0], "Yotpo") {
		t.Fatalf("gorgias integrations after install: %q", before)
	}

	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 900))
	loginAs(t, bctx, h.env, adminToken, "/ui/m/mer_yg_acme/installations/"+inst)
	do(t, bctx, chromedp.WaitVisible("#integration-name"))
	if got := text(t, bctx, "#integration-name"); got != before[0] {
		t.Errorf("panel shows %q, Gorgias has %q", got, before[0])
	}
	do(t, bctx, chromedp.SetValue("#new-integration-name", "Yotpo (Acme support)"))
	submit(t, bctx, chromedp.Click("#rename-integration"), "#flash")
	if got := text(t, bctx, "#flash"); !strings.HasPrefix(got, "Done: integration renamed") {
		t.Errorf("flash after renaming: %q", got)
	}
	if got := text(t, bctx, "#integration-name"); got != "Yotpo (Acme support)" {
		t.Errorf("panel after renaming: %q", got)
	}
	if got := integrationNames(); len(got) != 1 || got[0] != "Yotpo (Acme support)" {
		t.Errorf("gorgias integrations after renaming: %q", got)
	}
	shot(t, bctx, "panel-yotpo")
	// An empty name is refused by the API (the browser's own check is
	// skipped by removing "required").
	do(t, bctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#new-integration-name').required = false`), chromedp.SetValue("#new-integration-name", "  "))
	submit(t, bctx, chromedp.Click("#rename-integration"), "#flash")
	if got := text(t, bctx, "#flash"); !strings.Contains(got, "name must be 1 to 255 characters") {
		t.Errorf("empty name: %q", got)
	}
	if got := integrationNames(); len(got) != 1 || got[0] != "Yotpo (Acme support)" {
		t.Errorf("gorgias integrations after the refused rename: %q", got)
	}
}
