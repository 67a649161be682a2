package konnektivegorgias_test

import (
	"net/http"
	"strings"
	"testing"

	"switchyard/internal/emulator/emukit"
	"switchyard/internal/provider/gorgias"
)

// TestRepairAndUninstall: delete the widget and three macros in Gorgias,
// repair → exactly 11 macros, one widget, one integration; delete the
// integration, repair → a new one and IntegrationId follows; uninstall →
// none, and the old token stops working.
func TestRepairAndUninstall(t *testing.T) {
	h := startHub(t, nil)
	first := h.install()
	r := h.wantInstalled(first)
	if err := h.g.DeleteWidget(h.ctx, r.widgets[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Konnektive Full Refund", "Konnektive Pause Subscription", "Konnektive Update Subscription Products"} {
		if err := h.g.DeleteMacro(h.ctx, r.macroIDs[n]); err != nil {
			t.Fatal(err)
		}
	}
	// A macro renamed by hand gets its name back (matched by stored id).
	if _, err := h.g.UpdateMacro(h.ctx, r.macroIDs["Konnektive Customer Update"], gorgias.Macro{Name: "Customer update (old)"}); err != nil {
		t.Fatal(err)
	}
	// A copy made by hand (same name) is removed, not kept beside ours.
	dup, err := h.g.CreateMacro(h.ctx, gorgias.Macro{Name: "Konnektive Cancel Order"})
	if err != nil {
		t.Fatal(err)
	}
	again := h.install()
	r2 := h.wantInstalled(again)
	if again.Settings["IntegrationId"] != first.Settings["IntegrationId"] {
		t.Fatalf("IntegrationId changed on repair: %s → %s", first.Settings["IntegrationId"], again.Settings["IntegrationId"])
	}
	if r2.macroIDs["Konnektive Customer Note"] != r.macroIDs["Konnektive Customer Note"] ||
		r2.macroIDs["Konnektive Customer Update"] != r.macroIDs["Konnektive Customer Update"] {
		t.Fatal("a macro that still existed was recreated")
	}
	if r2.macroIDs["Konnektive Cancel Order"] == dup.ID && r2.macroIDs["Konnektive Cancel Order"] != r.macroIDs["Konnektive Cancel Order"] {
		t.Fatal("the stored macro was dropped for the hand-made copy")
	}
	// Repair of an intact install changes nothing.
	h.wantInstalled(h.install())

	// The integration deleted: a new one, and IntegrationId follows it.
	if err := h.g.DeleteIntegration(h.ctx, r2.integrations[0].ID); err != nil {
		t.Fatal(err)
	}
	third := h.install()
	r3 := h.wantInstalled(third)
	if r3.integrations[0].ID == r2.integrations[0].ID || third.Settings["IntegrationId"] != r3.integrations[0].ID.String() {
		t.Fatalf("IntegrationId %s, integration %d (old %d)", third.Settings["IntegrationId"], r3.integrations[0].ID, r2.integrations[0].ID)
	}

	token := h.token()
	if status, _ := h.pull("nobody@example.com", token); status != 200 {
		t.Fatalf("pull = %d", status)
	}

	// IntegrationId is read-only.
	status, raw := h.do("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst, `{"settings":{"IntegrationId":"999"}}`,
		http.Header{"Authorization": {"Bearer " + adminToken}})
	if status != 400 || !strings.Contains(string(raw), "read-only") {
		t.Fatalf("PATCH IntegrationId = %d %s", status, raw)
	}

	var un installation
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/uninstall", "", 200, &un)
	left := h.remote()
	if len(left.integrations) != 0 || len(left.widgets) != 0 || len(left.macros) != 0 {
		t.Fatalf("after uninstall: %d integrations, %d widgets, macros %v", len(left.integrations), len(left.widgets), left.macros)
	}
	if _, ok := un.Settings["IntegrationId"]; ok || un.State != "uninstalled" {
		t.Fatalf("uninstalled installation: %+v", un)
	}
	if status, _ := h.pull("nobody@example.com", token); status != 401 {
		t.Fatalf("pull with the old token after uninstall = %d, want 401", status)
	}
	// Uninstall again is harmless.
	h.api("POST", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/uninstall", "", 200, nil)
}

// TestPullEndpoint: tokens, unknown emails, the cache, and a CRM slowed or
// down answered with an error object within the time box, which the agent
// page shows.
func TestPullEndpoint(t *testing.T) {
	h := startHub(t, map[string]string{"pullTimeout": "300ms", "cacheTtl": "0s"})
	h.install()
	token := h.token()

	if status, _ := h.pull("a@example.com", "wrong"); status != 401 {
		t.Fatalf("wrong token = %d, want 401", status)
	}
	if status, _ := h.pull("a@example.com", ""); status != 401 {
		t.Fatalf("no token = %d, want 401", status)
	}
	status, _ := h.do("GET", "/hooks/gorgias/konnektive-gorgias/ins_unknown/customer?email=a@example.com", "", http.Header{"X-Switchyard-Token": {token}})
	if status != 404 {
		t.Fatalf("unknown installation = %d, want 404", status)
	}
	// The action endpoint: wrong token, bad ticket, malformed and oversized bodies, unknown action.
	act := "/hooks/gorgias/konnektive-gorgias/" + h.inst + "/actions/customer-note?ticket=1"
	for _, c := range []struct {
		path, token, body string
		want              int
	}{
		{act, "wrong", `{"message":"x"}`, 401},
		{"/hooks/gorgias/konnektive-gorgias/" + h.inst + "/actions/customer-note?ticket=abc", token, `{"message":"x"}`, 400},
		{act, token, `{"message":`, 400},
		{act, token, `{"message":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
		{"/hooks/gorgias/konnektive-gorgias/" + h.inst + "/actions/delete-everything?ticket=1", token, `{}`, 404},
	} {
		if status, raw := h.do("POST", c.path, c.body, http.Header{"X-Switchyard-Token": {c.token}, "Content-Type": {"application/json"}}); status != c.want {
			t.Fatalf("POST %s = %d %s, want %d", c.path, status, raw, c.want)
		}
	}

	status, a := h.pull("nobody-here@example.com", token)
	if status != 200 || a.Customer != nil || a.Orders == nil || len(a.Orders) != 0 || a.Error != nil {
		t.Fatalf("unknown email = %d %+v, want an empty answer", status, a)
	}
	s := h.findSubject()
	status, a = h.pull(s.email, token)
	if status != 200 || a.Customer == nil || a.Customer.CustomerID != s.customerID || len(a.Orders) == 0 || len(a.Subscriptions) == 0 || len(a.Transactions) == 0 {
		t.Fatalf("known email = %d %+v", status, a)
	}
	withItems := false
	for _, o := range a.Orders {
		withItems = withItems || len(o.Items) > 0
	}
	if !withItems {
		t.Fatal("no order has items")
	}

	// The CRM slowed past the time box.
	h.crmEmu.Kit().SetFaults(emukit.Faults{Latency: 3_000_000_000})
	status, a = h.pull(s.email, token)
	if status != 200 || a.Error == nil || a.Error.Code != "timeout" || a.Customer != nil {
		t.Fatalf("slow CRM = %d %+v, want a timeout error object", status, a)
	}
	tk := h.ticket(s.email)
	// The failed calls opened the CRM budget's circuit: the pull the ticket
	// triggered is answered at once, with the error object either way.
	if page := h.agentPage(tk); !strings.Contains(page, `data-path="error"`) || !strings.Contains(page, "Konnektive CRM") {
		t.Fatalf("agent page does not show the time-box error:\n%s", page)
	}
	// The CRM down.
	h.crmEmu.Kit().SetFaults(emukit.Faults{Outage: true})
	status, a = h.pull(s.email, token)
	if status != 200 || a.Error == nil || a.Error.Code == "timeout" || a.Error.Message == "" {
		t.Fatalf("CRM down = %d %+v, want an error object", status, a)
	}
	h.crmEmu.Kit().SetFaults(emukit.Faults{})
}

// TestPullCache: a second pull inside the TTL is answered without the CRM;
// an action on the customer drops the cached answer.
func TestPullCache(t *testing.T) {
	h := startHub(t, map[string]string{"cacheTtl": "10m"})
	h.install()
	token := h.token()
	s := h.findSubject()
	h.pull(s.email, token)
	calls := len(h.crmEmu.Calls())
	status, a := h.pull(s.email, token)
	if status != 200 || a.Customer == nil || len(h.crmEmu.Calls()) != calls {
		t.Fatalf("cached pull = %d, CRM calls %d → %d", status, calls, len(h.crmEmu.Calls()))
	}
	// Another installation's or another email's answer is not this one.
	status, a = h.pull("other-"+s.email, token)
	if status != 200 || a.Customer != nil {
		t.Fatalf("other email = %+v", a)
	}
	// An action on the ticket's customer drops the cached answer.
	tk := h.ticket(s.email)
	st, _ := h.apply(tk, h.remote().macroIDs["Konnektive Customer Update"], map[string]string{"phoneNumber": "5559998888"})
	if st != 200 {
		t.Fatalf("customer update = %d", st)
	}
	_, a = h.pull(s.email, token)
	if a.Customer == nil || a.Customer.Phone != "5559998888" {
		t.Fatalf("after the action the answer is stale: %+v", a.Customer)
	}
}

// TestSettingsCheckNamesTheSide: saving settings makes one cheap call to
// each side; a wrong Gorgias key or CRM password is refused with an error
// naming that side.
func TestSettingsCheckNamesTheSide(t *testing.T) {
	h := startHub(t, nil)
	auth := http.Header{"Authorization": {"Bearer " + adminToken}}
	var conns []struct {
		ID     string `json:"id"`
		Vendor string `json:"vendor"`
	}
	var list struct {
		Connections *[]struct {
			ID     string `json:"id"`
			Vendor string `json:"vendor"`
		} `json:"connections"`
	}
	list.Connections = &conns
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/connections", "", 200, &list)
	ids := map[string]string{}
	for _, c := range conns {
		ids[c.Vendor] = c.ID
	}
	// A valid save passes both checks.
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst, `{"settings":{"pullTimeout":"2s"}}`, 200, nil)

	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+ids["konnektive"], `{"secrets":{"password":"wrong-pass"}}`, 200, nil)
	status, raw := h.do("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst, `{"settings":{"pullTimeout":"3s"}}`, auth)
	if status != 400 || !strings.Contains(string(raw), "Konnektive CRM") || strings.Contains(string(raw), "Gorgias (") {
		t.Fatalf("wrong CRM password = %d %s", status, raw)
	}
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+ids["konnektive"], `{"secrets":{"password":"konnektive-pass"}}`, 200, nil)
	h.api("PATCH", "/api/v1/merchants/"+h.merchant+"/connections/"+ids["gorgias"], `{"secrets":{"api_key":"wrong-key"}}`, 200, nil)
	status, raw = h.do("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst, `{"settings":{"pullTimeout":"3s"}}`, auth)
	if status != 400 || !strings.Contains(string(raw), "Gorgias (baseUrl, userName, apiKey)") {
		t.Fatalf("wrong Gorgias key = %d %s", status, raw)
	}
	for _, bad := range []string{`{"settings":{"pullTimeout":"forever"}}`, `{"settings":{"hubUrl":"ftp://x"}}`} {
		if status, raw := h.do("PATCH", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst, bad, auth); status != 400 {
			t.Fatalf("%s = %d %s", bad, status, raw)
		}
	}
}

// TestActionAfterOutage: a macro whose CRM call could not be made answers
// 502 with a note saying so, and does not hold its idempotency key: the
// agent applies it again after the outage and it runs.
func TestActionAfterOutage(t *testing.T) {
	h := startHub(t, nil)
	h.install()
	s := h.findSubject()
	tk := h.ticket(s.email)
	macro := h.remote().macroIDs["Konnektive Customer Note"]
	values := map[string]string{"customerId": s.customerID, "message": "call back tomorrow"}

	h.crmEmu.Kit().SetFaults(emukit.Faults{Outage: true})
	if status, _ := h.apply(tk, macro, values); status != 502 {
		t.Fatalf("during the outage = %d, want 502", status)
	}
	if n := lastNote(t, h.notes(tk)); !strings.Contains(n, "failed") || !strings.Contains(n, "could not be reached") {
		t.Fatalf("note %q", n)
	}
	h.crmEmu.Kit().SetFaults(emukit.Faults{})
	if status, _ := h.apply(tk, macro, values); status != 200 {
		t.Fatalf("after the outage = %d, want 200", status)
	}
	found := 0
	for _, n := range h.customer(s.customerID).Notes {
		if n.Message == "call back tomorrow" {
			found++
		}
	}
	if found != 1 {
		t.Fatalf("CRM note added %d times", found)
	}
	if n := lastNote(t, h.notes(tk)); !strings.Contains(n, "— done") {
		t.Fatalf("note %q", n)
	}
	// Now it holds the key: a third delivery is a replay.
	before := h.writes()
	if status, _ := h.apply(tk, macro, values); status != 200 || h.writes() != before {
		t.Fatalf("replay = %d with %d writes", status, h.writes()-before)
	}
}
