package app_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/domain"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/whiplash"
	"switchyard/internal/testutil/apitest"
)

// Tenant isolation (issue 9), tried as a hostile merchant would: with only
// a merchant token, against the real HTTP routes.

// loopbackResolver resolves the given names, literal loopback addresses
// and localhost; every other name fails, so no test ever asks real DNS or
// reaches a non-loopback address.
func loopbackResolver(names map[string]netip.AddrPort) outbound.Resolver {
	return outbound.ResolverFunc(func(_ context.Context, host, port string) ([]netip.AddrPort, error) {
		if ap, ok := names[host]; ok {
			return []netip.AddrPort{ap}, nil
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, err
		}
		if host == "localhost" {
			host = "127.0.0.1"
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
			return []netip.AddrPort{netip.AddrPortFrom(ip, uint16(p))}, nil
		}
		return nil, fmt.Errorf("test resolver: %s does not resolve in tests", host)
	})
}

// countingServer is a listener on 127.0.0.1 that counts the TCP
// connections it accepts.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func addrOf(srv *httptest.Server) netip.AddrPort {
	return netip.MustParseAddrPort(srv.Listener.Addr().String())
}

// newMerchant creates a merchant (operator) and a token for it.
func (h *hub) newMerchant(name string) (id, token string) {
	h.t.Helper()
	var m domain.Merchant
	h.api("POST", "/api/v1/merchants", fmt.Sprintf(`{"name":%q}`, name), 201, &m)
	var tok struct{ Token string }
	h.api("POST", "/api/v1/merchants/"+m.ID+"/tokens", `{"name":"t"}`, 201, &tok)
	return m.ID, tok.Token
}

// as sends a request with token and returns the status and body.
func (h *hub) as(token, method, path, body string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// mustAs is as, failing unless the status is want; the body is decoded into out.
func (h *hub) mustAs(token, method, path, body string, want int, out any) {
	h.t.Helper()
	code, raw := h.as(token, method, path, body)
	apitest.Expect(h.t, method, path, code, []byte(raw), want, out)
}

// hookAs posts an order webhook signed with secret.
func (h *hub) hookAs(inst, secret string, body []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/hooks/whiplash/"+inst, strings.NewReader(string(body)))
	req.Header.Set(whiplash.SignatureHeader, whiplash.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 && resp.StatusCode != 200 {
		h.t.Fatalf("hook to %s answered %d", inst, resp.StatusCode)
	}
}

// Internal base URLs and host-smuggling accounts are refused at creation
// and on PATCH, with a 400 that says what is allowed; an operator-allowed
// emulator works; ids of other merchants are no oracle.
func TestIsolationBaseURLsRefusedAtCreation(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second, func(c *app.Config) { c.Resolver = loopbackResolver(nil) })
	e, tok := h.newMerchant("E")
	conns := "/api/v1/merchants/" + e + "/connections"
	internal := []string{"http://169.254.169.254/", "http://[::1]:22/", "http://localhost:6379/", "file:///etc/passwd", "gopher://x/"}
	for _, base := range internal {
		for _, body := range []string{
			fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk"}}`, base),
			fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":"e@x"},"secrets":{"api_key":"k"}}`, base),
			fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"c"},"secrets":{"client_secret":"s"}}`, base),
		} {
			code, raw := h.as(tok, "POST", conns, body)
			if code != 400 || !strings.Contains(raw, "base_url") || !(strings.Contains(raw, "allow") || strings.Contains(raw, "only http and https")) {
				t.Errorf("POST %s = %d %s, want 400 naming what is allowed", body, code, raw)
			}
		}
	}
	// PATCH cannot smuggle them into a valid connection either.
	var kc domain.Connection
	h.mustAs(tok, "POST", conns, `{"vendor":"klaviyo","account":"demo","secrets":{"private_key":"pk"}}`, 201, &kc)
	for _, base := range internal {
		code, raw := h.as(tok, "PATCH", conns+"/"+kc.ID, fmt.Sprintf(`{"config":{"base_url":%q}}`, base))
		if code != 400 || !strings.Contains(raw, "base_url") {
			t.Errorf("PATCH base_url %s = %d %s, want 400", base, code, raw)
		}
	}
	// A Gorgias account that would rewrite the host.
	port := strings.TrimPrefix(h.gURL, "http://127.0.0.1:")
	for _, acct := range []string{"127.0.0.1:" + port + "/x#", "evil.example/x", "acme.evil.example"} {
		code, raw := h.as(tok, "POST", conns, fmt.Sprintf(`{"vendor":"gorgias","account":%q,"config":{"email":"e@x"},"secrets":{"api_key":"k"}}`, acct))
		if code != 400 || !strings.Contains(raw, "subdomain") {
			t.Errorf("gorgias account %q = %d %s, want 400", acct, code, raw)
		}
	}
	var gc domain.Connection
	h.mustAs(tok, "POST", conns, `{"vendor":"gorgias","account":"acme","config":{"email":"e@x"},"secrets":{"api_key":"k"}}`, 201, &gc)
	if code, raw := h.as(tok, "PATCH", conns+"/"+gc.ID, `{"account":"127.0.0.1:`+port+`/x#"}`); code != 400 {
		t.Errorf("PATCH account = %d %s, want 400", code, raw)
	}
	// The operator-allowed emulator works with a merchant token.
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk"}}`, h.kURL), 201, nil)
	var list struct{ Connections []domain.Connection }
	h.mustAs(tok, "GET", conns, "", 200, &list)
	if len(list.Connections) != 3 {
		t.Fatalf("E has %d connections, want 3 (the refused ones were not stored)", len(list.Connections))
	}
	for _, c := range list.Connections {
		if b := c.Config["base_url"]; b != "" && b != h.kURL {
			t.Fatalf("connection %s kept base_url %q", c.ID, b)
		}
		if c.Account != "demo" && c.Account != "acme" {
			t.Fatalf("connection %s kept account %q", c.ID, c.Account)
		}
	}

	// Ids: creating with an id V owns answers exactly like a free id.
	var vconns struct{ Connections []domain.Connection }
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/connections", "", 200, &vconns)
	taken := vconns.Connections[0].ID
	body := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"vendor":"klaviyo","account":"demo","secrets":{"private_key":"pk"}}`, id)
	}
	codeTaken, rawTaken := h.as(tok, "POST", conns, body(taken))
	codeFree, rawFree := h.as(tok, "POST", conns, body(strings.Repeat("z", len(taken))))
	if codeTaken != codeFree || codeTaken == http.StatusConflict || rawTaken != rawFree {
		t.Errorf("another merchant's connection id: %d %s; a free id: %d %s", codeTaken, rawTaken, codeFree, rawFree)
	}
	insts := "/api/v1/merchants/" + e + "/installations"
	ibody := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"connector":"whiplash-klaviyo","connections":{"klaviyo":%q}}`, id, kc.ID)
	}
	codeTaken, rawTaken = h.as(tok, "POST", insts, ibody(h.c1))
	codeFree, rawFree = h.as(tok, "POST", insts, ibody(strings.Repeat("z", len(h.c1))))
	if codeTaken != codeFree || codeTaken == http.StatusConflict || rawTaken != rawFree {
		t.Errorf("another merchant's installation id: %d %s; a free id: %d %s", codeTaken, rawTaken, codeFree, rawFree)
	}
	// Ids in the merchant's own namespace work.
	var own domain.Connection
	h.mustAs(tok, "POST", conns, body(e+"-klaviyo"), 201, &own)
	if own.ID != e+"-klaviyo" {
		t.Fatalf("own id = %q", own.ID)
	}
}

// A listener on 127.0.0.1 that is not allow-listed gets no connection
// during install and webhook processing: not through a vendor name that
// resolves to it, not through a stored row naming it directly. A merchant
// sees only our classification of those failures.
func TestIsolationNoConnectionToInternalListener(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":1,"data":{"id":"x"}}`))
	})
	target, targetConns := countingServer(t, ok)
	control, controlConns := countingServer(t, ok)
	h := startHub(t, time.Second, func(c *app.Config) {
		c.Resolver = loopbackResolver(map[string]netip.AddrPort{
			"acme.gorgias.com": addrOf(target), "a.klaviyo.com": addrOf(target), "www.getwhiplash.com": addrOf(target),
			"emu.test": addrOf(control),
		})
		c.AllowVendorHosts = append(c.AllowVendorHosts, "emu.test")
	})
	e, tok := h.newMerchant("E")
	conns, insts := "/api/v1/merchants/"+e+"/connections", "/api/v1/merchants/"+e+"/installations"
	var wl, gg, kl, c1, c2 domain.Connection
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"e-secret"}}`, h.wURL), 201, &wl)
	// Vendor hosts derived from the accounts, which (here) resolve to 127.0.0.1.
	h.mustAs(tok, "POST", conns, `{"vendor":"gorgias","account":"acme","config":{"email":"e@x"},"secrets":{"api_key":"k"}}`, 201, &gg)
	h.mustAs(tok, "POST", conns, `{"vendor":"klaviyo","account":"demo","secrets":{"private_key":"pk"}}`, 201, &kl)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kl.ID), 201, &c2)
	// A row naming the listener directly, written past the admin API.
	stored := &domain.Connection{MerchantID: e, Vendor: domain.VendorGorgias, Account: "acme", Config: map[string]string{"base_url": target.URL, "email": "e@x"}, Secrets: domain.Secrets{"api_key": "k"}}
	if err := h.app.Store().CreateConnection(h.ctx, stored); err != nil {
		t.Fatal(err)
	}
	var c3 domain.Installation
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, stored.ID), 201, &c3)
	// Their installs are refused below; their jobs must be refused too, so
	// they are taken as installed (as if the hosts changed after install).
	for _, inst := range []string{c1.ID, c2.ID, c3.ID} {
		activate(t, h.app, e, inst)
	}

	leaks := []string{"127.0.0.1", "refused", "dial", "connect", addrOf(target).String()}
	for _, inst := range []string{c1.ID, c2.ID} {
		code, raw := h.as(tok, "POST", insts+"/"+inst+"/install", "")
		if code == 200 {
			t.Fatalf("install %s reached a vendor: %s", inst, raw)
		}
		for _, leak := range leaks {
			if strings.Contains(raw, leak) {
				t.Errorf("install %s answered the merchant %d %s (contains %q)", inst, code, raw, leak)
			}
		}
		t.Logf("install %s: %d %s", inst, code, raw)
	}
	// The stored row is refused when its client is built.
	if code, raw := h.as(tok, "POST", insts+"/"+c3.ID+"/install", ""); code != 400 || !strings.Contains(raw, "not allowed") {
		t.Errorf("install over the stored row = %d %s, want 400 not allowed", code, raw)
	}
	// Webhook processing (syncs to Gorgias, events to Klaviyo).
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 3; i++ {
		for _, inst := range []string{c1.ID, c2.ID, c3.ID} {
			h.hookAs(inst, "e-secret", orderBody(t, 100+i, 1, fmt.Sprintf("e%d@example.com", i), "E", 100, at))
		}
	}
	h.idle(time.Minute)
	if n := targetConns.Load(); n != 0 {
		t.Fatalf("the non-allow-listed listener accepted %d connections", n)
	}
	// Deliveries: the merchant sees classification and status only; the
	// operator sees the guard's refusal.
	var mine, all struct{ Deliveries []domain.Delivery }
	h.mustAs(tok, "GET", "/api/v1/merchants/"+e+"/deliveries", "", 200, &mine)
	h.api("GET", "/api/v1/merchants/"+e+"/deliveries", "", 200, &all)
	if len(mine.Deliveries) == 0 {
		t.Fatal("no delivery recorded for the refused calls")
	}
	for _, d := range mine.Deliveries {
		for _, leak := range leaks {
			if strings.Contains(d.Error, leak) {
				t.Errorf("merchant sees delivery error %q", d.Error)
			}
		}
		if d.Class != domain.ClassOK && !strings.HasPrefix(d.Error, string(d.Class)) {
			t.Errorf("merchant delivery error %q does not carry the class %s", d.Error, d.Class)
		}
	}
	var dls struct {
		DeadLetters []domain.DeadLetter `json:"dead_letters"`
	}
	h.mustAs(tok, "GET", "/api/v1/merchants/"+e+"/dead-letters", "", 200, &dls)
	refusedSyncs := 0
	for _, dl := range dls.DeadLetters {
		if dl.InstallationID != c1.ID && dl.InstallationID != c2.ID {
			continue // c3's own misconfiguration, which names its own base_url
		}
		refusedSyncs++
		for _, leak := range leaks {
			if strings.Contains(dl.Error, leak) {
				t.Errorf("merchant sees dead letter error %q", dl.Error)
			}
		}
	}
	if refusedSyncs == 0 {
		t.Fatal("the refused syncs left no dead letter")
	}
	sawRefusal := false
	for _, d := range all.Deliveries {
		sawRefusal = sawRefusal || strings.Contains(d.Error, outbound.ErrDialRefused.Error())
	}
	if !sawRefusal {
		t.Errorf("the operator does not see the dial guard's refusal: %+v", all.Deliveries)
	}

	// Control: a name the operator allow-listed is dialled where it
	// resolves (so the resolver is in the path and the zero above means
	// something).
	var ok1 domain.Connection
	var c4 domain.Installation
	h.mustAs(tok, "POST", conns, `{"vendor":"gorgias","account":"acme","config":{"base_url":"http://emu.test","email":"e@x"},"secrets":{"api_key":"k"}}`, 201, &ok1)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, ok1.ID), 201, &c4)
	h.as(tok, "POST", insts+"/"+c4.ID+"/install", "")
	if controlConns.Load() == 0 {
		t.Fatal("the allow-listed name was never dialled")
	}
	if n := targetConns.Load(); n != 0 {
		t.Fatalf("the non-allow-listed listener accepted %d connections", n)
	}
}

// A vendor's redirect to another host is not followed: the other host gets
// no request, so it never sees the credentials.
func TestIsolationRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer other.Close()
	var redirected atomic.Int32
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	// Both hosts allow-listed: only the redirect policy stands between them.
	h := startHub(t, time.Second, func(c *app.Config) {
		c.Resolver = loopbackResolver(nil)
		c.AllowVendorHosts = append(c.AllowVendorHosts, hostsOf(redir.URL, other.URL)...)
	})
	e, tok := h.newMerchant("E")
	conns, insts := "/api/v1/merchants/"+e+"/connections", "/api/v1/merchants/"+e+"/installations"
	var wl, gg, kl, c1, c2 domain.Connection
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"e-secret"}}`, h.wURL), 201, &wl)
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":"e@x"},"secrets":{"api_key":"k"}}`, redir.URL), 201, &gg)
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_e"}}`, redir.URL), 201, &kl)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kl.ID), 201, &c2)
	for _, inst := range []string{c1.ID, c2.ID} {
		h.as(tok, "POST", insts+"/"+inst+"/install", "")
		activate(t, h.app, e, inst) // the install was redirected; the jobs must be too
		h.hookAs(inst, "e-secret", orderBody(t, 7, 1, "r@example.com", "R", 100, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)))
	}
	// Both installs and the jobs call the redirecting host; an unhandled
	// 3xx is terminal, so each caller tries once and the jobs dead-letter.
	deadline := time.Now().Add(time.Minute)
	for redirected.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the redirecting host was called %d times", redirected.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := stolen.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

// The poisoning scenario: merchant E names merchant V's Gorgias and
// Klaviyo accounts on connections pointed at its own server, which answers
// 429 Retry-After: 3600 (and sets its own rate_window). V's budgets are
// other budgets that never see a 429, V's deliveries all go through, and
// E's own pause lasts at most the cap.
func TestIsolationRateBudgetPoisoning(t *testing.T) {
	t.Parallel()
	const capd = 2 * time.Second
	// E's server answers every call 429 Retry-After: 3600 and counts the
	// calls it sees again (a retry after its own 429).
	var evilHits, evilRepeats atomic.Int32
	var evilMu sync.Mutex
	seen := map[string]int{}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		body, _ := io.ReadAll(r.Body)
		evilMu.Lock()
		key := r.Method + " " + r.URL.String() + " " + string(body)
		if seen[key]++; seen[key] == 2 {
			evilRepeats.Add(1)
		}
		evilMu.Unlock()
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer evil.Close()
	h := startHub(t, time.Second, func(c *app.Config) {
		c.Resolver = loopbackResolver(nil)
		c.AllowVendorHosts = append(c.AllowVendorHosts, hostsOf(evil.URL)...)
		c.MaxRetryAfter = capd
	})
	v := h.merchant
	h.api("POST", "/api/v1/merchants/"+v+"/installations/"+h.c1+"/install", "", 200, nil)
	h.api("POST", "/api/v1/merchants/"+v+"/installations/"+h.c2+"/install", "", 200, nil)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	// syncV sends n orders of new customers to both of V's installations
	// and waits until Gorgias and Klaviyo have them all.
	next := int64(1000)
	syncV := func(n int) time.Duration {
		t.Helper()
		start := time.Now()
		var emails []string
		for i := 0; i < n; i++ {
			next++
			email := fmt.Sprintf("v%d@example.com", next)
			emails = append(emails, email)
			body := orderBody(t, next, 1, email, "V Customer", 100, at)
			for _, inst := range []string{h.c1, h.c2} {
				if err := h.post(inst, body); err != nil {
					t.Fatal(err)
				}
			}
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			gc := h.gorgiasCustomers()
			profiles := map[string]bool{}
			for _, a := range h.klaviyo.State().Accounts {
				for _, p := range a.Profiles {
					profiles[p.Email] = true
				}
			}
			missing := 0
			for _, e := range emails {
				if _, ok := gc[e]; !ok {
					missing++
				}
				if !profiles[e] {
					missing++
				}
			}
			if missing == 0 {
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				t.Fatalf("V's deliveries stalled: %d of %d writes missing", missing, 2*n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	baseline := syncV(5)

	// Merchant E, with only its token, names V's accounts.
	e, tok := h.newMerchant("E")
	conns, insts := "/api/v1/merchants/"+e+"/connections", "/api/v1/merchants/"+e+"/installations"
	var wl, gg, kl, c1, c2 domain.Connection
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"whiplash","account":"1","config":{"base_url":%q,"client_id":"switchyard","grant":"client_credentials"},"secrets":{"client_secret":"e-secret"}}`, h.wURL), 201, &wl)
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":"20s"},"secrets":{"api_key":"guess"}}`, evil.URL, gorgiasemu.DefaultUserEmail), 201, &gg)
	h.mustAs(tok, "POST", conns, fmt.Sprintf(`{"vendor":"klaviyo","account":"demo","config":{"base_url":%q},"secrets":{"private_key":"pk_guess"}}`, evil.URL), 201, &kl)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, wl.ID, gg.ID), 201, &c1)
	h.mustAs(tok, "POST", insts, fmt.Sprintf(`{"connector":"whiplash-klaviyo","connections":{"whiplash":%q,"klaviyo":%q}}`, wl.ID, kl.ID), 201, &c2)
	for _, inst := range []string{c1.ID, c2.ID} {
		code, raw := h.as(tok, "POST", insts+"/"+inst+"/install", "")
		if code == 200 || !strings.Contains(raw, "rate_limited (HTTP 429)") {
			t.Errorf("E's install = %d %s, want our classification of the 429", code, raw)
		}
		activate(t, h.app, e, inst) // its jobs must meet the 429 too
	}
	for i := int64(1); i <= 5; i++ {
		for _, inst := range []string{c1.ID, c2.ID} {
			h.hookAs(inst, "e-secret", orderBody(t, 500+i, 1, fmt.Sprintf("e%d@example.com", i), "E", 100, at))
		}
	}
	// E's calls hit the 429 and come back after the cap, not after an hour:
	// the same call reaches E's server again.
	deadline := time.Now().Add(60 * time.Second)
	for evilRepeats.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no call of E's was retried after the %v cap (%d calls, %d repeated)", capd, evilHits.Load(), evilRepeats.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// V's deliveries go through while E is throttled.
	during := syncV(5)
	t.Logf("V's 5 orders: %v without E, %v with E's server answering 429 Retry-After: 3600", baseline, during)

	// Count-based: V's budgets are not E's, and none of V's was ever paused.
	var vconns struct{ Connections []domain.Connection }
	h.api("GET", "/api/v1/merchants/"+v+"/connections", "", 200, &vconns)
	var budgets struct{ Budgets []outbound.BudgetStatus }
	h.api("GET", "/api/v1/rate-limits", "", 200, &budgets)
	owner := func(key string) string {
		for _, c := range vconns.Connections {
			if strings.Contains(key, ":conn="+c.ID) {
				return "V"
			}
		}
		if strings.Contains(key, ":conn="+gg.ID) || strings.Contains(key, ":conn="+kl.ID) || strings.Contains(key, ":conn="+wl.ID) {
			return "E"
		}
		return "?"
	}
	now := time.Now()
	var vKeys, ePaused int
	for _, b := range budgets.Budgets {
		switch owner(b.Key) {
		case "V":
			vKeys++
			if !b.PausedUntil.IsZero() {
				t.Errorf("V's budget %s is paused until %v", b.Key, b.PausedUntil)
			}
			if strings.HasPrefix(b.Key, "gorgias:") && math.Abs(b.Rate-0.95*40/1) > 1e-9 {
				t.Errorf("V's gorgias budget rate changed to %v", b.Rate)
			}
		case "E":
			if !b.PausedUntil.IsZero() {
				ePaused++
				if b.PausedUntil.Sub(now) > capd {
					t.Errorf("E's budget %s paused until %v, beyond the %v cap", b.Key, b.PausedUntil, capd)
				}
			}
		default:
			t.Errorf("budget %s belongs to no connection", b.Key)
		}
	}
	if vKeys == 0 {
		t.Fatal("no budget of V's found")
	}
	t.Logf("%d budgets of V, %d of E's paused", vKeys, ePaused)
	var vd struct{ Deliveries []domain.Delivery }
	h.api("GET", "/api/v1/merchants/"+v+"/deliveries?limit=1000", "", 200, &vd)
	for _, d := range vd.Deliveries {
		if d.Class == domain.ClassRateLimited {
			t.Errorf("V's delivery %s %s was rate limited", d.Method, d.Endpoint)
		}
	}
	var ed struct{ Deliveries []domain.Delivery }
	h.mustAs(tok, "GET", "/api/v1/merchants/"+e+"/deliveries", "", 200, &ed)
	limited := 0
	for _, d := range ed.Deliveries {
		if d.Class == domain.ClassRateLimited {
			limited++
			if d.Error != "rate_limited (HTTP 429)" {
				t.Errorf("E sees delivery error %q", d.Error)
			}
		}
	}
	if limited == 0 {
		t.Fatal("E's server never answered 429 (the scenario did not run)")
	}
}
