package konnektive

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

const merchantName, merchantID = "Test Gateway", 3

// generate builds the fixture CRM: customers (the first ones get emails),
// their orders with items, SALE transactions, fulfilments with tracking,
// subscriptions (purchases) with rebill orders, a few declines and refunds.
// The result depends only on seed, the counts and now (the anchor).
func generate(seed uint64, customers int, emails []string, now time.Time) *dataset {
	db := newDataset(seed)
	f := emukit.NewFake(seed)
	r := f.R
	anchor := now.In(emukit.Eastern).Truncate(time.Second)
	cat := catalogue()
	camps := campaigns()
	cards := []string{"VISA", "MASTERCARD", "AMEX", "DISCOVER"}
	if customers < len(emails) {
		customers = len(emails)
	}
	for i := 0; i < customers; i++ {
		p := f.Person(i + 1)
		email := strings.ToLower(p.Email)
		if i < len(emails) {
			email = strings.ToLower(strings.TrimSpace(emails[i]))
		}
		created := f.Time(anchor.Add(-365*24*time.Hour), 355*24*time.Hour, emukit.Eastern)
		bill := addr{p.FirstName, p.LastName, p.Company, p.Address1, p.Address2, p.City, p.State, p.Zip, "US"}
		ship := bill
		if r.IntN(4) == 0 {
			q := f.Person(100000 + i)
			ship = addr{p.FirstName, p.LastName, "", q.Address1, q.Address2, q.City, q.State, q.Zip, "US"}
		}
		c := &customer{
			ID: db.nextCustomer, Email: email, Phone: p.Phone, Bill: bill, Ship: ship,
			PaySource: "CREDITCARD", CardType: cards[r.IntN(len(cards))],
			CardLast4: fmt.Sprintf("%04d", r.IntN(10000)), CardExpiry: fmt.Sprintf("%02d/%02d", 1+r.IntN(12), (anchor.Year()+1+r.IntN(4))%100),
			Campaign: camps[r.IntN(len(camps))], Created: created, Updated: created,
		}
		db.nextCustomer++
		db.customers[c.ID] = c
		if r.IntN(5) == 0 {
			c.Notes = append(c.Notes, note{ID: db.nextNote, Message: "Prefers contact by email.", Created: created.Add(time.Hour)})
			db.nextNote++
		}

		n := 1 + r.IntN(3)
		times := make([]time.Time, n)
		for k := range times {
			times[k] = f.Time(created, anchor.Sub(created), emukit.Eastern)
		}
		sort.Slice(times, func(a, b int) bool { return times[a].Before(times[b]) })
		for _, at := range times {
			lines := 1 + r.IntN(3)
			var its []*item
			seen := map[int]bool{}
			for l := 0; l < lines; l++ {
				pr := cat[r.IntN(len(cat))]
				if seen[pr.ID] {
					continue
				}
				seen[pr.ID] = true
				its = append(its, &item{ProductID: pr.ID, SKU: pr.SKU, Name: pr.Name, Qty: 1 + r.IntN(2)*r.IntN(2), Price: pr.Price})
			}
			declined := r.IntN(100) < 6
			o := db.placeOrder(c, at, its, "NEW_SALE", declined, r.IntN(2) == 0, anchor, r.IntN(10) == 0)
			if declined {
				continue
			}
			// Refund history on a few orders.
			switch x := r.IntN(100); {
			case x < 3:
				db.refundOrder(o, db.paid(o)-o.Refunded, at.Add(72*time.Hour), "Refund approved")
			case x < 8:
				db.refundOrder(o, min(500, db.paid(o)), at.Add(48*time.Hour), "Refund approved")
			}
			// A subscription on one subscribable item.
			for _, it := range its {
				pr := productByID(it.ProductID)
				if !pr.Sub || r.IntN(100) >= 45 {
					continue
				}
				db.subscribe(c, o, it, at, anchor, []int{30, 30, 30, 60, 90}[r.IntN(5)], r.IntN(100), r.IntN(4)+1)
				break
			}
		}
	}
	return db
}

func productByID(id int) product {
	for _, p := range catalogue() {
		if p.ID == id {
			return p
		}
	}
	return product{}
}

// placeOrder creates an order with its SALE transaction and fulfilment.
func (db *dataset) placeOrder(c *customer, at time.Time, its []*item, typ string, declined, freeShip bool, anchor time.Time, coupon bool) *order {
	o := &order{
		ID: db.newOrderID(), CustomerID: c.ID, Status: statusComplete, Type: typ,
		Email: c.Email, Phone: c.Phone, Bill: c.Bill, Ship: c.Ship, Campaign: c.Campaign,
		PaySource: c.PaySource, CardType: c.CardType, CardLast4: c.CardLast4,
		Items: its, Created: at, Updated: at,
	}
	for _, it := range its {
		it.ID = db.nextItem
		db.nextItem++
	}
	if !freeShip {
		o.Shipping = 595
	}
	if coupon {
		o.CouponCode = "SAVE10"
		o.Discount = o.subtotal() / 10
	}
	o.Tax = (o.subtotal() - o.Discount) * 7 / 100
	db.orders[o.ID] = o
	t := &txn{
		ID: db.nextTxn, OrderID: o.ID, CustomerID: c.ID, Type: txnSale, Amount: o.total(),
		Response: respSuccess, ResponseText: "Approved", Merchant: merchantName, MerchantID: merchantID,
		Cycle: 1, PaySource: o.PaySource, CardType: o.CardType, CardLast4: o.CardLast4, Created: at, Updated: at,
	}
	db.nextTxn++
	t.MerchantTxnID = fmt.Sprintf("ch_%012x", mix64(db.seed^uint64(t.ID))&0xffffffffffff)
	if declined {
		o.Status = statusDeclined
		t.Response, t.ResponseText = respSoftDecline, "Insufficient funds"
		if t.ID%2 == 0 {
			t.Response, t.ResponseText = respHardDecline, "Do not honor"
		}
	}
	db.txns[t.ID] = t
	o.TxnIDs = append(o.TxnIDs, t.ID)
	if declined {
		return o
	}
	fl := &fulfillment{ID: db.nextFulfil, OrderID: o.ID, Status: fulfilPending, Created: at, Updated: at}
	db.nextFulfil++
	if at.Before(anchor.Add(-48 * time.Hour)) {
		fl.Status = fulfilShipped
		fl.Shipped = at.Add(26 * time.Hour)
		fl.Updated = fl.Shipped
		h := mix64(db.seed ^ uint64(fl.ID)*0x2545F4914F6CDD1D)
		switch h % 3 {
		case 0:
			fl.Carrier, fl.Method, fl.Tracking = "USPS", "Priority Mail", fmt.Sprintf("9400%018d", h%1e18)
		case 1:
			fl.Carrier, fl.Method, fl.Tracking = "UPS", "Ground", fmt.Sprintf("1Z%06XA%09d", (h>>20)&0xFFFFFF, h%1e9)
		default:
			fl.Carrier, fl.Method, fl.Tracking = "FedEx", "Home Delivery", fmt.Sprintf("%012d", h%1e12)
		}
	}
	db.fulfillments[fl.ID] = fl
	o.Fulfillments = append(o.Fulfillments, fl)
	return o
}

// subscribe creates a purchase for it (bought on o at at) and its rebill
// orders up to anchor. roll decides TRIAL/CANCELLED; cancelCycle is the
// cycle after which a cancelled subscription stopped.
func (db *dataset) subscribe(c *customer, o *order, it *item, at, anchor time.Time, interval, roll, cancelCycle int) *purchase {
	p := &purchase{
		ID: db.nextPurchase, CustomerID: c.ID, OrderID: o.ID, ProductID: it.ProductID, SKU: it.SKU, Name: it.Name,
		Qty: it.Qty, Price: it.Price, ShipPrice: 0, Status: purchaseActive, Cycle: 1, IntervalDays: interval,
		Email: c.Email, Phone: c.Phone, Bill: c.Bill, Ship: c.Ship, MerchantID: merchantID, Created: at, Updated: at,
	}
	db.nextPurchase++
	db.purchases[p.ID] = p
	it.PurchaseID = p.ID
	p.TxnIDs = append(p.TxnIDs, o.TxnIDs...)
	for _, id := range o.TxnIDs {
		db.txns[id].PurchaseID = p.ID
	}
	cancelled := roll < 15
	next := at.AddDate(0, 0, interval)
	last := at
	for !next.After(anchor) {
		if cancelled && p.Cycle >= cancelCycle {
			break
		}
		db.rebill(c, p, next, anchor, (p.ID+p.Cycle)%13 == 0)
		last = next
		next = next.AddDate(0, 0, interval)
	}
	switch {
	case cancelled && next.Before(anchor):
		p.Status = purchaseCancelled
		p.CancelReason = "Customer request"
		p.Cancelled = last.Add(72 * time.Hour)
		if p.Cancelled.After(anchor) {
			p.Cancelled = anchor.Add(-time.Hour)
		}
		p.Updated = p.Cancelled
	default:
		p.NextBill = dateOnly(next)
		if p.Cycle == 1 && roll >= 85 {
			p.Status = purchaseTrial
		}
	}
	return p
}

// rebill charges the next cycle of p at at: a RECURRING order with one item.
func (db *dataset) rebill(c *customer, p *purchase, at, anchor time.Time, declined bool) *order {
	it := &item{ProductID: p.ProductID, SKU: p.SKU, Name: p.Name, VariantID: p.VariantID, Qty: p.Qty, Price: p.Price, PurchaseID: p.ID}
	o := db.placeOrder(c, at, []*item{it}, "RECURRING", declined, true, anchor, false)
	o.Email, o.Phone, o.Bill, o.Ship = p.Email, p.Phone, p.Bill, p.Ship
	o.Shipping = p.ShipPrice
	p.Cycle++
	for _, id := range o.TxnIDs {
		t := db.txns[id]
		t.PurchaseID = p.ID
		t.Cycle = p.Cycle
		t.Amount = o.total()
	}
	p.TxnIDs = append(p.TxnIDs, o.TxnIDs...)
	p.Updated = at
	return o
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// refundOrder refunds amount from the order's successful sales, newest
// first, and returns the REFUND transactions. The caller has validated
// amount against the refundable remainder.
func (db *dataset) refundOrder(o *order, amount int64, at time.Time, text string) []*txn {
	var out []*txn
	for i := len(o.TxnIDs) - 1; i >= 0 && amount > 0; i-- {
		t := db.txns[o.TxnIDs[i]]
		if rem := t.remaining(); rem > 0 {
			a := min(rem, amount)
			out = append(out, db.refundTxn(t, a, at, text, ""))
			amount -= a
		}
	}
	return out
}

// refundTxn records a REFUND of amount against the SALE t.
func (db *dataset) refundTxn(t *txn, amount int64, at time.Time, text, merchantTxnID string) *txn {
	t.Refunded += amount
	t.Updated = at
	rt := &txn{
		ID: db.nextTxn, OrderID: t.OrderID, CustomerID: t.CustomerID, PurchaseID: t.PurchaseID, Type: txnRefund,
		Amount: amount, Response: respSuccess, ResponseText: text, Merchant: t.Merchant, MerchantID: t.MerchantID,
		MerchantTxnID: merchantTxnID, Cycle: t.Cycle, PaySource: t.PaySource, CardType: t.CardType, CardLast4: t.CardLast4,
		ParentID: t.ID, Created: at, Updated: at,
	}
	db.nextTxn++
	if rt.MerchantTxnID == "" {
		rt.MerchantTxnID = fmt.Sprintf("re_%012x", mix64(db.seed^uint64(rt.ID))&0xffffffffffff)
	}
	db.txns[rt.ID] = rt
	if o := db.orders[t.OrderID]; o != nil {
		o.TxnIDs = append(o.TxnIDs, rt.ID)
		o.Refunded += amount
		o.Updated = at
		if db.paid(o)-o.Refunded <= 0 && o.Status != statusCancelled {
			o.Status = statusRefunded
		}
	}
	if p := db.purchases[t.PurchaseID]; p != nil {
		p.TxnIDs = append(p.TxnIDs, rt.ID)
		p.Updated = at
	}
	return rt
}
