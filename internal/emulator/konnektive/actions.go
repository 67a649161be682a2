package konnektive

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Every action validates all of its parameters before it changes anything,
// so an ERROR envelope means nothing was applied.

func (e *Emulator) findOrder(p params) (*order, error) {
	id := p.get("orderId")
	if id == "" {
		return nil, errf("orderId is required")
	}
	for oid, o := range e.db.orders {
		if strings.EqualFold(oid, id) {
			return o, nil
		}
	}
	return nil, errf("Invalid orderId: order %s could not be found", id)
}

func (e *Emulator) findCustomer(p params) (*customer, error) {
	if !p.has("customerId") {
		return nil, errf("customerId is required")
	}
	id, err := strconv.Atoi(p.get("customerId"))
	if c := e.db.customers[id]; err == nil && c != nil {
		return c, nil
	}
	return nil, errf("Invalid customerId: customer %s could not be found", p.get("customerId"))
}

func (e *Emulator) findPurchase(p params) (*purchase, error) {
	if !p.has("purchaseId") {
		return nil, errf("purchaseId is required")
	}
	id, err := strconv.Atoi(p.get("purchaseId"))
	if pu := e.db.purchases[id]; err == nil && pu != nil {
		return pu, nil
	}
	return nil, errf("Invalid purchaseId: purchase %s could not be found", p.get("purchaseId"))
}

// refundAmount reads fullRefund/refundAmount against what is refundable.
func refundAmount(p params, refundable int64, what string) (int64, error) {
	full, err := parseBool(p, "fullRefund")
	if err != nil {
		return 0, err
	}
	if refundable <= 0 {
		return 0, errf("%s has no refundable amount left", what)
	}
	if full {
		return refundable, nil
	}
	if !p.has("refundAmount") {
		return 0, errf("refundAmount is required when fullRefund is 0")
	}
	amt, err := parseMoney("refundAmount", p.get("refundAmount"))
	if err != nil {
		return 0, err
	}
	if amt <= 0 {
		return 0, errf("refundAmount must be greater than 0")
	}
	if amt > refundable {
		return 0, errf("refundAmount %s exceeds the refundable amount of %s", money(amt), money(refundable))
	}
	return amt, nil
}

func refundResult(idField, id string, amount, remaining int64, txns []*txn) map[string]any {
	ids := make([]string, 0, len(txns))
	for _, t := range txns {
		ids = append(ids, strconv.Itoa(t.ID))
	}
	return map[string]any{idField: id, "refundAmount": money(amount), "refundRemaining": money(remaining), "transactionIds": ids}
}

func (e *Emulator) refundOrder(p params) (any, error) {
	o, err := e.findOrder(p)
	if err != nil {
		return nil, err
	}
	db := e.db
	amt, err := refundAmount(p, db.paid(o)-o.Refunded, "Order "+o.ID)
	if err != nil {
		return nil, err
	}
	txns := db.refundOrder(o, amt, e.now(), "Refund approved")
	return refundResult("orderId", o.ID, amt, db.paid(o)-o.Refunded, txns), nil
}

func (e *Emulator) refundTransaction(p params) (any, error) {
	db := e.db
	if !p.has("transactionId") {
		return nil, errf("transactionId is required")
	}
	id, _ := strconv.Atoi(p.get("transactionId"))
	t := db.txns[id]
	if t == nil {
		return nil, errf("Invalid transactionId: transaction %s could not be found", p.get("transactionId"))
	}
	if t.Type != txnSale || t.Response != respSuccess {
		return nil, errf("Transaction %d is a %s/%s transaction and cannot be refunded", t.ID, t.Type, t.Response)
	}
	amt, err := refundAmount(p, t.remaining(), "Transaction "+strconv.Itoa(t.ID))
	if err != nil {
		return nil, err
	}
	cancelPurchase, err := parseBool(p, "cancelPurchase")
	if err != nil {
		return nil, err
	}
	external, err := parseBool(p, "externalRefund")
	if err != nil {
		return nil, err
	}
	mtid := p.get("refundMerchantTxnId")
	if len(mtid) > 500 {
		return nil, errf("refundMerchantTxnId is longer than 500 characters")
	}
	if external && mtid == "" {
		return nil, errf("refundMerchantTxnId is required when externalRefund is 1")
	}
	pu := db.purchases[t.PurchaseID]
	if cancelPurchase && pu == nil {
		return nil, errf("Transaction %d is not linked to a purchase; cannot cancelPurchase", t.ID)
	}
	now := e.now()
	text := "Refund approved"
	if external {
		text = "External refund recorded"
	}
	rt := db.refundTxn(t, amt, now, text, mtid)
	if cancelPurchase && pu.Status != purchaseCancelled {
		cancelNow(pu, "Cancelled with refund", now)
	}
	out := refundResult("transactionId", strconv.Itoa(t.ID), amt, t.remaining(), []*txn{rt})
	out["orderId"] = t.OrderID
	return out, nil
}

// latestCharge is the purchase's newest successful SALE with money left.
func (db *dataset) latestCharge(pu *purchase) *txn {
	for i := len(pu.TxnIDs) - 1; i >= 0; i-- {
		if t := db.txns[pu.TxnIDs[i]]; t != nil && t.remaining() > 0 {
			return t
		}
	}
	return nil
}

func (e *Emulator) refundPurchase(p params) (any, error) {
	pu, err := e.findPurchase(p)
	if err != nil {
		return nil, err
	}
	db := e.db
	t := db.latestCharge(pu)
	var refundable int64
	if t != nil {
		refundable = t.remaining()
	}
	amt, err := refundAmount(p, refundable, "Purchase "+strconv.Itoa(pu.ID))
	if err != nil {
		return nil, err
	}
	rt := db.refundTxn(t, amt, e.now(), "Refund approved", "")
	out := refundResult("purchaseId", strconv.Itoa(pu.ID), amt, t.remaining(), []*txn{rt})
	out["orderId"] = t.OrderID
	return out, nil
}

func cancelNow(pu *purchase, reason string, now time.Time) {
	pu.Status = purchaseCancelled
	pu.CancelReason = reason
	pu.Cancelled = now
	pu.NextBill = time.Time{}
	pu.CancelAfterNextBill = false
	pu.Updated = now
}

func cancelAfterNext(pu *purchase, reason string, now time.Time) {
	pu.CancelAfterNextBill = true
	pu.CancelReason = reason
	pu.FinalCycle = pu.Cycle + 1
	pu.Updated = now
}

func cancelReason(p params) (string, error) {
	r := p.get("cancelReason")
	if r == "" {
		r = p.get("reason") // K-mem's name
	}
	if r == "" {
		return "", errf("cancelReason is required")
	}
	if utf8.RuneCountInString(r) > 100 {
		return "", errf("cancelReason is longer than 100 characters")
	}
	return r, nil
}

// cancelParams reads what order/cancel and purchase/cancel share:
// cancelReason, fullRefund and afterNextBill.
func cancelParams(p params) (reason string, full, afterNext bool, err error) {
	if reason, err = cancelReason(p); err != nil {
		return "", false, false, err
	}
	if full, err = parseBool(p, "fullRefund"); err != nil {
		return "", false, false, err
	}
	if afterNext, err = parseBool(p, "afterNextBill"); err != nil {
		return "", false, false, err
	}
	return reason, full, afterNext, nil
}

func (e *Emulator) cancelOrder(p params) (any, error) {
	o, err := e.findOrder(p)
	if err != nil {
		return nil, err
	}
	reason, full, afterNext, err := cancelParams(p)
	if err != nil {
		return nil, err
	}
	if o.Status == statusCancelled {
		return nil, errf("Order %s is already cancelled", o.ID)
	}
	if o.Status == statusDeclined {
		return nil, errf("Order %s was declined and cannot be cancelled", o.ID)
	}
	db, now := e.db, e.now()
	var refunded int64
	if rem := db.paid(o) - o.Refunded; full && rem > 0 {
		db.refundOrder(o, rem, now, "Refund on cancel")
		refunded = rem
	}
	o.Status, o.CancelReason, o.Cancelled, o.Updated = statusCancelled, reason, now, now
	for _, f := range o.Fulfillments {
		if f.Status == fulfilPending {
			f.Status, f.Updated = fulfilCancelled, now
		}
	}
	var purchases []string
	for _, it := range o.Items {
		pu := db.purchases[it.PurchaseID]
		if pu == nil || pu.Status == purchaseCancelled {
			continue
		}
		if afterNext {
			cancelAfterNext(pu, reason, now)
		} else {
			cancelNow(pu, reason, now)
		}
		purchases = append(purchases, strconv.Itoa(pu.ID))
	}
	return map[string]any{"orderId": o.ID, "orderStatus": o.Status, "refundAmount": money(refunded), "purchasesCancelled": purchases}, nil
}

func (e *Emulator) addNote(p params) (any, error) {
	c, err := e.findCustomer(p)
	if err != nil {
		return nil, err
	}
	msg := p.get("message")
	if msg == "" {
		return nil, errf("message is required")
	}
	if utf8.RuneCountInString(msg) > 500 {
		return nil, errf("message is longer than 500 characters")
	}
	now := e.now()
	c.Notes = append(c.Notes, note{ID: e.db.nextNote, Message: msg, Created: now})
	e.db.nextNote++
	c.Updated = now
	return "Note added to customer " + strconv.Itoa(c.ID), nil
}

// customerField describes one customer/update parameter.
type customerField struct {
	name     string
	max      int
	clear    bool // may be blanked with the literal NULL
	set      func(c *customer, v string)
	validate func(name, v string) error
}

func billSetter(f func(a *addr, v string)) func(c *customer, v string) {
	return func(c *customer, v string) { f(&c.Bill, v) }
}

func shipSetter(f func(a *addr, v string)) func(c *customer, v string) {
	return func(c *customer, v string) { f(&c.Ship, v) }
}

func customerFields() []customerField {
	country := func(name, v string) error {
		if len(v) != 2 || strings.ToUpper(v) != v || strings.ContainsAny(v, "0123456789") {
			return errf("Invalid %s %q: use the 2-letter ISO country code, e.g. US", name, v)
		}
		return nil
	}
	email := func(_, v string) error {
		at := strings.Index(v, "@")
		if at < 1 || at == len(v)-1 || strings.ContainsAny(v, " ,;") {
			return errf("Invalid emailAddress %q", v)
		}
		return nil
	}
	addrFields := func(prefix string, set func(func(a *addr, v string)) func(c *customer, v string)) []customerField {
		n := func(s string) string {
			if prefix == "" {
				return s
			}
			return prefix + strings.ToUpper(s[:1]) + s[1:]
		}
		fs := []customerField{
			{name: n("firstName"), max: 30, set: set(func(a *addr, v string) { a.FirstName = v })},
			{name: n("lastName"), max: 30, set: set(func(a *addr, v string) { a.LastName = v })},
			{name: n("companyName"), max: 60, clear: true, set: set(func(a *addr, v string) { a.Company = v })},
			{name: n("address1"), max: 60, set: set(func(a *addr, v string) { a.Address1 = v })},
			{name: n("address2"), max: 60, clear: true, set: set(func(a *addr, v string) { a.Address2 = v })},
			{name: n("city"), max: 30, set: set(func(a *addr, v string) { a.City = v })},
			{name: n("state"), max: 6, set: set(func(a *addr, v string) { a.State = v })},
			{name: n("postalCode"), max: 30, set: set(func(a *addr, v string) { a.PostalCode = v })},
			{name: n("country"), max: 2, validate: country, set: set(func(a *addr, v string) { a.Country = v })},
		}
		return fs
	}
	fs := append(addrFields("", billSetter), addrFields("ship", shipSetter)...)
	fs = append(fs,
		customerField{name: "emailAddress", max: 100, validate: email, set: func(c *customer, v string) { c.Email = strings.ToLower(v) }},
		customerField{name: "phoneNumber", max: 30, set: func(c *customer, v string) { c.Phone = v }},
	)
	for i := 0; i < 5; i++ {
		fs = append(fs, customerField{name: "custom" + strconv.Itoa(i+1), max: 50, clear: true, set: func(c *customer, v string) { c.Custom[i] = v }})
	}
	return fs
}

func (e *Emulator) updateCustomer(p params) (any, error) {
	c, err := e.findCustomer(p)
	if err != nil {
		return nil, err
	}
	type change struct {
		f customerField
		v string
	}
	var changes []change
	for _, f := range customerFields() {
		if !p.has(f.name) {
			continue
		}
		v := p.get(f.name)
		if v == "NULL" {
			if !f.clear {
				return nil, errf("%s cannot be cleared", f.name)
			}
			changes = append(changes, change{f, ""})
			continue
		}
		if f.validate != nil {
			if err := f.validate(f.name, v); err != nil {
				return nil, err
			}
		}
		if utf8.RuneCountInString(v) > f.max {
			return nil, errf("%s is longer than %d characters", f.name, f.max)
		}
		changes = append(changes, change{f, v})
	}
	if len(changes) == 0 {
		return nil, errf("No customer fields to update")
	}
	if p.has("emailAddress") {
		want := strings.ToLower(p.get("emailAddress"))
		for _, o := range e.db.customers {
			if o.ID != c.ID && o.Email == want {
				return nil, errf("emailAddress %s already belongs to customer %d", want, o.ID)
			}
		}
	}
	now := e.now()
	for _, ch := range changes {
		ch.f.set(c, ch.v)
	}
	c.Updated = now
	if !e.cfg.KeepOrderAddresses {
		e.db.propagate(c, now)
	}
	return "Customer " + strconv.Itoa(c.ID) + " updated", nil
}

// propagate copies the customer's contact and addresses to open orders
// (not cancelled, nothing shipped yet) and live purchases; the email goes to
// every order and purchase of the customer (UNCONFIRMED; see
// docs/assumptions/konnektive.md).
func (db *dataset) propagate(c *customer, now time.Time) {
	for _, o := range db.orders {
		if o.CustomerID != c.ID {
			continue
		}
		if o.Email != c.Email {
			o.Email, o.Updated = c.Email, now
		}
		if o.Status == statusCancelled || o.Status == statusDeclined || shippedAny(o) {
			continue
		}
		o.Bill, o.Ship, o.Phone, o.Updated = c.Bill, c.Ship, c.Phone, now
	}
	for _, pu := range db.purchases {
		if pu.CustomerID != c.ID {
			continue
		}
		pu.Email = c.Email
		if pu.Status != purchaseCancelled {
			pu.Bill, pu.Ship, pu.Phone = c.Bill, c.Ship, c.Phone
		}
		pu.Updated = now
	}
}

func shippedAny(o *order) bool {
	for _, f := range o.Fulfillments {
		if f.Status != fulfilPending && f.Status != fulfilCancelled {
			return true
		}
	}
	return false
}

func (e *Emulator) cancelPurchase(p params) (any, error) {
	pu, err := e.findPurchase(p)
	if err != nil {
		return nil, err
	}
	reason, full, afterNext, err := cancelParams(p)
	if err != nil {
		return nil, err
	}
	if pu.Status == purchaseCancelled {
		return nil, errf("Purchase %d is already cancelled", pu.ID)
	}
	db, now := e.db, e.now()
	var refunded int64
	if t := db.latestCharge(pu); full && t != nil {
		refunded = t.remaining()
		db.refundTxn(t, refunded, now, "Refund on cancel", "")
	}
	if afterNext {
		cancelAfterNext(pu, reason, now)
	} else {
		cancelNow(pu, reason, now)
	}
	return map[string]any{"purchaseId": strconv.Itoa(pu.ID), "status": pu.Status, "refundAmount": money(refunded)}, nil
}

func (e *Emulator) updatePurchase(p params) (any, error) {
	pu, err := e.findPurchase(p)
	if err != nil {
		return nil, err
	}
	db, now := e.db, e.now()
	reactivate, err := parseBool(p, "reactivate")
	if err != nil {
		return nil, err
	}
	billNow, err := parseBool(p, "billNow")
	if err != nil {
		return nil, err
	}
	if pu.Status == purchaseCancelled && !reactivate {
		return nil, errf("Purchase %d is cancelled; send reactivate=1 to reactivate it", pu.ID)
	}
	var (
		next                 time.Time
		interval, final, qty int
		price, ship          int64
		hasPrice, hasShip    bool
		prod                 product
	)
	if p.has("nextBillDate") {
		if next, err = parseRequestDate("nextBillDate", p.get("nextBillDate")); err != nil {
			return nil, err
		}
		if !next.After(now) {
			return nil, errf("nextBillDate %s must be after today", p.get("nextBillDate"))
		}
	}
	if p.has("billingIntervalDays") {
		if interval, err = parseInt("billingIntervalDays", p.get("billingIntervalDays"), 1, 365); err != nil {
			return nil, err
		}
	}
	if p.has("finalBillingCycle") {
		if final, err = parseInt("finalBillingCycle", p.get("finalBillingCycle"), pu.Cycle, 1000); err != nil {
			return nil, err
		}
	}
	if p.has("price") {
		if price, err = parseMoney("price", p.get("price")); err != nil {
			return nil, err
		}
		hasPrice = true
	}
	if p.has("shippingPrice") {
		if ship, err = parseMoney("shippingPrice", p.get("shippingPrice")); err != nil {
			return nil, err
		}
		hasShip = true
	}
	if err := checkEnum("status", p.get("status"), purchaseRecycleBilling, purchaseRecycleFailed); err != nil {
		return nil, err
	}
	if p.has("newMerchantId") {
		if _, err := parseInt("newMerchantId", p.get("newMerchantId"), 1, 1<<30); err != nil {
			return nil, err
		}
	}
	if p.has("productId") {
		id, err := parseInt("productId", p.get("productId"), 1, 1<<30)
		if err != nil {
			return nil, err
		}
		if prod = productByID(id); prod.ID == 0 {
			return nil, errf("Invalid productId: product %d could not be found", id)
		}
		if !prod.Sub {
			return nil, errf("Product %d (%s) is not a subscription product", prod.ID, prod.Name)
		}
	}
	if p.has("productQty") {
		if qty, err = parseInt("productQty", p.get("productQty"), 1, 99); err != nil {
			return nil, err
		}
	}
	if len(p.get("variantId")) > 30 {
		return nil, errf("variantId is longer than 30 characters")
	}
	if !reactivate && !billNow && next.IsZero() && interval == 0 && final == 0 && !hasPrice && !hasShip &&
		!p.has("status") && !p.has("newMerchantId") && prod.ID == 0 && qty == 0 && !p.has("variantId") {
		return nil, errf("No purchase fields to update")
	}

	if reactivate && (pu.Status == purchaseCancelled || pu.Status == purchaseHold) {
		pu.Status, pu.CancelReason, pu.Cancelled, pu.CancelAfterNextBill = purchaseActive, "", time.Time{}, false
		if pu.NextBill.IsZero() || !pu.NextBill.After(now) {
			pu.NextBill = dateOnly(now.AddDate(0, 0, pu.IntervalDays))
		}
	}
	if prod.ID != 0 {
		pu.ProductID, pu.SKU, pu.Name = prod.ID, prod.SKU, prod.Name
		if !hasPrice {
			pu.Price = prod.Price
		}
	}
	if p.has("variantId") {
		pu.VariantID = p.get("variantId")
	}
	if qty > 0 {
		pu.Qty = qty
	}
	if hasPrice {
		pu.Price = price
	}
	if hasShip {
		pu.ShipPrice = ship
	}
	if interval > 0 {
		pu.IntervalDays = interval
	}
	if final > 0 {
		pu.FinalCycle = final
	}
	if p.has("status") {
		pu.Status = p.get("status")
	}
	if p.has("newMerchantId") {
		pu.MerchantID, _ = strconv.Atoi(p.get("newMerchantId"))
	}
	if !next.IsZero() {
		pu.NextBill = next
	}
	if billNow {
		c := db.customers[pu.CustomerID]
		db.rebill(c, pu, now, now, false)
		pu.NextBill = dateOnly(now.AddDate(0, 0, pu.IntervalDays))
	}
	pu.Updated = now
	return db.renderPurchase(pu), nil
}

// holdPurchase pauses a purchase (only with Config.HoldEndpoint).
func (e *Emulator) holdPurchase(p params) (any, error) {
	pu, err := e.findPurchase(p)
	if err != nil {
		return nil, err
	}
	now := e.now()
	var resume time.Time
	if p.has("resumeDate") {
		if resume, err = parseRequestDate("resumeDate", p.get("resumeDate")); err != nil {
			return nil, err
		}
		if !resume.After(now) {
			return nil, errf("resumeDate %s must be after today", p.get("resumeDate"))
		}
	}
	if pu.Status != purchaseActive && pu.Status != purchaseTrial {
		return nil, errf("Purchase %d is %s; only ACTIVE or TRIAL purchases can be put on hold", pu.ID, pu.Status)
	}
	pu.Status, pu.NextBill, pu.Updated = purchaseHold, resume, now
	return e.db.renderPurchase(pu), nil
}

func (e *Emulator) updateFulfillment(p params) (any, error) {
	db := e.db
	var targets []*fulfillment
	switch {
	case p.has("fulfillmentId"):
		id, _ := strconv.Atoi(p.get("fulfillmentId"))
		f := db.fulfillments[id]
		if f == nil {
			return nil, errf("Invalid fulfillmentId: fulfillment %s could not be found", p.get("fulfillmentId"))
		}
		targets = []*fulfillment{f}
	case p.has("orderId"):
		o, err := e.findOrder(p)
		if err != nil {
			return nil, err
		}
		for _, f := range o.Fulfillments {
			if f.Status != fulfilCancelled {
				targets = append(targets, f)
			}
		}
		if len(targets) == 0 {
			return nil, errf("Order %s has no open fulfillment", o.ID)
		}
	default:
		return nil, errf("orderId or fulfillmentId is required")
	}
	status := p.get("fulfillmentStatus")
	if status == "" {
		return nil, errf("fulfillmentStatus is required")
	}
	if err := checkEnum("fulfillmentStatus", status, fulfilShipped, fulfilRMA, fulfilReturned, fulfilCancelled); err != nil {
		return nil, err
	}
	var shipped, returned time.Time
	var rmaRefund int64
	var err error
	switch status {
	case fulfilShipped:
		if !p.has("trackingNumber") || !p.has("dateShipped") {
			return nil, errf("trackingNumber and dateShipped are required when fulfillmentStatus is SHIPPED")
		}
		if shipped, err = parseRequestDate("dateShipped", p.get("dateShipped")); err != nil {
			return nil, err
		}
	case fulfilRMA:
		if !p.has("rmaNumber") {
			return nil, errf("rmaNumber is required when fulfillmentStatus is RMA_PENDING")
		}
		if p.has("refundAmount") {
			if rmaRefund, err = parseMoney("refundAmount", p.get("refundAmount")); err != nil {
				return nil, err
			}
		}
	case fulfilReturned:
		returned = e.now()
		if p.has("dateReturned") {
			if returned, err = parseRequestDate("dateReturned", p.get("dateReturned")); err != nil {
				return nil, err
			}
		}
	}
	now := e.now()
	for _, f := range targets {
		f.Status, f.Updated = status, now
		switch status {
		case fulfilShipped:
			f.Tracking, f.Shipped = p.get("trackingNumber"), shipped
		case fulfilRMA:
			f.RMANumber, f.RMARefund = p.get("rmaNumber"), rmaRefund
		case fulfilReturned:
			f.Returned = returned
		}
		if p.has("shipCarrier") {
			f.Carrier = p.get("shipCarrier")
		}
		if p.has("shipMethod") {
			f.Method = p.get("shipMethod")
		}
		if o := db.orders[f.OrderID]; o != nil {
			o.Updated = now
		}
	}
	if len(targets) == 1 {
		return "Fulfillment " + strconv.Itoa(targets[0].ID) + " updated", nil
	}
	return strconv.Itoa(len(targets)) + " fulfillments updated", nil
}
