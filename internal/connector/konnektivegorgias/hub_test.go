package konnektivegorgias_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchyard/internal/app"
	"switchyard/internal/connector/konnektivegorgias"
	gorgiasemu "switchyard/internal/emulator/gorgias"
	konnektiveemu "switchyard/internal/emulator/konnektive"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
	"switchyard/internal/testutil/apitest"
)

const adminToken = "test-admin-token"

// hub is switchyard (app.App, its real HTTP routes, SQLite) with the
// Gorgias and Konnektive emulators, one merchant and one konnektive-gorgias
// installation (not yet installed).
type hub struct {
	t        testing.TB
	ctx      context.Context
	url      string
	gorgias  *gorgiasemu.Emulator
	crmEmu   *konnektiveemu.Emulator
	gURL     string
	kURL     string
	merchant string
	inst     string
	g        *gorgias.Client    // the test's own view of the Gorgias account
	crm      *konnektive.Client // the test's own view of the CRM
}

func startHub(t testing.TB, settings map[string]string) *hub {
	t.Helper()
	h := &hub{t: t, ctx: context.Background()}
	h.gorgias = gorgiasemu.New(gorgiasemu.Config{Window: 10 * time.Millisecond})
	h.crmEmu = konnektiveemu.New(konnektiveemu.Config{Seed: 11, Customers: 80})
	gs, ks := httptest.NewServer(h.gorgias), httptest.NewServer(h.crmEmu)
	t.Cleanup(func() { gs.Close(); ks.Close(); h.gorgias.Close(); h.crmEmu.Close() })
	h.gURL, h.kURL = gs.URL, ks.URL
	cfg := app.Config{Addr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(t.TempDir(), "hub.db"), SecretKey: bytes.Repeat([]byte{7}, 32),
		AdminToken: adminToken, AllowVendorHosts: []string{strings.TrimPrefix(gs.URL, "http://"), strings.TrimPrefix(ks.URL, "http://")}}
	a, err := app.New(h.ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	h.url = a.URL()

	var m, gg, kk, in struct{ ID string }
	h.api("POST", "/api/v1/merchants", `{"name":"Acme"}`, 201, &m)
	h.merchant = m.ID
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"gorgias","account":"acme","config":{"base_url":%q,"email":%q,"rate_window":"10ms"},"secrets":{"api_key":%q}}`,
		h.gURL, gorgiasemu.DefaultUserEmail, gorgiasemu.DefaultAPIKey), 201, &gg)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/connections", fmt.Sprintf(`{"vendor":"konnektive","account":%q,"config":{"base_url":%q},"secrets":{"password":%q}}`,
		konnektiveemu.DefaultLoginID, h.kURL, konnektiveemu.DefaultPassword), 201, &kk)
	if settings == nil {
		settings = map[string]string{}
	}
	settings["hubUrl"] = h.url
	sb, _ := json.Marshal(settings)
	h.api("POST", "/api/v1/merchants/"+m.ID+"/installations", fmt.Sprintf(`{"connector":"konnektive-gorgias","connections":{"konnektive":%q,"gorgias":%q},"settings":%s}`, kk.ID, gg.ID, sb), 201, &in)
	h.inst = in.ID

	h.g, err = gorgias.New(gorgias.Config{Account: "acme", BaseURL: h.gURL, Email: gorgiasemu.DefaultUserEmail, APIKey: gorgiasemu.DefaultAPIKey, Window: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.crm, err = konnektive.New(konnektive.Config{BaseURL: h.kURL, LoginID: konnektiveemu.DefaultLoginID, Password: konnektiveemu.DefaultPassword})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hub) do(method, path, body string, header http.Header) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (h *hub) api(method, path, body string, want int, out any) {
	h.t.Helper()
	status, raw := h.do(method, path, body, http.Header{"Authorization": {"Bearer " + adminToken}})
	apitest.Expect(h.t, method, path, status, raw, want, out)
}

type installation struct {
	ID        string            `json:"id"`
	State     string            `json:"state"`
	Settings  map[string]string `json:"settings"`
	RemoteIDs map[string]string `json:"remote_ids"`
}

func (h *hub) install() installation {
	h.t.Helper()
	var in installation
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/install", "", 200, &in)
	return in
}

// remote counts what Gorgias holds: Konnektive integrations, the widgets
// bound to them, and macros by name.
type remote struct {
	integrations []gorgias.Integration
	widgets      []gorgias.Widget
	macros       map[string]int
	macroIDs     map[string]gorgias.ID
}

func (h *hub) remote() remote {
	h.t.Helper()
	r := remote{macros: map[string]int{}, macroIDs: map[string]gorgias.ID{}}
	ids := map[gorgias.ID]bool{}
	for it, err := range h.g.ListIntegrations(h.ctx, "", gorgias.ListOptions{}) {
		if err != nil {
			h.t.Fatal(err)
		}
		if it.Name == konnektivegorgias.IntegrationName {
			r.integrations = append(r.integrations, it)
			ids[it.ID] = true
		}
	}
	for w, err := range h.g.ListWidgets(h.ctx, 0, gorgias.ListOptions{}) {
		if err != nil {
			h.t.Fatal(err)
		}
		if w.IntegrationID != nil && ids[*w.IntegrationID] {
			r.widgets = append(r.widgets, w)
		}
	}
	for m, err := range h.g.ListMacros(h.ctx, "", gorgias.ListOptions{}) {
		if err != nil {
			h.t.Fatal(err)
		}
		r.macros[m.Name]++
		r.macroIDs[m.Name] = m.ID
	}
	return r
}

// wantInstalled checks exactly one integration, one widget bound to it and
// one macro of each of the 11 names.
func (h *hub) wantInstalled(in installation) remote {
	h.t.Helper()
	r := h.remote()
	if len(r.integrations) != 1 || len(r.widgets) != 1 {
		h.t.Fatalf("%d integrations and %d widgets, want 1 and 1", len(r.integrations), len(r.widgets))
	}
	if got := in.Settings["IntegrationId"]; got != r.integrations[0].ID.String() {
		h.t.Fatalf("IntegrationId = %q, want %s", got, r.integrations[0].ID)
	}
	names := []string{"Konnektive Full Refund", "Konnektive Partial Refund", "Konnektive Shipping Address Change", "Konnektive Billing Address Change",
		"Konnektive Cancel Order", "Konnektive Customer Note", "Konnektive Customer Update", "Konnektive Cancel Subscription",
		"Konnektive Pause Subscription", "Konnektive Update Subscription Bill Cycle", "Konnektive Update Subscription Products"}
	total := 0
	for _, n := range names {
		if r.macros[n] != 1 {
			h.t.Fatalf("macro %q ×%d, want 1 (macros %v)", n, r.macros[n], r.macros)
		}
		total++
	}
	if len(r.macros) != total {
		h.t.Fatalf("macros %v, want exactly the 11", r.macros)
	}
	return r
}

// token is the installation's hook token, as install put it in Gorgias.
func (h *hub) token() string {
	h.t.Helper()
	r := h.remote()
	if len(r.integrations) != 1 {
		h.t.Fatalf("%d integrations", len(r.integrations))
	}
	return r.integrations[0].HTTP.Headers[konnektivegorgias.TokenHeader]
}

// pull calls the pull endpoint as Gorgias does.
func (h *hub) pull(email, token string) (int, konnektivegorgias.Answer) {
	h.t.Helper()
	status, raw := h.do("GET", "/hooks/gorgias/konnektive-gorgias/"+h.inst+"/customer?email="+email, "", http.Header{konnektivegorgias.TokenHeader: {token}})
	var a konnektivegorgias.Answer
	if status == 200 {
		if err := json.Unmarshal(raw, &a); err != nil {
			h.t.Fatalf("pull answer %s: %v", raw, err)
		}
	}
	return status, a
}

// agentPage returns the emulator's agent page of a ticket.
func (h *hub) agentPage(ticket gorgias.ID) string {
	h.t.Helper()
	resp, err := http.Get(h.gURL + "/app/ticket/" + ticket.String())
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (h *hub) ticket(email string) gorgias.ID {
	h.t.Helper()
	t, err := h.g.CreateTicket(h.ctx, gorgias.TicketCreate{Channel: "email", Via: "api", Subject: "Where is my order?",
		Customer: &gorgias.Person{Email: email},
		Messages: []gorgias.Message{{Channel: "email", Via: "api", Sender: &gorgias.Person{Email: email}, BodyText: "Hello, where is my order?"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.gorgias.Flush()
	return t.ID
}

// notes returns the internal notes of a ticket.
func (h *hub) notes(ticket gorgias.ID) []string {
	h.t.Helper()
	ms, err := h.g.ListTicketMessages(h.ctx, ticket)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.IsInternalNote() {
			out = append(out, m.BodyText)
		}
	}
	return out
}
