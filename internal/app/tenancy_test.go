package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"switchyard/internal/domain"
	"switchyard/internal/provider/whiplash"
)

// TestTenancyEveryRoute: merchant A's token, sent to every route of
// api/openapi.yaml with merchant B's ids and valid bodies, never reads or
// changes B: B's routes answer 404 and the operator's 403, and B is left as
// it was. A's token still works on A.
func TestTenancyEveryRoute(t *testing.T) {
	t.Parallel()
	h := startHub(t, time.Second)
	// Merchant B: the hub's merchant, with an event and a token of its own.
	b := h.merchant
	h.api("POST", "/api/v1/merchants/"+b+"/installations/"+h.c1+"/install", "", 200, nil)
	if err := h.post(h.c1, orderBody(t, 9, 1, "b@example.com", "Bea", 100, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	h.idle(time.Minute)
	var bin domain.Installation
	h.api("GET", "/api/v1/merchants/"+b+"/installations/"+h.c1, "", 200, &bin)
	var evs struct{ Events []domain.InboundEvent }
	h.api("GET", "/api/v1/merchants/"+b+"/events", "", 200, &evs)
	var btok struct{ ID, Token string }
	h.api("POST", "/api/v1/merchants/"+b+"/tokens", `{"name":"b"}`, 201, &btok)
	// Merchant A and its token.
	var a domain.Merchant
	h.api("POST", "/api/v1/merchants", `{"name":"A"}`, 201, &a)
	var atok struct{ Token string }
	h.api("POST", "/api/v1/merchants/"+a.ID+"/tokens", `{"name":"a"}`, 201, &atok)

	params := map[string]string{"merchant": b, "installation": h.c1, "connection": bin.Connections["whiplash"],
		"event": fmt.Sprint(evs.Events[0].ID), "id": "1", "token": btok.ID}
	bodies := map[string]string{
		"createMerchant":     `{"name":"sneaky"}`,
		"createConnection":   `{"vendor":"gorgias","account":"x","secrets":{"api_key":"k"}}`,
		"updateConnection":   `{"secrets":{"webhook_secret":"stolen"}}`,
		"createInstallation": fmt.Sprintf(`{"connector":"whiplash-gorgias","connections":{"whiplash":%q,"gorgias":%q}}`, bin.Connections["whiplash"], bin.Connections["gorgias"]),
		"updateInstallation": `{"settings":{"display_name":"pwned"}}`,
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
			req, _ := http.NewRequest(method, h.url+url, strings.NewReader(bodies[op.OperationID]))
			req.Header.Set("Authorization", "Bearer "+atok.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := http.StatusNotFound
			if !strings.Contains(path, "{merchant}") {
				// Operator routes outside a merchant: refused to every
				// merchant token alike. Under a merchant, even an
				// operator-only route reads 404 to another merchant.
				want = http.StatusForbidden
			}
			if resp.StatusCode != want {
				t.Errorf("A's token on %s %s = %d %s, want %d", method, url, resp.StatusCode, raw, want)
			}
			tried++
		}
	}
	if tried < 20 {
		t.Fatalf("only %d routes tried", tried)
	}
	// B is as it was.
	var after domain.Installation
	h.api("GET", "/api/v1/merchants/"+b+"/installations/"+h.c1, "", 200, &after)
	if after.Settings["display_name"] != "" {
		t.Fatal("A changed B's installation")
	}
	var conns struct{ Connections []json.RawMessage }
	h.api("GET", "/api/v1/merchants/"+b+"/connections", "", 200, &conns)
	if len(conns.Connections) != 3 {
		t.Fatalf("B has %d connections", len(conns.Connections))
	}
	var toks struct{ Tokens []domain.APIToken }
	h.api("GET", "/api/v1/merchants/"+b+"/tokens", "", 200, &toks)
	if len(toks.Tokens) != 1 {
		t.Fatalf("B has %d tokens", len(toks.Tokens))
	}
	if code, _ := h.hook(t, h.c1, "stolen"); code != 401 {
		t.Fatalf("a webhook signed with A's injected secret was accepted: %d", code)
	}
	// A's token works on A, and B's token on B.
	for _, c := range []struct{ tok, path string }{{atok.Token, "/api/v1/merchants/" + a.ID + "/installations"}, {btok.Token, "/api/v1/merchants/" + b + "/events"}} {
		req, _ := http.NewRequest("GET", h.url+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+c.tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("own token on %s: %v %v", c.path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	t.Logf("%d routes tried with another merchant's token", tried)
}

// hook posts a webhook signed with secret to an installation.
func (h *hub) hook(t *testing.T, inst, secret string) (int, string) {
	t.Helper()
	body := orderBody(t, 10, 1, "x@example.com", "X", 100, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	req, _ := http.NewRequest("POST", h.url+"/hooks/whiplash/"+inst, strings.NewReader(string(body)))
	req.Header.Set("X-WHIPLASH-SIGNATURE", signHex(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func signHex(secret string, body []byte) string { return whiplash.Sign(secret, body) }
