package reliability

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"switchyard/internal/provider/whiplash"
)

// TestBadInput: what an attacker or a broken sender can send to serve is
// refused and changes nothing. Webhooks: a wrong, missing or stale
// signature → 401, malformed JSON or no order id → 400, a body over 1 MiB
// → 413, an unknown installation or vendor → 404, and no event is stored.
// Admin API: a missing or wrong token → 401. Tenancy: merchant A's token,
// sent to every operation of api/openapi.yaml with merchant B's ids,
// answers 404 (B's routes) or 403 (operator routes), and B's merchant,
// connections, installations, events, tokens and dead letters read the
// same before and after.
func TestBadInput(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	mp := "/api/v1/merchants/" + r.merchant
	good := []byte(`{"event_name":"order.created","order":{"id":7001,"status":100,"email":"bea@example.com","first_name":"Bea","last_name":"B","updated_at":"2026-11-20T08:00:00-05:00","order_items":[]}}`)
	if code, raw, err := postHook(r.hookURL(r.c1), good, whiplash.Sign(whiplashKey, good)); err != nil || code != http.StatusAccepted {
		t.Fatalf("signed webhook = %d %s %v", code, raw, err)
	}
	r.idle(time.Minute)
	var btok struct{ ID, Token string }
	r.api("POST", mp+"/tokens", `{"name":"b"}`, 201, &btok)
	before := snapshotMerchant(r)

	// Webhooks.
	malformed := []byte(`{"event_name":`)
	noID := []byte(`{"event_name":"order.created","order":{}}`)
	huge := append(append([]byte(`{"event_name":"order.created","order":{"id":7002,"note":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}}`...)
	refused := 0
	for _, tc := range []struct {
		name string
		url  string
		body []byte
		sig  string
		want int
	}{
		{"wrong signature", r.hookURL(r.c1), good, whiplash.Sign("not-the-secret", good), 401},
		{"missing signature", r.hookURL(r.c1), good, "", 401},
		{"signature of another body", r.hookURL(r.c1), append(append([]byte{}, good...), ' '), whiplash.Sign(whiplashKey, good), 401},
		{"signature not hex", r.hookURL(r.c1), good, "zz", 401},
		{"malformed JSON", r.hookURL(r.c1), malformed, whiplash.Sign(whiplashKey, malformed), 400},
		{"no order id", r.hookURL(r.c1), noID, whiplash.Sign(whiplashKey, noID), 400},
		{"body over 1 MiB", r.hookURL(r.c1), huge, whiplash.Sign(whiplashKey, huge), 413},
		{"unknown installation", r.hookURL("ins_doesnotexist"), good, whiplash.Sign(whiplashKey, good), 404},
		{"unknown vendor", r.serve.url() + "/hooks/nope/" + r.c1, good, whiplash.Sign(whiplashKey, good), 404},
	} {
		code, raw, err := postHook(tc.url, tc.body, tc.sig)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if code != tc.want {
			t.Errorf("%s: %d %.200s, want %d", tc.name, code, raw, tc.want)
		}
		refused++
	}

	// Tokens.
	for _, tc := range []struct{ name, token, path string }{
		{"no token, operator route", "", "/api/v1/merchants"},
		{"no token, merchant route", "", mp + "/events"},
		{"wrong token", "not-a-token", mp + "/events"},
		{"revoked-looking merchant token", "sy_0000000000000000", mp + "/events"},
		{"operator token with a suffix", operatorToken + "x", "/api/v1/jobs"},
	} {
		if code, raw := r.as(tc.token, "GET", tc.path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %.200s, want 401", tc.name, code, raw)
		}
		refused++
	}

	// Tenancy: A's token on B's objects, every operation of the contract.
	var a struct{ ID string }
	r.api("POST", "/api/v1/merchants", `{"name":"A"}`, 201, &a)
	var atok struct{ Token string }
	r.api("POST", "/api/v1/merchants/"+a.ID+"/tokens", `{"name":"a"}`, 201, &atok)
	var in struct{ Connections map[string]string }
	r.api("GET", mp+"/installations/"+r.c1, "", 200, &in)
	var evs struct {
		Events []struct{ ID int64 }
	}
	r.api("GET", mp+"/events?limit=1", "", 200, &evs)
	if len(evs.Events) != 1 {
		t.Fatalf("B has %d events", len(evs.Events))
	}
	params := map[string]string{"merchant": r.merchant, "installation": r.c1, "connection": in.Connections["whiplash"],
		"event": fmt.Sprint(evs.Events[0].ID), "id": "1", "token": btok.ID}
	bodies := map[string]string{
		"createMerchant":     `{"name":"sneaky"}`,
		"createConnection":   `{"vendor":"gorgias","account":"x","secrets":{"api_key":"k"}}`,
		"updateConnection":   `{"secrets":{"client_secret":"stolen"}}`,
		"createInstallation": fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, in.Connections["whiplash"], in.Connections["gorgias"]),
		"updateInstallation": `{"settings":{"display_name":"pwned"}}`,
		"startBackfill":      `{"launch_date":"2026-11-01"}`,
		"createToken":        `{"name":"stolen"}`,
	}
	doc, err := openapi3.NewLoader().LoadFromFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			url := path
			for k, v := range params {
				url = strings.ReplaceAll(url, "{"+k+"}", v)
			}
			if strings.Contains(url, "{") {
				t.Errorf("%s %s: no value for a path parameter", method, path)
				continue
			}
			want := http.StatusNotFound
			if !strings.Contains(path, "{merchant}") {
				want = http.StatusForbidden
			}
			if code, raw := r.as(atok.Token, method, url, bodies[op.OperationID]); code != want {
				t.Errorf("A's token on %s %s = %d %.200s, want %d", method, url, code, raw, want)
			}
			tried++
		}
	}
	if tried < 20 {
		t.Fatalf("only %d operations in the contract", tried)
	}
	// A's token works on A: the refusals above are about B, not a dead token.
	if code, raw := r.as(atok.Token, "GET", "/api/v1/merchants/"+a.ID+"/installations", ""); code != 200 {
		t.Fatalf("A's token on A = %d %s", code, raw)
	}
	if code, _, err := postHook(r.hookURL(r.c1), good, whiplash.Sign("stolen", good)); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("a webhook signed with the secret A tried to set = %d %v", code, err)
	}
	after := snapshotMerchant(r)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("B's %s changed:\nbefore %s\nafter  %s", k, v, after[k])
		}
	}
	t.Logf("%d bad webhooks and tokens refused, nothing stored; %d contract operations tried with another merchant's token, B unchanged", refused, tried)
}

// snapshotMerchant reads what the merchant owns through the operator's
// eyes: status and body of one read per collection (a backfill B never
// started reads 404, and must still).
func snapshotMerchant(r *rig) map[string]string {
	r.t.Helper()
	mp := "/api/v1/merchants/" + r.merchant
	out := map[string]string{}
	for _, p := range []string{"", "/connections", "/installations", "/events?limit=1000", "/tokens", "/dead-letters?limit=1000", "/installations/" + r.c2 + "/backfill"} {
		code, raw := r.as(operatorToken, "GET", mp+p, "")
		out[p] = fmt.Sprintf("%d %s", code, raw)
	}
	return out
}
