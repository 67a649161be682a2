package whiplash

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Status codes of the V2 order entity (reference B4).
const (
	StatusShippedExternally   = 30
	StatusQuote               = 35
	StatusCancelled           = 40
	StatusClosedByOriginator  = 45
	StatusUnpaid              = 50
	StatusPendingReturn       = 75
	StatusReturnVerified      = 77
	StatusPreOrder            = 80
	StatusPaused              = 90
	StatusInsufficientInv     = 95
	StatusProcessing          = 100
	StatusPrinted             = 120
	StatusPendingPickConfirm  = 140
	StatusPicked              = 150
	StatusPrepacking          = 155
	StatusPacked              = 160
	StatusLabelScheduled      = 200
	StatusLabelPurchased      = 250
	StatusShipped             = 300
	StatusPickedUp            = 325
	StatusDelivered           = 350
	StatusReturnExpired       = 375
	StatusReplacementCanceled = 380
	StatusReturnedUndeliv     = 400
	StatusReplacementRequest  = 410
	StatusExchanged           = 430
	StatusRefundRequested     = 450
)

// statusNames maps every V2 status code to its display name.
var statusNames = map[int]string{
	30: "Shipped Externally", 35: "Quote", 40: "Cancelled", 45: "Closed by Originator", 50: "Unpaid",
	75: "Pending Return", 77: "Return Verified", 80: "Pre-Order", 90: "Paused", 95: "Insufficient Inventory",
	100: "Processing", 120: "Printed", 140: "Pending Pick Confirmation", 150: "Picked", 155: "Prepacking in Progress",
	160: "Packed", 200: "Label Scheduled for Purchase", 250: "Label Purchased", 300: "Shipped", 325: "Picked Up",
	350: "Delivered", 375: "Return Expired", 380: "Replacement Cancelled", 400: "Returned Undeliverable",
	410: "Replacement Requested", 430: "Exchanged", 450: "Refund Requested",
}

// StatusName returns the V2 display name of a status code ("" when unknown).
func StatusName(code int) string { return statusNames[code] }

// Eastern time: Whiplash renders timestamps in US Eastern with the offset
// of the day (-04:00 in summer, -05:00 in winter).
var (
	edt = emukit.Eastern
	est = time.FixedZone("EST", -5*3600)
)

// inEastern returns t in US Eastern time (US DST rules since 2007), computed
// without tzdata so fixtures are the same on every machine.
func inEastern(t time.Time) time.Time {
	y := t.UTC().Year()
	start := nthSunday(y, time.March, 2).Add(7 * time.Hour)  // 02:00 EST
	end := nthSunday(y, time.November, 1).Add(6 * time.Hour) // 02:00 EDT
	if !t.Before(start) && t.Before(end) {
		return t.In(edt)
	}
	return t.In(est)
}

func nthSunday(y int, m time.Month, n int) time.Time {
	d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7*(n-1))
}

// stamp normalises a timestamp as Whiplash renders it: Eastern, whole seconds.
func stamp(t time.Time) Time { return Time{Time: inEastern(t.Truncate(time.Second))} }

// step is one planned status of an order's lifecycle.
type step struct {
	status int
	at     time.Time
}

// plan is an order's generated lifecycle: its first step is the creation.
type plan struct {
	steps   []step
	tracked bool // shipping assigns tracking numbers
	split   bool // shipped in two packages
}

// planLifecycle draws a realistic lifecycle starting at created: created
// (usually Processing, sometimes on hold first), printed, picked, packed,
// label purchased, shipped, delivered; about 8 % are cancelled on the way.
func planLifecycle(r *rand.Rand, created time.Time) plan {
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo))) }
	p := plan{tracked: r.Float64() >= 0.1, split: r.Float64() < 0.15}
	t := created
	switch x := r.Float64(); {
	case x < 0.05:
		p.steps = append(p.steps, step{StatusInsufficientInv, t})
		t = t.Add(between(time.Hour, 8*time.Hour))
		p.steps = append(p.steps, step{StatusProcessing, t})
	case x < 0.08:
		p.steps = append(p.steps, step{StatusPaused, t})
		t = t.Add(between(30*time.Minute, 6*time.Hour))
		p.steps = append(p.steps, step{StatusProcessing, t})
	default:
		p.steps = append(p.steps, step{StatusProcessing, t})
	}
	cancelBefore := -1
	if r.Float64() < 0.08 {
		cancelBefore = r.IntN(5) // before one of the first five warehouse steps
	}
	next := []struct {
		status int
		lo, hi time.Duration
	}{
		{StatusPrinted, 10 * time.Minute, 3 * time.Hour},
		{StatusPicked, 5 * time.Minute, 90 * time.Minute},
		{StatusPacked, 5 * time.Minute, 45 * time.Minute},
		{StatusLabelPurchased, 2 * time.Minute, 30 * time.Minute},
		{StatusShipped, 10 * time.Minute, 4 * time.Hour},
		{StatusDelivered, 18 * time.Hour, 96 * time.Hour},
	}
	for i, n := range next {
		if i == cancelBefore {
			t = t.Add(between(10*time.Minute, 6*time.Hour))
			p.steps = append(p.steps, step{StatusCancelled, t})
			break
		}
		t = t.Add(between(n.lo, n.hi))
		p.steps = append(p.steps, step{n.status, t})
	}
	return p
}

var shipMethods = []struct {
	carrier, service, name, scac, text string
}{
	{"USPS", "Priority", "USPS Priority Mail", "USPS", "Standard Shipping"},
	{"USPS", "First Class", "USPS First Class Package", "USPS", "Economy"},
	{"UPS", "Ground", "UPS Ground", "UPSN", "Standard Shipping"},
	{"FedEx", "Home Delivery", "FedEx Home Delivery", "FDEG", "Standard Shipping"},
	{"UPS", "2nd Day Air", "UPS 2nd Day Air", "UPSN", "Express"},
}

// ids hands out the emulator's sequential ids.
type ids struct {
	order, item, pkg, originator int64
}

func newIDs() ids { return ids{order: 1000, item: 5000, pkg: 9000, originator: 700} }

// newOrder builds a fresh order (status and times are set by the caller
// through applyStatus). Every stringEvery-th order id (0: none) renders its
// ids as JSON strings.
func newOrder(f *emukit.Fake, id *ids, stringEvery, customerID, shopID int64, shopDomain string, created time.Time) *Order {
	id.order++
	id.originator++
	p := f.Person(int(id.order))
	sm := shipMethods[f.R.IntN(len(shipMethods))]
	original := fmt.Sprintf("%d", 5_100_000_000+f.R.Int64N(900_000_000))
	c := stamp(created)
	o := &Order{
		stringIDs:         stringEvery > 0 && id.order%stringEvery == 0,
		ID:                Int(id.order),
		HumanizeID:        fmt.Sprintf("#%d", 1000+id.order),
		CustomerID:        Int(customerID),
		ShopID:            Int(shopID),
		OrderOrig:         fmt.Sprintf("#%d", 1000+f.R.IntN(90000)),
		ProtoOriginatorID: original,
		Originator: &Originator{
			ID: Int(id.originator), Provider: "shopify", OriginalID: original,
			ShopID: Int(shopID), ShopDomain: shopDomain,
		},
		Email:     p.Email,
		FirstName: p.FirstName, LastName: p.LastName, FullName: p.FullName(),
		ShippingName: p.FullName(), ShippingCompany: p.Company,
		ShippingAddress1: p.Address1, ShippingAddress2: p.Address2,
		ShippingCity: p.City, ShippingState: p.State, ShippingZip: p.Zip,
		ShippingCountry: p.Country, ShippingCountryISO2: p.Country, ShippingPhone: p.Phone,
		BillingName: p.FullName(), BillingCompany: p.Company,
		BillingAddress1: p.Address1, BillingAddress2: p.Address2,
		BillingCity: p.City, BillingState: p.State, BillingZip: p.Zip,
		BillingCountry: p.Country, BillingPhone: p.Phone,
		ShopShippingMethodText: sm.text,
		ShipMethod:             sm.name,
		ShippingMethod: &ShippingMethod{
			ID: Int(40 + f.R.IntN(5)), Carrier: sm.carrier, Service: sm.service, Name: sm.name, SCAC: sm.scac,
		},
		RequireSignature:           f.R.IntN(10) == 0,
		RequireAdultSignature:      f.R.IntN(50) == 0,
		CreatedAt:                  c,
		UpdatedAt:                  c,
		ShopCreatedAt:              stamp(created.Add(-time.Duration(1+f.R.IntN(300)) * time.Second)),
		Tracking:                   []string{},
		TrackingLinks:              []string{},
		Packages:                   []Package{},
		OrderType:                  "direct_to_consumer",
		Gift:                       f.R.IntN(20) == 0,
		Expedited:                  sm.text == "Express",
		ShopShippingMethodPrice:    fmt.Sprintf("%d.%02d", 4+f.R.IntN(12), f.R.IntN(100)),
		ShopShippingMethodCurrency: "USD",
		Residential:                p.Company == "",
		MetaData:                   "{}",
	}
	o.ShopUpdatedAt = o.ShopCreatedAt
	n := 1 + f.R.IntN(3)
	for range n {
		id.item++
		sku, name := f.Product()
		o.OrderItems = append(o.OrderItems, OrderItem{
			ID: Int(id.item), OrderID: o.ID, SKU: sku, Description: name, Currency: "USD",
			Quantity: Int(1 + f.R.IntN(3)),
			Price:    fmt.Sprintf("%d.%02d", 12+f.R.IntN(60), []int{0, 50, 99}[f.R.IntN(3)]),
		})
	}
	return o
}

// trackingNumber draws a carrier-shaped tracking number and its link.
func trackingNumber(r *rand.Rand, carrier string) (num, link string) {
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	switch carrier {
	case "UPS":
		const an = "0123456789ABCDEFGHJKLMNPRSTVWXYZ"
		var b strings.Builder
		b.WriteString("1Z")
		for range 16 {
			b.WriteByte(an[r.IntN(len(an))])
		}
		num = b.String()
		return num, "https://www.ups.com/track?tracknum=" + num
	case "FedEx":
		num = digits(12)
		return num, "https://www.fedex.com/fedextrack/?trknbr=" + num
	default:
		num = "9400" + digits(18)
		return num, "https://tools.usps.com/go/TrackConfirmAction?tLabels=" + num
	}
}

// applyStatus returns a copy of o moved to status at time at (copy on
// write: published orders are never mutated, so readers can marshal them
// without the lock). Shipping fills shipped_on, packages and, when tracked,
// tracking numbers and links.
func applyStatus(o *Order, status int, at time.Time, r *rand.Rand, id *ids, tracked, split bool) *Order {
	c := *o
	setStatus(&c, status, at, r, id, tracked, split)
	return &c
}

// setStatus is applyStatus in place, for orders not yet published.
func setStatus(o *Order, status int, at time.Time, r *rand.Rand, id *ids, tracked, split bool) {
	ts := stamp(at)
	if o.Status != 0 {
		o.PreviousStatus = o.Status
		if !ts.After(o.UpdatedAt.Time) { // updated_at only moves forward
			ts = Time{Time: o.UpdatedAt.Add(time.Second)}
		}
	}
	o.Status = Int(status)
	o.StatusName = StatusName(status)
	o.UpdatedAt = ts
	c := o
	if status == StatusShipped && len(o.Packages) == 0 {
		c.ShippedOn = ts
		c.ApproximateDeliveryDate = inEastern(at.Add(72 * time.Hour)).Format("2006-01-02")
		carrier := ""
		if c.ShippingMethod != nil {
			carrier = c.ShippingMethod.Carrier
		}
		groups := [][]Int{nil}
		for _, it := range o.OrderItems {
			groups[0] = append(groups[0], it.ID)
		}
		if split && len(o.OrderItems) > 1 {
			groups = [][]Int{groups[0][:1], groups[0][1:]}
		}
		c.Tracking, c.TrackingLinks, c.Packages = []string{}, []string{}, nil
		for _, g := range groups {
			id.pkg++
			p := Package{ID: Int(id.pkg), OrderID: o.ID, ShippedOn: ts, OrderItemIDs: g}
			if tracked {
				num, link := trackingNumber(r, carrier)
				p.Tracking, p.TrackingLink = &num, &link
				c.Tracking = append(c.Tracking, num)
				c.TrackingLinks = append(c.TrackingLinks, link)
			}
			c.Packages = append(c.Packages, p)
		}
	}
}
