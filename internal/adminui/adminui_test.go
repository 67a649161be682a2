package adminui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSessionCSRFAndTenancy drives the UI over HTTP (no browser): login
// with either kind of token, the cookie's attributes, CSRF refusals, a
// merchant session kept to its own merchant, logout.
func TestSessionCSRFAndTenancy(t *testing.T) {
	t.Parallel()
	e := startEnv(t)

	anon := e.client()
	if status, loc := anon.get("/ui/"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
		t.Fatalf("anonymous /ui/ = %d %s, want a redirect to the login", status, loc)
	}
	_, page := anon.get("/ui/login")
	if status, body := anon.post("/ui/login", url.Values{"csrf": {csrf(t, page)}, "token": {"wrong"}}); status != http.StatusUnauthorized || !strings.Contains(body, "not valid") {
		t.Fatalf("wrong token = %d", status)
	}
	if status, _ := anon.post("/ui/login", url.Values{"token": {adminToken}}); status != http.StatusForbidden {
		t.Fatalf("login without its CSRF token = %d, want 403", status)
	}

	// Sent to the login page, then back to the page asked for (query kept).
	if status, loc := anon.get("/ui/m/acme/timeline?email=a%2Bb@example.com"); status != http.StatusSeeOther || loc != "/ui/login?next=%2Fui%2Fm%2Facme%2Ftimeline%3Femail%3Da%252Bb%40example.com" {
		t.Fatalf("redirect to login = %d %s", status, loc)
	}
	_, page = anon.get("/ui/login?next=%2Fui%2Fm%2Facme%2Ftimeline%3Femail%3Da%252Bb%40example.com")
	if status, loc := anon.post("/ui/login", url.Values{"csrf": {csrf(t, page)}, "token": {adminToken}, "next": {"/ui/m/acme/timeline?email=a%2Bb@example.com"}}); status != http.StatusSeeOther || loc != "/ui/m/acme/timeline?email=a%2Bb@example.com" {
		t.Fatalf("login with next = %d %s", status, loc)
	}
	for _, next := range []string{"https://evil.example/ui/", "//evil.example/ui/", "/api/v1/merchants", "/ui/\\evil"} {
		c := e.client()
		_, page = c.get("/ui/login")
		if status, loc := c.post("/ui/login", url.Values{"csrf": {csrf(t, page)}, "token": {adminToken}, "next": {next}}); status != http.StatusSeeOther || loc != "/ui/" {
			t.Errorf("login with next %q = %d %s, want /ui/", next, status, loc)
		}
	}

	op := e.client()
	op.login(adminToken)
	u, _ := url.Parse(e.url + "/ui/")
	cookies := op.http.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != "sy_session" {
		t.Fatalf("cookies after login = %v", cookies)
	}
	// The jar does not keep attributes: read them off a fresh login.
	fresh := e.client()
	_, page = fresh.get("/ui/login")
	resp, err := fresh.http.PostForm(e.url+"/ui/login", url.Values{"csrf": {csrf(t, page)}, "token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sy_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/ui/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, not Secure over plain HTTP, Path /ui/", sc)
	}

	status, body := op.get("/ui/")
	if status != 200 || !strings.Contains(body, "Rate-limit budgets") || !strings.Contains(body, "Acme Outfitters") {
		t.Fatalf("operator overview = %d:\n%s", status, body)
	}
	if status, body = op.get("/ui/m/other/installations/" + e.otherC1); status != 200 || !strings.Contains(body, "Other secret name") {
		t.Fatalf("operator sees other's installation = %d", status)
	}

	// A merchant session sees its own merchant only.
	mc := e.client()
	mc.login(e.acmeToken)
	if status, body = mc.get("/ui/"); status != 200 || strings.Contains(body, "Rate-limit budgets") {
		t.Fatalf("merchant overview = %d (operator-only parts must not show)", status)
	}
	if status, body = mc.get("/ui/m/acme/installations/" + e.c1); status != 200 || !strings.Contains(body, "whiplash-gorgias") {
		t.Fatalf("own installation = %d", status)
	}
	for _, p := range []string{"/ui/m/other", "/ui/m/other/installations/" + e.otherC1, "/ui/m/other/timeline?email=a@b.c", "/ui/m/other/dead-letters", "/ui/m/other/events", "/ui/m/other/deliveries", "/ui/m/other/installations/" + e.otherC1 + "/backfill",
		"/ui/m/acme/installations/" + e.otherC1} {
		status, body := mc.get(p)
		if status != http.StatusNotFound || strings.Contains(body, "Other secret name") || strings.Contains(body, "Other Shop") {
			t.Errorf("merchant acme GET %s = %d, want 404 and nothing of other", p, status)
		}
	}
	if status, loc := mc.get("/ui/merchants"); status != http.StatusSeeOther || loc != "/ui/m/acme" {
		t.Errorf("merchant /ui/merchants = %d %s, want its own page", status, loc)
	}
	_, page = mc.get("/ui/m/acme/installations/" + e.c1)
	token := csrf(t, page)
	if status, _ := mc.post("/ui/m/other/installations/"+e.otherC1+"/settings", url.Values{"csrf": {token}, "key": {"display_name"}, "value": {"pwned"}}); status != http.StatusNotFound {
		t.Errorf("merchant acme POST to other's settings = %d, want 404", status)
	}

	// Forms without (or with another session's) CSRF token change nothing.
	if status, _ := mc.post("/ui/m/acme/installations/"+e.c1+"/settings", url.Values{"key": {"display_name"}, "value": {"no csrf"}}); status != http.StatusForbidden {
		t.Errorf("settings without csrf = %d, want 403", status)
	}
	_, opPage := op.get("/ui/")
	if status, _ := mc.post("/ui/m/acme/installations/"+e.c1+"/settings", url.Values{"csrf": {csrf(t, opPage)}, "key": {"display_name"}, "value": {"other csrf"}}); status != http.StatusForbidden {
		t.Errorf("settings with another session's csrf = %d, want 403", status)
	}
	in, err := e.app.Store().GetInstallation(context.Background(), "acme", e.c1)
	if err != nil {
		t.Fatal(err)
	}
	if in.Settings["display_name"] != "" {
		t.Fatalf("a refused form changed the settings: %v", in.Settings)
	}
	if status, loc := mc.post("/ui/m/acme/installations/"+e.c1+"/settings", url.Values{"csrf": {token}, "key": {"display_name"}, "value": {"Acme WL"}}); status != http.StatusSeeOther || loc != "/ui/m/acme/installations/"+e.c1 {
		t.Fatalf("settings with csrf = %d %s", status, loc)
	}
	if _, body = mc.get("/ui/m/acme/installations/" + e.c1); !strings.Contains(body, "Settings saved.") || !strings.Contains(body, `value="Acme WL"`) {
		t.Fatalf("settings not saved:\n%s", body)
	}

	// Logout ends the session (the old cookie no longer works).
	if status, _ := mc.post("/ui/logout", url.Values{}); status != http.StatusForbidden {
		t.Errorf("logout without csrf = %d, want 403", status)
	}
	if status, loc := mc.post("/ui/logout", url.Values{"csrf": {token}}); status != http.StatusSeeOther || loc != "/ui/login" {
		t.Fatalf("logout = %d %s", status, loc)
	}
	if status, loc := mc.get("/ui/m/acme"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
		t.Fatalf("after logout = %d %s", status, loc)
	}

	// Repair and uninstall, by the operator.
	_, page = op.get("/ui/m/acme/installations/" + e.c1)
	opToken := csrf(t, page)
	if status, _ := op.post("/ui/m/acme/installations/"+e.c1+"/install", url.Values{"csrf": {opToken}}); status != http.StatusSeeOther {
		t.Fatalf("repair = %d", status)
	}
	if _, body = op.get("/ui/m/acme/installations/" + e.c1); !strings.Contains(body, "Installed: the installation is active.") {
		t.Fatalf("after repair:\n%s", body)
	}
	// A failed install reads as the API says it, cut for a merchant: the
	// other merchant's Gorgias account does not exist in the emulator.
	oc := e.client()
	oc.login(e.othToken)
	_, page = oc.get("/ui/m/other/installations/" + e.otherC1)
	if status, _ := oc.post("/ui/m/other/installations/"+e.otherC1+"/install", url.Values{"csrf": {csrf(t, page)}}); status != http.StatusSeeOther {
		t.Fatalf("install of other = %d", status)
	}
	_, body = oc.get("/ui/m/other/installations/" + e.otherC1)
	if !strings.Contains(body, `class="flash error"`) || !strings.Contains(body, "gorgias") || strings.Contains(body, "{&#34;error") || !strings.Contains(body, `id="state-reason"`) {
		t.Fatalf("failed install page:\n%s", body)
	}
	if status, _ := op.post("/ui/m/acme/installations/"+e.c1+"/uninstall", url.Values{"csrf": {opToken}}); status != http.StatusSeeOther {
		t.Fatalf("uninstall = %d", status)
	}
	if _, body = op.get("/ui/m/acme/installations/" + e.c1); !strings.Contains(body, "Uninstalled:") || !strings.Contains(body, "state-uninstalled") {
		t.Fatalf("after uninstall:\n%s", body)
	}

	// A one-time login link works once.
	link := e.app.UI().LoginLink(e.acmeToken)
	lc := e.client()
	if status, loc := lc.get(link); status != http.StatusSeeOther || loc != "/ui/" {
		t.Fatalf("login link = %d %s", status, loc)
	}
	if status, _ := e.client().get(link); status != http.StatusUnauthorized {
		t.Fatalf("login link used twice = %d, want 401", status)
	}
}
