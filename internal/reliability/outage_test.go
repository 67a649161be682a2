package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchyard/internal/domain"
	whiplashemu "switchyard/internal/emulator/whiplash"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/whiplash"
)

// setFaults posts faults (emukit.Faults JSON) to an emulator's control route.
func setFaults(t *testing.T, emulatorURL, faults string) {
	t.Helper()
	resp, err := http.Post(emulatorURL+"/_emulator/faults", "application/json", strings.NewReader(faults))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("faults %s on %s: %d", faults, emulatorURL, resp.StatusCode)
	}
}

// Fault phases of an outage: every API call answered 503, then every call
// held past serve's 30 s vendor timeout (outbound.DefaultTimeout).
const (
	fault503     = `{"outage":true}`
	faultTimeout = `{"latency_ms":35000}`
	faultNone    = `{}`
)

// failedDeliveries counts the delivery attempts the hub recorded as failed.
func (r *rig) failedDeliveries() int {
	r.t.Helper()
	var out struct{ Deliveries []domain.Delivery }
	r.api("GET", "/api/v1/merchants/"+r.merchant+"/deliveries?limit=1000", "", 200, &out)
	n := 0
	for _, d := range out.Deliveries {
		if d.Class != domain.ClassOK {
			n++
		}
	}
	return n
}

// TestOutageThenRecovery: Gorgias and Klaviyo are down while Whiplash
// sends a day of orders: first every call is answered 503, then every call
// times out (held past serve's 30 s vendor timeout). After they recover,
// everything is delivered with the default retry horizon (24 h): no dead
// letter, Gorgias at the newest order per customer, Klaviyo one event per
// bucket, never a lower one after a higher one. Short form: 5 s of each
// phase; full form: 5 minutes of each (the binary's clock is real time).
// Logged: the delivery lag after the vendors recover (the time until the
// hub is idle).
func TestOutageThenRecovery(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	phase := pick(5*time.Second, 5*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*phase+pick(3*time.Minute, 20*time.Minute))
	defer cancel()
	down := time.Now()
	for _, u := range []string{r.gURL, r.kURL} {
		setFaults(t, u, fault503)
	}
	rep := r.simulate(ctx, whiplashemu.SimOptions{Orders: pick(60, 300), DuplicateRate: 0.05, ReorderRate: 0.1, RepeatRate: 0.3, Concurrency: 8, Seed: 21})
	time.Sleep(time.Until(down.Add(phase)))
	// On a loaded machine the first calls may come late: the 503 phase
	// lasts until the hub has met it at least once (or the test fails).
	for deadline := time.Now().Add(2 * time.Minute); r.failedDeliveries() == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	mid := time.Now()
	for _, u := range []string{r.gURL, r.kURL} {
		setFaults(t, u, faultTimeout)
	}
	time.Sleep(time.Until(mid.Add(phase)))
	failed := r.failedDeliveries()
	for _, u := range []string{r.gURL, r.kURL} {
		setFaults(t, u, faultNone)
	}
	up := time.Now()
	if failed == 0 {
		t.Fatal("no delivery failed during the outage: it proves nothing")
	}
	// Liveness: the backoff cap (10 min) plus a timeout, and some slack.
	idleAt := r.idle(pick(4*time.Minute, 15*time.Minute))
	f := r.verify(rep)
	t.Logf("outage %v (503) + %v (timeouts); %d failed attempts recorded (of the last 1,000); lag after recovery %v; %s",
		phase, phase, failed, idleAt.Sub(up).Round(time.Millisecond), f)
	f.check(t)
}

// TestOutagePastHorizonThenReplay: with --retry-horizon 5s, an outage
// (503) longer than the horizon turns every failing job into a dead letter;
// after the vendors recover, the operator replays one letter (202, and 409
// the second time), then the rest one by one (bulk: each pending letter),
// and everything is delivered: no pending letter left, every vendor at the
// newest state.
func TestOutagePastHorizonThenReplay(t *testing.T) {
	t.Parallel()
	const horizon = 5 * time.Second
	r := newRig(t, rigOptions{serveFlags: []string{"--retry-horizon", horizon.String()}})
	for _, u := range []string{r.gURL, r.kURL} {
		setFaults(t, u, fault503)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pick(3*time.Minute, 10*time.Minute))
	defer cancel()
	rep := r.simulate(ctx, whiplashemu.SimOptions{Orders: pick(30, 150), DuplicateRate: 0.05, ReorderRate: 0.1, RepeatRate: 0.3, Concurrency: 8, Seed: 31})
	// Every job ends: delivered (event handlers that call no vendor) or
	// dead-lettered past the horizon.
	r.idle(2 * time.Minute)
	dls := r.deadLetters(true)
	if len(dls) == 0 {
		t.Fatal("no dead letter after an outage longer than the horizon")
	}
	kinds := map[string]int{}
	for _, dl := range dls {
		kinds[dl.JobKind]++
		// The vendor's 503, or the circuit the 503s opened holding the job
		// without a call (outbound.ErrCircuitOpen): both are the outage.
		if dl.Class != domain.ClassTransient || !strings.Contains(dl.Error, "503") && !strings.Contains(dl.Error, outbound.ErrCircuitOpen.Error()) {
			t.Errorf("dead letter %d: class %s, error %q; want transient with the vendor's 503 or the open circuit", dl.ID, dl.Class, dl.Error)
		}
	}
	for _, u := range []string{r.gURL, r.kURL} {
		setFaults(t, u, faultNone)
	}
	up := time.Now()
	mp := "/api/v1/merchants/" + r.merchant
	first := dls[0]
	r.api("POST", fmt.Sprintf("%s/dead-letters/%d/replay", mp, first.ID), "", 202, nil)
	r.api("POST", fmt.Sprintf("%s/dead-letters/%d/replay", mp, first.ID), "", 409, nil)
	pending := r.deadLetters(true)
	for _, dl := range pending {
		if dl.ID == first.ID {
			t.Fatalf("dead letter %d still pending after its replay", dl.ID)
		}
		r.api("POST", fmt.Sprintf("%s/dead-letters/%d/replay", mp, dl.ID), "", 202, nil)
	}
	idleAt := r.idle(2 * time.Minute)
	f := r.verify(rep)
	t.Logf("%d dead letters %v after a %v horizon; 1 replayed alone, %d in bulk; delivered %v after the replays; %s",
		len(dls), kinds, horizon, len(pending), idleAt.Sub(up).Round(time.Millisecond), f)
	f.check(t)
}

// TestTerminalRejectionDeadLettersAtOnce: a request the vendor refuses
// (Klaviyo answers 400 to an event dated 1985) is not retried: it becomes a
// dead letter at its first attempt, and the operator reads Klaviyo's own
// error text in it. (The emulators inject 503, 429 and latency but no 4xx,
// so the 4xx comes from a request Klaviyo rejects.)
func TestTerminalRejectionDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	const vendorText = "The event time must be after 1990"
	body := []byte(`{"event_name":"order.created","order":{"id":8001,"status":100,"email":"old@example.com","first_name":"Olga","last_name":"Old","created_at":"1985-06-01T08:00:00-05:00","updated_at":"1985-06-01T08:00:00-05:00","order_items":[]}}`)
	sent := time.Now()
	if code, raw, err := postHook(r.hookURL(r.c2), body, whiplash.Sign(whiplashKey, body)); err != nil || code != http.StatusAccepted {
		t.Fatalf("webhook = %d %s %v", code, raw, err)
	}
	var dl domain.DeadLetter
	waitFor(t, "a dead letter", 30*time.Second, func() bool {
		dls := r.deadLetters(true)
		if len(dls) > 0 {
			dl = dls[0]
		}
		return len(dls) > 0
	})
	took := time.Since(sent)
	if dl.Attempts != 1 || dl.Class != domain.ClassTerminal {
		t.Errorf("dead letter after %d attempts, class %s; want 1 attempt, terminal", dl.Attempts, dl.Class)
	}
	if !strings.Contains(dl.Error, vendorText) {
		t.Errorf("the operator reads %q; want Klaviyo's %q", dl.Error, vendorText)
	}
	// What the merchant's own token shows (logged: the vendor's text is the
	// operator's; a merchant sees our classification).
	mp := "/api/v1/merchants/" + r.merchant
	var tok struct{ Token string }
	r.api("POST", mp+"/tokens", `{"name":"m"}`, 201, &tok)
	code, raw := r.as(tok.Token, "GET", mp+"/dead-letters", "")
	if code != http.StatusOK || !bytes.Contains(raw, []byte(fmt.Sprintf(`"id":%d`, dl.ID))) {
		t.Errorf("the merchant's token on its dead letters = %d %.300s", code, raw)
	}
	// Nothing retries it: once the hub is idle, Klaviyo's events endpoint
	// was called once.
	r.idle(time.Minute)
	var ds struct{ Deliveries []domain.Delivery }
	r.api("GET", mp+"/deliveries?limit=1000&vendor=klaviyo", "", 200, &ds)
	calls := 0
	for _, d := range ds.Deliveries {
		if strings.Contains(d.Endpoint, "/api/events") {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("Klaviyo's events endpoint was called %d times, want once", calls)
	}
	if n := len(r.deadLetters(true)); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	t.Logf("dead letter %d (%s, %s, %d attempt) %v after the webhook; the operator reads: %s", dl.ID, dl.JobKind, dl.Class, dl.Attempts, took.Round(time.Millisecond), dl.Error)
}
