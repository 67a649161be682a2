package konnektivegorgias

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
)

// Arg is an editable argument of a macro's http action. Flag arguments
// default to "0" and take 0 (false) or 1 (true), as the guide says.
type Arg struct {
	Key      string
	Flag     bool
	Required bool
}

// MacroDef is one of the 11 Konnektive macros.
type MacroDef struct {
	// Key is the action's path segment (…/actions/<Key>).
	Key string
	// Name is the macro's exact name in Gorgias.
	Name   string
	Intent string
	Args   []Arg
	run    func(ctx context.Context, x *execution) (*crmCall, error)
}

// crmCall is what an action sent to the CRM and what came back.
type crmCall struct {
	Endpoint string            `json:"endpoint"`
	Params   map[string]string `json:"params"`
	// Summary is the outcome in words, for the note.
	Summary string `json:"-"`
	call    func(ctx context.Context) (*konnektive.ActionResult, error)
}

func flag(k string) Arg { return Arg{Key: k, Flag: true} }
func req(k string) Arg  { return Arg{Key: k, Required: true} }
func opt(k string) Arg  { return Arg{Key: k} }

var (
	shipArgs = []Arg{req("orderId"), opt("shipFirstName"), opt("shipLastName"), opt("shipAddress1"), opt("shipAddress2"),
		opt("shipCity"), opt("shipState"), opt("shipPostalCode"), opt("shipCountry")}
	billArgs = []Arg{req("orderId"), opt("firstName"), opt("lastName"), opt("address1"), opt("address2"),
		opt("city"), opt("state"), opt("postalCode"), opt("country")}
)

// Macros returns the 11 macros, in the guide's order.
func Macros() []MacroDef {
	return []MacroDef{
		{Key: "full-refund", Name: "Konnektive Full Refund", Intent: "refund/request", Args: []Arg{req("orderId")}, run: runFullRefund},
		{Key: "partial-refund", Name: "Konnektive Partial Refund", Intent: "refund/request", Args: []Arg{req("orderId"), req("refundAmount")}, run: runPartialRefund},
		{Key: "shipping-address-change", Name: "Konnektive Shipping Address Change", Intent: "shipping/change", Args: shipArgs, run: runAddress("ship")},
		{Key: "billing-address-change", Name: "Konnektive Billing Address Change", Intent: "order/change", Args: billArgs, run: runAddress("")},
		{Key: "cancel-order", Name: "Konnektive Cancel Order", Intent: "order/cancel", Args: []Arg{req("orderId"), req("cancelReason"), flag("fullRefund"), flag("afterNextBill")}, run: runCancelOrder},
		{Key: "customer-note", Name: "Konnektive Customer Note", Intent: "other/question", Args: []Arg{opt("customerId"), req("message")}, run: runNote},
		{Key: "customer-update", Name: "Konnektive Customer Update", Intent: "other/question", Args: []Arg{opt("customerId"), opt("firstName"), opt("lastName"), opt("emailAddress"), opt("phoneNumber")}, run: runCustomerUpdate},
		{Key: "cancel-subscription", Name: "Konnektive Cancel Subscription", Intent: "subscription/cancel", Args: []Arg{req("purchaseId"), req("cancelReason"), flag("fullRefund"), flag("afterNextBill")}, run: runCancelPurchase},
		{Key: "pause-subscription", Name: "Konnektive Pause Subscription", Intent: "subscription/change", Args: []Arg{req("purchaseId"), req("resumeDate")}, run: runPause},
		{Key: "update-subscription-bill-cycle", Name: "Konnektive Update Subscription Bill Cycle", Intent: "subscription/change", Args: []Arg{req("purchaseId"), opt("nextBillDate"), opt("billingIntervalDays"), flag("billNow")}, run: runBillCycle},
		{Key: "update-subscription-products", Name: "Konnektive Update Subscription Products", Intent: "subscription/change", Args: []Arg{req("purchaseId"), req("productId"), opt("variantId"), opt("productQty"), opt("price")}, run: runProducts},
	}
}

// macroByKey finds a macro by its action key.
func macroByKey(key string) (MacroDef, bool) {
	for _, m := range Macros() {
		if m.Key == key {
			return m, true
		}
	}
	return MacroDef{}, false
}

// macro is the Gorgias macro: one http action to switchyard whose form
// rows are the editable arguments (flags default to 0) and whose fixed
// query parameters carry the ticket, its customer's email and the agent.
func (m MacroDef) macro(base, token string) (gorgias.Macro, error) {
	form := make([]gorgias.KeyValue, 0, len(m.Args))
	for _, a := range m.Args {
		v := ""
		if a.Flag {
			v = "0"
		}
		form = append(form, gorgias.KeyValue{Key: a.Key, Value: gorgias.FlexString(v), Editable: true})
	}
	act, err := gorgias.NewHTTPAction(m.Name, gorgias.HTTPActionArgs{
		Method: "POST", URL: base + "/actions/" + m.Key, ContentType: "application/json",
		Headers: []gorgias.KeyValue{{Key: TokenHeader, Value: gorgias.FlexString(token)}},
		Params: []gorgias.KeyValue{{Key: "ticket", Value: "{{ticket.id}}"}, {Key: "email", Value: "{{ticket.customer.email}}"},
			{Key: "agent", Value: "{{current_user.email}}"}},
		Form: form,
	})
	if err != nil {
		return gorgias.Macro{}, err
	}
	return gorgias.Macro{Name: m.Name, Intent: m.Intent, Language: "en", ExternalID: gorgias.FlexString("switchyard:" + Name + ":" + m.Key),
		Actions: []gorgias.MacroAction{act}}, nil
}

// ---- argument checks ----------------------------------------------------------

// rejection is a bad argument: nothing is sent to the CRM, and the agent
// reads Message in the note.
type rejection struct{ msg string }

func (r *rejection) Error() string { return r.msg }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// normalize applies defaults and checks required arguments and flags; it
// returns the declared arguments only, trimmed.
func (m MacroDef) normalize(raw map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m.Args))
	var missing []string
	for _, a := range m.Args {
		v := strings.TrimSpace(raw[a.Key])
		if a.Flag {
			if v == "" {
				v = "0"
			}
			if v != "0" && v != "1" {
				return nil, reject("%s must be 0 (false) or 1 (true), not %q", a.Key, v)
			}
		}
		if a.Required && v == "" {
			missing = append(missing, a.Key)
		}
		out[a.Key] = v
	}
	if len(missing) > 0 {
		return nil, reject("%s is required", strings.Join(missing, " and "))
	}
	return out, nil
}

// execution is one action run.
type execution struct {
	c     *Connector
	in    *domain.Installation
	k     *konnektive.Client
	args  map[string]string
	email string // the ticket's customer email
}

func (x *execution) on(k string) bool { return x.args[k] == "1" }

func amount(name, v string) (konnektive.Money, error) {
	m, err := konnektive.ParseMoney(v)
	if err != nil {
		return 0, reject("%s %q is not an amount such as 12.50", name, v)
	}
	if m <= 0 {
		return 0, reject("%s must be greater than 0, not %s", name, m)
	}
	return m, nil
}

func dateArg(name, v string, now time.Time) (time.Time, error) {
	for _, l := range []string{"01/02/2006", "1/2/2006", time.DateOnly} {
		if t, err := time.Parse(l, v); err == nil {
			y, mo, d := now.Date()
			if t.Before(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)) {
				return time.Time{}, reject("%s %s is in the past", name, v)
			}
			return t, nil
		}
	}
	return time.Time{}, reject("%s %q is not a date such as 01/31/2027 (MM/DD/YYYY)", name, v)
}

func intArg(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, reject("%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// order looks an order up by id (a read; nothing changes).
func (x *execution) order(ctx context.Context) (*konnektive.Order, error) {
	id := x.args["orderId"]
	os, err := x.k.QueryOrders(ctx, konnektive.OrderQuery{OrderID: id})
	if err != nil {
		return nil, err
	}
	for i := range os {
		if strings.EqualFold(string(os[i].OrderID), id) {
			return &os[i], nil
		}
	}
	return nil, reject("order %s was not found in the CRM", id)
}

// customerID is the customerId argument, or the CRM customer of the
// ticket's email.
func (x *execution) customerID(ctx context.Context) (string, error) {
	if id := x.args["customerId"]; id != "" {
		return id, nil
	}
	if x.email == "" {
		return "", reject("customerId is required (the ticket has no customer email to find it by)")
	}
	cs, err := x.k.QueryCustomers(ctx, konnektive.CustomerQuery{Email: x.email})
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "", reject("no CRM customer has the email %s; enter the customerId", x.email)
	}
	best := cs[0]
	for _, c := range cs[1:] {
		if c.DateUpdated.After(best.DateUpdated.Time) {
			best = c
		}
	}
	return string(best.CustomerID), nil
}

func refundable(o *konnektive.Order) konnektive.Money {
	if o.RefundRemaining > 0 {
		return o.RefundRemaining
	}
	return o.AmountPaid - o.AmountRefunded
}

// ---- the 11 actions ------------------------------------------------------------

func runFullRefund(ctx context.Context, x *execution) (*crmCall, error) {
	o, err := x.order(ctx)
	if err != nil {
		return nil, err
	}
	left := refundable(o)
	if left <= 0 {
		return nil, reject("order %s has nothing left to refund", o.OrderID)
	}
	// refundAmount is always sent, even on a full refund (integrators' note).
	p := konnektive.RefundOrderParams{OrderID: string(o.OrderID), Full: true, Amount: left}
	return &crmCall{Endpoint: "/order/refund/", Params: map[string]string{"orderId": p.OrderID, "fullRefund": "1", "refundAmount": left.String()},
		Summary: fmt.Sprintf("refunded %s%s (in full) on order %s", o.CurrencySymbol, left, o.OrderID),
		call:    func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.RefundOrder(ctx, p) }}, nil
}

func runPartialRefund(ctx context.Context, x *execution) (*crmCall, error) {
	amt, err := amount("refundAmount", x.args["refundAmount"])
	if err != nil {
		return nil, err
	}
	o, err := x.order(ctx)
	if err != nil {
		return nil, err
	}
	if left := refundable(o); amt > left {
		return nil, reject("refundAmount %s is more than the %s still refundable on order %s", amt, left, o.OrderID)
	}
	p := konnektive.RefundOrderParams{OrderID: string(o.OrderID), Amount: amt}
	return &crmCall{Endpoint: "/order/refund/", Params: map[string]string{"orderId": p.OrderID, "fullRefund": "0", "refundAmount": amt.String()},
		Summary: fmt.Sprintf("refunded %s%s on order %s", o.CurrencySymbol, amt, o.OrderID),
		call:    func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.RefundOrder(ctx, p) }}, nil
}

func runAddress(prefix string) func(ctx context.Context, x *execution) (*crmCall, error) {
	return func(ctx context.Context, x *execution) (*crmCall, error) {
		key := func(f string) string {
			if prefix == "" {
				return f
			}
			return prefix + strings.ToUpper(f[:1]) + f[1:]
		}
		a := konnektive.Address{FirstName: x.args[key("firstName")], LastName: x.args[key("lastName")], Address1: x.args[key("address1")],
			Address2: x.args[key("address2")], City: x.args[key("city")], State: x.args[key("state")], PostalCode: x.args[key("postalCode")],
			Country: x.args[key("country")]}
		if a.IsZero() {
			return nil, reject("enter at least one address field to change")
		}
		o, err := x.order(ctx)
		if err != nil {
			return nil, err
		}
		u := konnektive.CustomerUpdate{CustomerID: string(o.CustomerID)}
		what := "billing"
		if prefix == "ship" {
			u.Shipping, what = a, "shipping"
		} else {
			u.Billing = a
		}
		params := map[string]string{"customerId": u.CustomerID}
		for k, v := range x.args {
			if k != "orderId" && v != "" {
				params[k] = v
			}
		}
		return &crmCall{Endpoint: "/customer/update/", Params: params,
			Summary: fmt.Sprintf("changed the %s address of order %s (customer %s)", what, o.OrderID, o.CustomerID),
			call:    func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.UpdateCustomer(ctx, u) }}, nil
	}
}

func runCancelOrder(_ context.Context, x *execution) (*crmCall, error) {
	p := konnektive.CancelOrderParams{OrderID: x.args["orderId"], Reason: x.args["cancelReason"], FullRefund: x.on("fullRefund"), AfterNextBill: x.on("afterNextBill")}
	if len([]rune(p.Reason)) > 100 {
		return nil, reject("cancelReason is longer than 100 characters")
	}
	sum := "cancelled order " + p.OrderID
	if p.FullRefund {
		sum += " with a full refund"
	}
	return &crmCall{Endpoint: "/order/cancel/", Params: map[string]string{"orderId": p.OrderID, "cancelReason": p.Reason, "fullRefund": x.args["fullRefund"], "afterNextBill": x.args["afterNextBill"]},
		Summary: sum, call: func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.CancelOrder(ctx, p) }}, nil
}

func runNote(ctx context.Context, x *execution) (*crmCall, error) {
	if len([]rune(x.args["message"])) > 500 {
		return nil, reject("message is longer than 500 characters")
	}
	id, err := x.customerID(ctx)
	if err != nil {
		return nil, err
	}
	msg := x.args["message"]
	return &crmCall{Endpoint: "/customer/addnote/", Params: map[string]string{"customerId": id, "message": msg},
		Summary: "added a note to customer " + id,
		call:    func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.AddCustomerNote(ctx, id, msg) }}, nil
}

func runCustomerUpdate(ctx context.Context, x *execution) (*crmCall, error) {
	u := konnektive.CustomerUpdate{Billing: konnektive.Address{FirstName: x.args["firstName"], LastName: x.args["lastName"]},
		Email: x.args["emailAddress"], Phone: x.args["phoneNumber"]}
	if u.Billing.IsZero() && u.Email == "" && u.Phone == "" {
		return nil, reject("enter at least one of firstName, lastName, emailAddress, phoneNumber")
	}
	id, err := x.customerID(ctx)
	if err != nil {
		return nil, err
	}
	u.CustomerID = id
	params := map[string]string{"customerId": id}
	for _, k := range []string{"firstName", "lastName", "emailAddress", "phoneNumber"} {
		if v := x.args[k]; v != "" {
			params[k] = v
		}
	}
	return &crmCall{Endpoint: "/customer/update/", Params: params, Summary: "updated customer " + id,
		call: func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.UpdateCustomer(ctx, u) }}, nil
}

func runCancelPurchase(_ context.Context, x *execution) (*crmCall, error) {
	p := konnektive.CancelPurchaseParams{PurchaseID: x.args["purchaseId"], Reason: x.args["cancelReason"], FullRefund: x.on("fullRefund"), AfterNextBill: x.on("afterNextBill")}
	if len([]rune(p.Reason)) > 100 {
		return nil, reject("cancelReason is longer than 100 characters")
	}
	sum := "cancelled subscription " + p.PurchaseID
	if p.AfterNextBill {
		sum += " after its next bill"
	}
	return &crmCall{Endpoint: "/purchase/cancel/", Params: map[string]string{"purchaseId": p.PurchaseID, "cancelReason": p.Reason, "fullRefund": x.args["fullRefund"], "afterNextBill": x.args["afterNextBill"]},
		Summary: sum, call: func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.CancelPurchase(ctx, p) }}, nil
}

func runPause(_ context.Context, x *execution) (*crmCall, error) {
	until, err := dateArg("resumeDate", x.args["resumeDate"], x.c.d.Now())
	if err != nil {
		return nil, err
	}
	p := konnektive.PauseParams{PurchaseID: x.args["purchaseId"], Until: until}
	return &crmCall{Endpoint: "/purchase/update/", Params: map[string]string{"purchaseId": p.PurchaseID, "nextBillDate": konnektive.FormatDate(until)},
		Summary: fmt.Sprintf("paused subscription %s until %s", p.PurchaseID, konnektive.FormatDate(until)),
		call:    func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.PausePurchase(ctx, p) }}, nil
}

func runBillCycle(_ context.Context, x *execution) (*crmCall, error) {
	u := konnektive.PurchaseUpdate{PurchaseID: x.args["purchaseId"], BillNow: x.on("billNow")}
	params := map[string]string{"purchaseId": u.PurchaseID}
	if v := x.args["nextBillDate"]; v != "" {
		t, err := dateArg("nextBillDate", v, x.c.d.Now())
		if err != nil {
			return nil, err
		}
		u.NextBillDate, params["nextBillDate"] = t, konnektive.FormatDate(t)
	}
	if v := x.args["billingIntervalDays"]; v != "" {
		n, err := intArg("billingIntervalDays", v, 1, 365)
		if err != nil {
			return nil, err
		}
		u.BillingIntervalDays, params["billingIntervalDays"] = n, strconv.Itoa(n)
	}
	if u.BillNow {
		params["billNow"] = "1"
	}
	if len(params) == 1 {
		return nil, reject("enter nextBillDate, billingIntervalDays or billNow=1")
	}
	return &crmCall{Endpoint: "/purchase/update/", Params: params, Summary: "updated the bill cycle of subscription " + u.PurchaseID,
		call: func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.UpdatePurchase(ctx, u) }}, nil
}

func runProducts(_ context.Context, x *execution) (*crmCall, error) {
	u := konnektive.PurchaseUpdate{PurchaseID: x.args["purchaseId"], ProductID: x.args["productId"], VariantID: x.args["variantId"]}
	params := map[string]string{"purchaseId": u.PurchaseID, "productId": u.ProductID}
	if u.VariantID != "" {
		params["variantId"] = u.VariantID
	}
	if v := x.args["productQty"]; v != "" {
		n, err := intArg("productQty", v, 1, 99)
		if err != nil {
			return nil, err
		}
		u.ProductQty, params["productQty"] = n, strconv.Itoa(n)
	}
	if v := x.args["price"]; v != "" {
		m, err := konnektive.ParseMoney(v)
		if err != nil || m < 0 {
			return nil, reject("price %q is not an amount such as 12.50", v)
		}
		u.Price, params["price"] = &m, m.String()
	}
	return &crmCall{Endpoint: "/purchase/update/", Params: params, Summary: fmt.Sprintf("changed subscription %s to product %s", u.PurchaseID, u.ProductID),
		call: func(ctx context.Context) (*konnektive.ActionResult, error) { return x.k.UpdatePurchase(ctx, u) }}, nil
}
