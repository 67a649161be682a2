package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchyard/internal/domain"
	"switchyard/internal/testutil/browser"
)

// syncBuffer is the demo's output, read while the demo writes it.
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

// running is a demo serving in the background (Waves 0: until stopped).
type running struct {
	t    *testing.T
	d    *Demo
	out  *syncBuffer
	stop context.CancelFunc
	done chan error
}

func startDemo(t *testing.T, seed uint64) *running {
	t.Helper()
	r := &running{t: t, out: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	d, err := Start(ctx, Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "demo.db"), OrdersPerWave: 12, TicketsPerWave: 3,
		Pause: time.Second, GorgiasWindow: 500 * time.Millisecond, YotpoSyncDelay: 2 * time.Second, Seed: seed}, r.out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	r.d = d
	rctx, stop := context.WithCancel(ctx)
	r.stop = stop
	go func() { r.done <- d.Run(rctx) }()
	select {
	case <-d.ReadyC():
	case err := <-r.done:
		t.Fatalf("Run ended before ready: %v\n%s", err, r.out.String())
	case <-ctx.Done():
		t.Fatalf("not ready in time\n%s", r.out.String())
	}
	if len(d.Missing) != 0 {
		t.Fatalf("not ready: the ticket lacks %v\n%s", d.Missing, r.out.String())
	}
	t.Logf("time to ready: %s", d.Ready)
	return r
}

// shutdown stops the demo as Ctrl-C does and checks it ends cleanly.
func (r *running) shutdown() {
	r.t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Fatalf("Run after stop: %v", err)
		}
	case <-time.After(45 * time.Second):
		r.t.Fatal("the demo did not stop after its context ended")
	}
}

func (r *running) api(path string, out any) {
	r.t.Helper()
	if err := r.d.api(context.Background(), "GET", path, nil, out); err != nil {
		r.t.Fatal(err)
	}
}

// The whole demo: five connectors installed through their install flows
// for one merchant, the demo customer's ticket with the four widgets
// populated (checked on the Gorgias agent page), a wave of orders, tickets
// and an escalation, the admin UI's one-time link, and a clean stop.
func TestDemoFiveConnectors(t *testing.T) {
	t.Parallel()
	r := startDemo(t, 3)
	d := r.d

	var il struct{ Installations []domain.Installation }
	r.api("/api/v1/merchants/"+d.Merchant+"/installations", &il)
	active := map[string]bool{}
	for _, in := range il.Installations {
		if in.State == domain.InstallationActive {
			active[in.Connector] = true
		}
	}
	for _, c := range []string{C1Name, C2Name, C3Name, C4Name, C5Name} {
		if !active[c] {
			t.Errorf("%s is not an active installation of merchant %s: %+v", c, d.Merchant, il.Installations)
		}
	}
	if len(il.Installations) != 5 {
		t.Errorf("%d installations, want 5", len(il.Installations))
	}

	// What the installs created in Gorgias: the HTTP integrations of C3, C4
	// and C5, a widget for each connector with one, and the 11 Konnektive
	// macros.
	raw, _ := json.Marshal(d.Gorgias.Snapshot().Accounts["acme"])
	var g struct {
		Integrations []struct {
			ID   int64
			Name string
		}
		Widgets []struct {
			IntegrationID *int64 `json:"integration_id"`
			Type          string
		}
		Macros []struct{ Name string }
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	bound := map[string]bool{}
	for _, it := range g.Integrations {
		for _, w := range g.Widgets {
			if w.IntegrationID != nil && *w.IntegrationID == it.ID {
				bound[it.Name] = true
			}
		}
	}
	if !bound["Konnektive Integration"] || !bound["Together"] || len(g.Integrations) != 3 {
		t.Errorf("integrations %+v with widgets bound %v", g.Integrations, bound)
	}
	macros := 0
	for _, m := range g.Macros {
		if strings.HasPrefix(m.Name, "Konnektive ") {
			macros++
		}
	}
	if macros != 11 || len(g.Widgets) != 4 {
		t.Errorf("%d Konnektive macros and %d widgets, want 11 and 4", macros, len(g.Widgets))
	}
	var c3 domain.Installation
	r.api("/api/v1/merchants/"+d.Merchant+"/installations/"+d.Installations[C3Name], &c3)
	if c3.Settings["IntegrationId"] == "" || c3.Settings["pullTimeout"] != "3s" {
		t.Errorf("konnektive-gorgias settings %v", c3.Settings)
	}

	page, err := get(context.Background(), d.TicketURL)
	if err != nil {
		t.Fatal(err)
	}
	if m := MissingWidgets(page); len(m) != 0 {
		t.Fatalf("the ticket page lacks %v", m)
	}
	// The data is the demo customer's, from each system.
	for _, want := range []string{`data-value="` + DemoEmail + `"`, `data-field="whiplash.orders`, `data-field="orders[0].order_id"`, `data-field="yotpo.loyalty.`, `data-field="together.orders[0].items[0].title"`} {
		if !strings.Contains(page, want) {
			t.Errorf("ticket page lacks %s", want)
		}
	}

	// The one-time link logs into the admin UI, once.
	jar := newBrowser()
	resp, err := jar.Get(d.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/" || strings.Contains(string(body), `name="token"`) {
		t.Errorf("login link ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	if resp, err := newBrowser().Get(d.LoginURL); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("second use of the login link = %d", resp.StatusCode)
		}
	}

	// Two waves, the escalations (the demo customer's and the waves')
	// through Yotpo's webhook, the hub and Gorgias, and the agent's reply
	// to the demo customer's escalated review back in Yotpo as a comment.
	for deadline := time.Now().Add(90 * time.Second); d.WavesDone() < 2 || escalations(d) < 3 || !commented(d); {
		if time.Now().After(deadline) {
			t.Fatalf("waves done %d, escalation tickets %d, reply in Yotpo %v:\n%s", d.WavesDone(), escalations(d), commented(d), r.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.shutdown()

	out := r.out.String()
	for _, want := range []string{"switchyard demo is starting", C1Name, C2Name, C3Name, C4Name, C5Name, "ready in ", "/ui/login/link?code=", d.TicketURL,
		"wave 1: 12 orders", "3 tickets, 0 follow-up messages, 1 Yotpo escalations", "wave 2: 12 orders", "3 tickets, 1 follow-up messages, 1 Yotpo escalations"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if n := len(d.Klaviyo.State().Accounts[0].Profiles); n < 2 {
		t.Errorf("Klaviyo has %d profiles after a wave", n)
	}
	// The escalations became Gorgias tickets (the demo customer's review
	// and the wave's): external ids yotpo-review-….
	if n := escalations(d); n < 2 {
		t.Errorf("%d Yotpo escalation tickets, want 2", n)
	}
}

// commented reports whether the demo customer's escalated review has the
// store's comment in Yotpo.
func commented(d *Demo) bool {
	for _, r := range d.Yotpo.Reviews() {
		if r.ID == d.escalation && len(r.Comments) > 0 {
			return true
		}
	}
	return false
}

func escalations(d *Demo) int {
	n := 0
	for _, tk := range d.Gorgias.Snapshot().Accounts["acme"].Tickets {
		if tk.ExternalID != nil && strings.HasPrefix(*tk.ExternalID, "yotpo-review-") {
			n++
		}
	}
	return n
}

// shot saves a full-page PNG when SWITCHYARD_SCREENSHOTS names a directory:
//
//	SWITCHYARD_SCREENSHOTS=$PWD/docs/screenshots go test -count=1 -run TestBrowser ./internal/adminui/ ./internal/demo/
func shot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	browser.Shot(t, bctx, name)
}

// The agent's view in a real browser: the demo ticket's sidebar shows the
// four widgets with the demo customer's data; the admin UI, opened with the
// printed one-time link, shows the merchant's five installations.
func TestBrowserDemoTicket(t *testing.T) {
	t.Parallel()
	bctx := browser.Context(t)
	r := startDemo(t, 4)
	d := r.d
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(d.TicketURL)); err != nil {
		t.Fatal(err)
	}
	titles, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.sidebar .widget')).map(w => (w.querySelector('.widget-title, .card-title') || {}).textContent || '')`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Whiplash", "Konnektive CRM", "Yotpo", "Together"} {
		found := false
		for _, got := range titles {
			found = found || strings.TrimSpace(got) == want
		}
		if !found {
			t.Errorf("no %q widget in the sidebar: %q", want, titles)
		}
	}
	for _, sel := range []string{`[data-field="whiplash.customer.email"]`, `[data-field="customer.email"]`, `[data-field^="yotpo.loyalty."]`, `[data-field="together.orders[0].order_name"]`} {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector('.sidebar %s .field-value') || {}).textContent || ''`, strings.ReplaceAll(sel, `'`, `\'`))))
		if err != nil || strings.TrimSpace(v) == "" {
			t.Errorf("%s shows %q (%v)", sel, v, err)
		}
	}
	if os.Getenv("SWITCHYARD_SCREENSHOTS") != "" {
		// The Konnektive widget lists every order with its items,
		// fulfilments and payments (12,000 px here): for the picture each
		// widget scrolls within 620 px, as a sidebar panel would.
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelectorAll('.sidebar .widget').forEach(w => { w.style.maxHeight = '620px'; w.style.overflow = 'auto' }); true`)); err != nil {
			t.Fatal(err)
		}
	}
	shot(t, bctx, "demo-ticket")

	if err := chromedp.Do(bctx, chromedp.Navigate(d.LoginURL)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(d.URLs["hub"]+"/ui/m/"+d.Merchant)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{C1Name, C2Name, C3Name, C4Name, C5Name} {
		if !strings.Contains(text, c) {
			t.Errorf("the merchant page lacks %s:\n%.2000s", c, text)
		}
	}
	shot(t, bctx, "demo-merchant")
	r.shutdown()
}

// MissingWidgets names a widget that is absent or shows no data.
func TestMissingWidgets(t *testing.T) {
	t.Parallel()
	field := func(path, value string) string {
		return `<div class="widget-field field-text" data-field="` + path + `" data-type="text" data-value="` + value + `">`
	}
	widget := func(title string, fields ...string) string {
		return `<section class="widget" data-widget="1" data-widget-type="custom"><h2 class="widget-title">` + title + `</h2>` + strings.Join(fields, "") + `</section>`
	}
	whiplash := widget("Whiplash", field("whiplash.customer.email", "a@example.com"))
	konnektive := widget("Konnektive CRM", field("customer.email", "a@example.com"))
	yotpo := widget("Yotpo", field("yotpo.overview.vip_tier_name", "Gold"))
	together := widget("Together", field("together.orders[0].order_name", "#1001"))
	if m := MissingWidgets(`<aside class="sidebar">` + whiplash + konnektive + yotpo + together + `</aside>`); len(m) != 0 {
		t.Fatalf("all four: missing %v", m)
	}
	emptyYotpo := widget("Yotpo", field("yotpo.overview.vip_tier_name", ""))
	if m := MissingWidgets(whiplash + konnektive + emptyYotpo); !slices.Equal(m, []string{"Yotpo", "Together"}) {
		t.Fatalf("empty Yotpo, no Together: missing %v", m)
	}
	// A field of another widget's path does not count for this one.
	if m := MissingWidgets(widget("Together", field("customer.email", "a@example.com")) + whiplash + yotpo); !slices.Equal(m, []string{"Konnektive", "Together"}) {
		t.Fatalf("misplaced field: missing %v", m)
	}
}
