package konnektivegorgias_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
)

// subject is a fixture customer with enough CRM history for every macro:
// three refundable orders and two live subscriptions.
type subject struct {
	email      string
	customerID string
	orders     []konnektive.Order
	purchases  []konnektive.Purchase
}

func (h *hub) findSubject() subject {
	h.t.Helper()
	custs, err := h.crm.QueryCustomers(h.ctx, konnektive.CustomerQuery{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range custs {
		var s subject
		s.email, s.customerID = string(c.EmailAddress), string(c.CustomerID)
		os, err := h.crm.QueryOrders(h.ctx, konnektive.OrderQuery{CustomerID: s.customerID})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, o := range os {
			if o.OrderStatus == "COMPLETE" && o.RefundRemaining >= 500 && o.AmountRefunded == 0 {
				s.orders = append(s.orders, o)
			}
		}
		ps, err := h.crm.QueryPurchases(h.ctx, konnektive.PurchaseQuery{CustomerID: s.customerID})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range ps {
			if p.Status == "ACTIVE" || p.Status == "TRIAL" {
				s.purchases = append(s.purchases, p)
			}
		}
		if len(s.orders) >= 3 && len(s.purchases) >= 2 {
			return s
		}
	}
	h.t.Fatal("no fixture customer has 3 refundable orders and 2 live subscriptions")
	return subject{}
}

func (h *hub) order(id string) konnektive.Order {
	h.t.Helper()
	os, err := h.crm.QueryOrders(h.ctx, konnektive.OrderQuery{OrderID: id})
	if err != nil || len(os) != 1 {
		h.t.Fatalf("order %s: %v (%d)", id, err, len(os))
	}
	return os[0]
}

func (h *hub) purchase(id string) konnektive.Purchase {
	h.t.Helper()
	ps, err := h.crm.QueryPurchases(h.ctx, konnektive.PurchaseQuery{PurchaseID: id})
	if err != nil || len(ps) != 1 {
		h.t.Fatalf("purchase %s: %v (%d)", id, err, len(ps))
	}
	return ps[0]
}

func (h *hub) customer(id string) konnektive.Customer {
	h.t.Helper()
	cs, err := h.crm.QueryCustomers(h.ctx, konnektive.CustomerQuery{CustomerID: id})
	if err != nil || len(cs) != 1 {
		h.t.Fatalf("customer %s: %v (%d)", id, err, len(cs))
	}
	return cs[0]
}

// writes counts the CRM calls that are not queries.
func (h *hub) writes() int {
	n := 0
	for _, c := range h.crmEmu.Calls() {
		if !strings.HasSuffix(c.Path, "/query/") {
			n++
		}
	}
	return n
}

// apply applies a macro on the ticket like an agent, and returns the http
// action's outcome.
func (h *hub) apply(ticket gorgias.ID, macro gorgias.ID, values map[string]string) (status int, response string) {
	h.t.Helper()
	res, err := h.g.ApplyMacro(h.ctx, ticket, macro, values)
	if err != nil {
		h.t.Fatalf("apply macro %d: %v", macro, err)
	}
	if len(res.Actions) != 1 {
		h.t.Fatalf("actions = %+v", res.Actions)
	}
	return res.Actions[0].HTTPStatus, res.Actions[0].Error
}

func lastNote(t *testing.T, notes []string) string {
	t.Helper()
	if len(notes) == 0 {
		t.Fatal("no internal note")
	}
	return notes[len(notes)-1]
}

// TestEndToEnd is the first "done when": install, the widget on
// the agent page, the 11 macros changing the CRM with a note each, bad
// arguments changing nothing, a duplicate delivery executing once, and the
// audit rows through the admin API.
func TestEndToEnd(t *testing.T) {
	h := startHub(t, nil)
	in := h.install()
	if in.State != "active" || in.RemoteIDs["gorgias_integration_id"] == "" {
		t.Fatalf("installed: %+v", in)
	}
	r := h.wantInstalled(in)
	var ps map[string]any
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/plugin-settings", "", 200, &ps)
	if ps["IntegrationId"] != in.Settings["IntegrationId"] || ps["userName"] != "admin@acme.test" || ps["apiKeySet"] != true || ps["crmLoginId"] != "demo" {
		t.Fatalf("plugin settings = %v", ps)
	}
	if strings.Contains(mustJSON(ps), "gorgias-key") || strings.Contains(mustJSON(ps), "konnektive-pass") {
		t.Fatal("plugin settings show a secret")
	}

	s := h.findSubject()
	tk := h.ticket(s.email)
	page := h.agentPage(tk)
	if !strings.Contains(page, `data-widget-type="http"`) || !strings.Contains(page, s.customerID) || !strings.Contains(page, string(s.orders[0].OrderID)) {
		t.Fatalf("agent page has no Konnektive widget with customer %s and order %s:\n%s", s.customerID, s.orders[0].OrderID, page)
	}
	// Orders with items, totals and fulfilment tracking; subscriptions with
	// status, next bill date, interval, product and price.
	want := []string{"Konnektive CRM", string(s.purchases[0].PurchaseID), string(s.purchases[0].ProductName), "Next bill date", "Interval (days)",
		"Refundable", s.orders[0].TotalAmount.String(), string(s.orders[0].Items[0].Name)}
	for _, o := range s.orders {
		for _, f := range o.Fulfillments {
			if f.TrackingNumber != "" {
				want = append(want, string(f.TrackingNumber))
			}
		}
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Fatalf("agent page lacks %q", w)
		}
	}

	m := r.macroIDs
	o1, o2, o3 := string(s.orders[0].OrderID), string(s.orders[1].OrderID), string(s.orders[2].OrderID)
	p1, p2 := string(s.purchases[0].PurchaseID), string(s.purchases[1].PurchaseID)
	resume := time.Now().AddDate(0, 2, 0)
	steps := []struct {
		macro  string
		values map[string]string
		check  func() bool
	}{
		{"Konnektive Cancel Subscription", map[string]string{"purchaseId": p1, "cancelReason": "too much product"}, func() bool { return h.purchase(p1).Status == "CANCELLED" }},
		{"Konnektive Pause Subscription", map[string]string{"purchaseId": p2, "resumeDate": resume.Format("01/02/2006")},
			func() bool { return h.purchase(p2).NextBillDate.Format("01/02/2006") == resume.Format("01/02/2006") }},
		{"Konnektive Update Subscription Bill Cycle", map[string]string{"purchaseId": p2, "billingIntervalDays": "45"}, func() bool { return h.purchase(p2).BillingIntervalDays == 45 }},
		{"Konnektive Update Subscription Products", map[string]string{"purchaseId": p2, "productId": "103", "productQty": "2"},
			func() bool { p := h.purchase(p2); return p.ProductID == "103" && p.ProductQty == 2 }},
		{"Konnektive Full Refund", map[string]string{"orderId": o1}, func() bool { return h.order(o1).RefundRemaining == 0 }},
		{"Konnektive Partial Refund", map[string]string{"orderId": o2, "refundAmount": "1.25"}, func() bool { return h.order(o2).AmountRefunded == 125 }},
		{"Konnektive Shipping Address Change", map[string]string{"orderId": o2, "shipCity": "Springfield", "shipAddress1": "742 Evergreen Terrace"},
			func() bool {
				c := h.customer(s.customerID)
				return c.ShipCity == "Springfield" && c.ShipAddress1 == "742 Evergreen Terrace"
			}},
		{"Konnektive Billing Address Change", map[string]string{"orderId": o2, "city": "Shelbyville"}, func() bool { return h.customer(s.customerID).City == "Shelbyville" }},
		{"Konnektive Cancel Order", map[string]string{"orderId": o3, "cancelReason": "customer asked", "fullRefund": "1"}, func() bool { return h.order(o3).OrderStatus == "CANCELLED" }},
		{"Konnektive Customer Note", map[string]string{"message": "VIP caller, be nice"}, func() bool {
			for _, n := range h.customer(s.customerID).Notes {
				if n.Message == "VIP caller, be nice" {
					return true
				}
			}
			return false
		}},
		{"Konnektive Customer Update", map[string]string{"phoneNumber": "5550001111"}, func() bool { return h.customer(s.customerID).PhoneNumber == "5550001111" }},
	}
	for _, st := range steps {
		before := len(h.notes(tk))
		status, _ := h.apply(tk, m[st.macro], st.values)
		if status != 200 {
			t.Fatalf("%s: http action status %d; notes %v", st.macro, status, h.notes(tk))
		}
		if !st.check() {
			t.Fatalf("%s: the CRM did not change as intended", st.macro)
		}
		notes := h.notes(tk)
		if len(notes) != before+1 || !strings.Contains(lastNote(t, notes), st.macro+" — done") {
			t.Fatalf("%s: notes %q", st.macro, notes)
		}
	}

	// Bad arguments change nothing in the CRM, and the note says why.
	fresh := h.findSubject() // a customer whose orders are untouched
	tk2 := h.ticket(fresh.email)
	bo := string(fresh.orders[0].OrderID)
	beforeOrder := h.order(bo)
	writes := h.writes()
	bad := []struct {
		macro  string
		values map[string]string
		why    string
	}{
		{"Konnektive Cancel Order", map[string]string{"orderId": bo, "cancelReason": "x", "fullRefund": "2"}, "fullRefund must be 0 (false) or 1 (true)"},
		{"Konnektive Partial Refund", map[string]string{"orderId": bo, "refundAmount": "-5"}, "refundAmount must be greater than 0"},
		{"Konnektive Partial Refund", map[string]string{"orderId": bo, "refundAmount": "99999"}, "is more than the"},
		{"Konnektive Full Refund", map[string]string{"orderId": ""}, "orderId is required"},
	}
	for _, b := range bad {
		status, _ := h.apply(tk2, m[b.macro], b.values)
		if status != 422 {
			t.Fatalf("%s %v: status %d, want 422", b.macro, b.values, status)
		}
		if n := lastNote(t, h.notes(tk2)); !strings.Contains(n, "not applied") || !strings.Contains(n, b.why) || !strings.Contains(n, "Nothing was changed") {
			t.Fatalf("%s %v: note %q, want it to say %q", b.macro, b.values, n, b.why)
		}
	}
	if w := h.writes(); w != writes {
		t.Fatalf("bad arguments made %d CRM writes", w-writes)
	}
	if after := h.order(bo); after.OrderStatus != beforeOrder.OrderStatus || after.AmountRefunded != beforeOrder.AmountRefunded {
		t.Fatalf("order %s changed: %+v → %+v", bo, beforeOrder.OrderStatus, after.OrderStatus)
	}

	// The same macro delivered twice executes once.
	notesBefore := len(h.notes(tk2))
	writes = h.writes()
	note := map[string]string{"message": "called about refund"}
	s1, _ := h.apply(tk2, m["Konnektive Customer Note"], note)
	s2, _ := h.apply(tk2, m["Konnektive Customer Note"], note)
	if s1 != 200 || s2 != 200 {
		t.Fatalf("statuses %d %d", s1, s2)
	}
	if w := h.writes(); w != writes+1 {
		t.Fatalf("two deliveries made %d CRM writes, want 1", w-writes)
	}
	count := 0
	for _, n := range h.customer(fresh.customerID).Notes {
		if n.Message == "called about refund" {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("CRM note added %d times", count)
	}
	if n := len(h.notes(tk2)); n != notesBefore+1 {
		t.Fatalf("%d internal notes for two deliveries, want 1", n-notesBefore)
	}

	// The admin API lists the audit rows per installation and per ticket.
	var audit struct {
		Audit []struct {
			TicketID  string            `json:"ticket_id"`
			Action    string            `json:"action"`
			Status    string            `json:"status"`
			Arguments map[string]string `json:"arguments"`
			Request   json.RawMessage   `json:"request"`
			Message   string            `json:"message"`
		} `json:"audit"`
	}
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/audit?ticket="+tk2.String(), "", 200, &audit)
	if len(audit.Audit) != 5 { // 4 rejected + 1 note (the duplicate is not a row)
		t.Fatalf("ticket audit rows = %d, want 5: %+v", len(audit.Audit), audit.Audit)
	}
	rejected := 0
	for _, a := range audit.Audit {
		if a.TicketID != tk2.String() {
			t.Fatalf("row of ticket %s", a.TicketID)
		}
		if a.Status == "rejected" {
			rejected++
			if len(a.Request) != 0 {
				t.Fatalf("rejected row has a CRM request: %s", a.Request)
			}
		}
	}
	if rejected != 4 {
		t.Fatalf("rejected rows = %d", rejected)
	}
	// … and per customer (the ticket's customer email Gorgias sent).
	var byCustomer struct {
		Audit []struct {
			TicketID      string `json:"ticket_id"`
			CustomerEmail string `json:"customer_email"`
		} `json:"audit"`
	}
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/audit?email="+url.QueryEscape(strings.ToUpper(fresh.email)), "", 200, &byCustomer)
	if len(byCustomer.Audit) < 5 {
		t.Fatalf("customer audit rows = %d, want at least the ticket's 5", len(byCustomer.Audit))
	}
	for _, a := range byCustomer.Audit {
		if a.CustomerEmail != domain.NormalizeEmail(fresh.email) {
			t.Fatalf("row of customer %q (ticket %s) in %s's audit", a.CustomerEmail, a.TicketID, fresh.email)
		}
	}
	h.api("GET", "/api/v1/merchants/"+h.merchant+"/installations/"+h.inst+"/audit", "", 200, &audit)
	if len(audit.Audit) != 16 {
		t.Fatalf("installation audit rows = %d, want 16", len(audit.Audit))
	}
	for _, a := range audit.Audit {
		if a.Status == "succeeded" && (len(a.Request) == 0 || !strings.Contains(string(a.Request), "/")) {
			t.Fatalf("succeeded row without its CRM request: %+v", a)
		}
		if strings.Contains(string(a.Request), "konnektive-pass") {
			t.Fatal("audit row holds the CRM password")
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
