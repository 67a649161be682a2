package adminui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchyard/internal/domain"
	"switchyard/internal/testutil/browser"
)

// The browser tests drive the UI in headless Chromium (they fail, not skip,
// under SWITCHYARD_REQUIRE_ALL=1 without it). With SWITCHYARD_SCREENSHOTS=DIR
// they also save the PNGs of docs/screenshots there:
//
//	SWITCHYARD_SCREENSHOTS=$PWD/docs/screenshots go test -count=1 -run TestBrowser ./internal/adminui/

// shot saves a full-page PNG when screenshots are asked for.
func shot(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	browser.Shot(t, bctx, name)
}

func do(t *testing.T, bctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(bctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(bctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](t *testing.T, bctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(bctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// loginAs logs the browser in through the login form.
func loginAs(t *testing.T, bctx context.Context, e *env, token, landing string) {
	t.Helper()
	do(t, bctx,
		chromedp.Navigate(e.url+landing),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Click("#login"),
		chromedp.WaitVisible(".logout"),
	)
}

// TestBrowserLoginTimelineCSRFAndTenancy: log in (sent back to the page
// asked for), the overview's numbers, a customer's timeline found by email
// with the widget data from Gorgias, a settings form posted without its
// CSRF token refused, and a merchant token kept out of another merchant's
// pages.
func TestBrowserLoginTimelineCSRFAndTenancy(t *testing.T) {
	e := startEnv(t)
	var emails []string
	for i := 1; i <= 6; i++ {
		o := e.order(i)
		e.hook(e.c1, o)
		e.hook(e.c2, o)
		emails = append(emails, domain.NormalizeEmail(o.Email))
	}
	email := emails[0]
	e.waitFor("the first customer's Gorgias data", 30*time.Second, func() bool {
		st := e.gorgias.Snapshot().Accounts["acme"]
		for _, c := range st.Customers {
			if c.Email != nil && domain.NormalizeEmail(*c.Email) == email && len(c.Data) > 2 {
				return true
			}
		}
		return false
	})
	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 900))

	// Asked for a page while logged out: the login form, then that page.
	loginAs(t, bctx, e, adminToken, "/ui/m/acme")
	if loc := eval[string](t, bctx, `location.pathname`); loc != "/ui/m/acme" {
		t.Fatalf("after login at %s, want /ui/m/acme", loc)
	}
	if got := text(t, bctx, "#installations"); !strings.Contains(got, "whiplash-gorgias") || !strings.Contains(got, "active") {
		t.Fatalf("installations table: %q", got)
	}
	do(t, bctx, chromedp.Navigate(e.url+"/ui/"), chromedp.WaitVisible("#total-events"))
	if n, _ := strconv.Atoi(text(t, bctx, "#total-events")); n != 12 {
		t.Errorf("overview shows %d events, want 12", n)
	}
	if n, _ := strconv.Atoi(text(t, bctx, "#total-deliveries")); n == 0 {
		t.Errorf("overview shows no delivery")
	}
	if got := eval[int](t, bctx, `document.querySelectorAll('svg.chart rect.bar-events').length`); got == 0 {
		t.Errorf("no event bar in the chart")
	}
	if got := text(t, bctx, "#budgets"); !strings.Contains(got, "gorgias") {
		t.Errorf("rate-limit budgets: %q", got)
	}
	shot(t, bctx, "overview")

	// Find a customer by email.
	do(t, bctx,
		chromedp.Navigate(e.url+"/ui/m/acme"),
		chromedp.WaitVisible("#find-email"),
		chromedp.SendKeys("#find-email", strings.ToUpper(email)),
		chromedp.Click("#find"),
		chromedp.WaitVisible("#timeline"),
	)
	events := eval[int](t, bctx, `document.querySelectorAll('#timeline li.event').length`)
	if events != 2 { // the order went to C1 and C2
		t.Errorf("timeline shows %d events for %s, want 2", events, email)
	}
	if got := text(t, bctx, "#timeline"); !strings.Contains(got, "order.status_changed") || !strings.Contains(got, "processed") {
		t.Errorf("timeline: %q", got)
	}
	if got := text(t, bctx, "#syncs"); !strings.Contains(got, "gorgias_customer") || !strings.Contains(got, "up to date") {
		t.Errorf("syncs of the customer: %q", got)
	}
	side := text(t, bctx, ".sidebar")
	if !strings.Contains(side, "whiplash") || !strings.Contains(side, "open customer") {
		t.Errorf("widget data: %q", side)
	}
	shot(t, bctx, "timeline")
	do(t, bctx, chromedp.Navigate(e.url+"/ui/m/acme/timeline?email=nobody@example.com"), chromedp.WaitVisible("#tl-empty"))

	// A form posted without its CSRF token is refused and changes nothing.
	do(t, bctx,
		chromedp.Navigate(e.url+"/ui/m/acme/installations/"+e.c1),
		chromedp.WaitVisible("#settings"),
		chromedp.SendKeys(`#settings input[aria-label="new key"]`, "display_name"),
		chromedp.SendKeys(`#settings input[aria-label="new value"]`, "forged"),
	)
	if n := eval[int](t, bctx, `(() => { const f = document.querySelectorAll('#settings input[name=csrf]'); f.forEach(x => x.remove()); return f.length })()`); n != 1 {
		t.Fatalf("removed %d csrf fields", n)
	}
	do(t, bctx, chromedp.Click("#save-settings"), chromedp.WaitVisible("#error"))
	if got := text(t, bctx, "#error"); !strings.Contains(got, "CSRF") {
		t.Errorf("form without csrf: %q", got)
	}
	if in, err := e.app.Store().GetInstallation(context.Background(), "acme", e.c1); err != nil || in.Settings["display_name"] != "" {
		t.Fatalf("the refused form changed settings: %v %v", in.Settings, err)
	}
	// The same form with its token saves.
	do(t, bctx,
		chromedp.Navigate(e.url+"/ui/m/acme/installations/"+e.c1),
		chromedp.WaitVisible("#settings"),
		chromedp.SendKeys(`#settings input[aria-label="new key"]`, "display_name"),
		chromedp.SendKeys(`#settings input[aria-label="new value"]`, "Acme Whiplash"),
		chromedp.Click("#save-settings"),
		chromedp.WaitVisible("#flash"),
	)
	if got := text(t, bctx, "#flash"); got != "Settings saved." {
		t.Errorf("flash after saving: %q", got)
	}

	// Log out; a merchant token sees its own pages only.
	do(t, bctx, chromedp.Click(".logout button"), chromedp.WaitVisible("#token"))
	loginAs(t, bctx, e, e.othToken, "/ui/")
	if got := text(t, bctx, ".who"); got != "merchant other" {
		t.Errorf("logged in as %q", got)
	}
	if n := eval[int](t, bctx, `document.querySelectorAll('#budgets, #queue').length`); n != 0 {
		t.Errorf("a merchant sees operator-only tables")
	}
	for _, p := range []string{"/ui/m/acme", "/ui/m/acme/installations/" + e.c1, "/ui/m/acme/timeline?email=" + email, "/ui/m/acme/dead-letters", "/ui/m/acme/installations/" + e.c2 + "/backfill", "/ui/m/other/installations/" + e.c1} {
		do(t, bctx, chromedp.Navigate(e.url+p), chromedp.WaitVisible("main"))
		body := text(t, bctx, "body")
		if !strings.Contains(body, "Not found") || strings.Contains(body, "Acme") || strings.Contains(body, email) {
			t.Errorf("merchant other at %s sees: %q", p, body)
		}
	}
	do(t, bctx, chromedp.Navigate(e.url+"/ui/m/other"), chromedp.WaitVisible("#installations"))
	if got := text(t, bctx, "#installations"); !strings.Contains(got, e.otherC1) || strings.Contains(got, e.c1) {
		t.Errorf("merchant other's installations: %q", got)
	}
}

// TestBrowserDeadLetterReplay: two syncs dead-lettered during a Gorgias
// outage, one replayed with its own button and the other with the bulk
// form; the page refreshes itself until both show delivered.
func TestBrowserDeadLetterReplay(t *testing.T) {
	e := startEnv(t)
	e.faults(e.gURL, `{"outage":true}`)
	o, o2 := e.order(7), e.order(9)
	if domain.NormalizeEmail(o.Email) == domain.NormalizeEmail(o2.Email) {
		t.Fatal("orders 7 and 9 have one customer: pick others")
	}
	e.hook(e.c1, o)
	e.hook(e.c1, o2)
	e.waitFor("two dead letters", 60*time.Second, func() bool { return len(e.deadLetters("acme")) >= 2 })
	e.faults(e.gURL, `{}`)
	e.hook(e.c1, e.order(8)) // another customer's sync probes Gorgias and closes the circuit
	dls := e.deadLetters("acme")
	dl, other := dls[1], dls[0] // oldest first
	if dl.ReplayedAt != nil || dl.JobKind != "sync" || len(dls) != 2 {
		t.Fatalf("dead letters %+v", dls)
	}
	e.waitFor("the Gorgias budget's circuit to close", 30*time.Second, func() bool {
		for _, b := range e.app.Limiter().Status() {
			if !b.OpenSince.IsZero() {
				return false
			}
		}
		return true
	})

	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 900))
	loginAs(t, bctx, e, adminToken, "/ui/m/acme/dead-letters")
	row := fmt.Sprintf("#dl-%d", dl.ID)
	do(t, bctx, chromedp.WaitVisible(row))
	if got := text(t, bctx, row+" .outcome"); got != "pending" {
		t.Fatalf("outcome before the replay: %q", got)
	}
	shot(t, bctx, "dead-letters")
	do(t, bctx, chromedp.Click(row+" .replay-one"), chromedp.WaitVisible("#flash"))
	if got := text(t, bctx, "#flash"); got != "Replaying 1 dead letter(s)." {
		t.Errorf("flash: %q", got)
	}
	// The page refreshes itself while a replay runs (reloads: poll from
	// here, tolerating a page between loads).
	var outcomes []string
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector('%s .outcome span') || {textContent: ''}).textContent`, row)))
		if err == nil && got != "" && (len(outcomes) == 0 || outcomes[len(outcomes)-1] != got) {
			outcomes = append(outcomes, got)
		}
		if got == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never shown delivered; outcomes seen %q", outcomes)
		}
	}
	t.Logf("outcomes shown: %q", outcomes)
	var key domain.SyncKey
	if err := json.Unmarshal(dl.JobArgs, &key); err != nil || key.Kind != "gorgias_customer" {
		t.Fatalf("dead letter args %s: %v", dl.JobArgs, err)
	}
	st, err := e.app.Store().GetSync(context.Background(), key)
	if err != nil || st.SyncedAt == nil || st.SyncedSeq != st.DirtySeq {
		t.Fatalf("the sync is not done: %+v %v", st, err)
	}
	if got := text(t, bctx, fmt.Sprintf("#dl-%d .outcome", other.ID)); got != "pending" {
		t.Fatalf("the other letter: %q", got)
	}
	// Bulk: select all (only letters not yet replayed have a box) and replay.
	do(t, bctx, chromedp.Click("#all"), chromedp.Click("#replay-selected"), chromedp.WaitVisible("#flash"))
	if got := text(t, bctx, "#flash"); got != "Replaying 1 dead letter(s)." {
		t.Errorf("flash after the bulk replay: %q", got)
	}
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#dead-letters .outcome span')).map(x => x.textContent).join(',')`))
		if err == nil && got == "delivered,delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes after the bulk replay: %q", got)
		}
	}
	if n := eval[int](t, bctx, `document.querySelectorAll('[data-refresh]').length`); n != 0 {
		t.Errorf("the page still refreshes after the outcome")
	}
	shot(t, bctx, "dead-letters-replayed")
}

// TestBrowserBackfillBarMoves: the launch date set in the settings form,
// the backfill started from its page, and the bar moving while it runs
// (the page polls), until it shows finished.
func TestBrowserBackfillBarMoves(t *testing.T) {
	e := startEnv(t)
	if _, err := e.whiplash.Seed(whiplashSeed(900)); err != nil {
		t.Fatal(err)
	}
	e.faults(e.wURL, `{"latency_ms":150}`) // so the run lasts a few seconds
	bctx := browser.Context(t)
	do(t, bctx, chromedp.EmulateViewport(1280, 900))
	loginAs(t, bctx, e, adminToken, "/ui/m/acme/installations/"+e.c2)
	do(t, bctx,
		chromedp.WaitVisible("#settings"),
		chromedp.SendKeys(`#settings input[aria-label="new key"]`, "launch_date"),
		chromedp.SendKeys(`#settings input[aria-label="new value"]`, time.Now().UTC().Format(time.DateOnly)),
		chromedp.Click("#save-settings"),
		chromedp.WaitVisible("#flash"),
	)
	if got := text(t, bctx, "#flash"); got != "Settings saved." {
		t.Fatalf("flash: %q", got)
	}
	do(t, bctx, chromedp.Navigate(e.url+"/ui/m/acme/installations/"+e.c2+"/backfill"), chromedp.WaitVisible("#start-backfill"))
	if got := text(t, bctx, "#backfill"); !strings.Contains(got, "No backfill has run yet") {
		t.Fatalf("before the start: %q", got)
	}
	do(t, bctx, chromedp.Click("#start-backfill"), chromedp.WaitVisible("#flash"))
	if got := text(t, bctx, "#flash"); !strings.Contains(got, "Backfill started") {
		t.Fatalf("flash after start: %q (%s)", got, text(t, bctx, "main"))
	}
	do(t, bctx, chromedp.WaitVisible("#bf-bar"))

	// Watch the bar: its value must rise (without reloading the page)
	// before the run finishes.
	var seen []float64
	deadline := time.Now().Add(90 * time.Second)
	shotTaken := false
	for {
		finished := eval[bool](t, bctx, `!!document.getElementById('bf-finished')`)
		if finished {
			break
		}
		if v, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.getElementById('bf-bar') ? document.getElementById('bf-bar').value : -1`)); err == nil && v >= 0 {
			if len(seen) == 0 || v != seen[len(seen)-1] {
				seen = append(seen, v)
			}
			if !shotTaken && v > 0.2 {
				shot(t, bctx, "backfill")
				shotTaken = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill not finished; bar values seen %v; %s", seen, text(t, bctx, "#backfill"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rising := 0
	for i := 1; i < len(seen); i++ {
		if seen[i] > seen[i-1] && seen[i] < 1 {
			rising++
		}
		if seen[i] < seen[i-1] {
			t.Errorf("the bar went back: %v", seen)
		}
	}
	if rising < 2 {
		t.Errorf("the bar did not move while the backfill ran: values seen %v", seen)
	}
	summary := text(t, bctx, "#bf-summary")
	if !strings.Contains(summary, "fetched 900 / 900") {
		t.Errorf("summary when finished: %q", summary)
	}
	if !shotTaken {
		shot(t, bctx, "backfill")
	}
	t.Logf("bar values seen: %v; %s", seen, summary)
}
