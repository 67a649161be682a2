package konnektive

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Layouts the emulator renders. Record timestamps use recordLayout in CRM
// local time (emukit.Eastern); nextBillDate uses dateLayout; requests carry
// dates as requestLayout (m/d/Y).
const (
	recordLayout  = "2006-01-02 15:04:05"
	dateLayout    = "2006-01-02"
	requestLayout = "01/02/2006"
)

// Order, purchase, fulfilment and transaction states.
const (
	statusComplete  = "COMPLETE"
	statusPartial   = "PARTIAL"
	statusDeclined  = "DECLINED"
	statusRefunded  = "REFUNDED"
	statusCancelled = "CANCELLED"

	purchaseActive         = "ACTIVE"
	purchaseTrial          = "TRIAL"
	purchaseCancelled      = "CANCELLED"
	purchaseHold           = "HOLD"
	purchaseRecycleBilling = "RECYCLE_BILLING"
	purchaseRecycleFailed  = "RECYCLE_FAILED"

	fulfilPending   = "PENDING"
	fulfilShipped   = "SHIPPED"
	fulfilRMA       = "RMA_PENDING"
	fulfilReturned  = "RETURNED"
	fulfilCancelled = "CANCELLED"

	txnSale   = "SALE"
	txnRefund = "REFUND"

	respSuccess     = "SUCCESS"
	respSoftDecline = "SOFT_DECLINE"
	respHardDecline = "HARD_DECLINE"
)

// product is a catalogue entry; subscribable products create purchases.
type product struct {
	ID    int
	SKU   string
	Name  string
	Price int64 // cents
	Sub   bool
}

// catalogue is the fixed product list (read-only).
func catalogue() []product {
	return []product{
		{101, "GRN-30", "Daily Greens (30 servings)", 3995, true},
		{102, "COL-16", "Collagen Peptides 16oz", 4995, true},
		{103, "VTD-60", "Vitamin D3 Gummies 60ct", 1995, true},
		{104, "SER-NR", "Night Repair Serum", 5900, true},
		{105, "BAR-12", "Protein Bars 12-pack", 2995, true},
		{106, "SHK-01", "Shaker Bottle", 995, false},
		{107, "PCH-01", "Travel Pouch", 1400, false},
		{108, "TEE-BLK-M", "Logo Tee Black M", 2500, false},
	}
}

type campaign struct {
	ID         int
	Name, Type string
}

func campaigns() []campaign {
	return []campaign{{1, "Main Funnel", "LANDER"}, {2, "Subscribe & Save", "CHECKOUT"}, {3, "Phone Sales", "PHONE"}}
}

type addr struct {
	FirstName, LastName, Company, Address1, Address2, City, State, PostalCode, Country string
}

type note struct {
	ID      int
	Message string
	Created time.Time
}

type customer struct {
	ID                    int
	Email, Phone          string
	Bill, Ship            addr
	PaySource, CardType   string
	CardLast4, CardExpiry string
	Campaign              campaign
	Custom                [5]string
	Notes                 []note
	Created, Updated      time.Time
}

type item struct {
	ID         int
	ProductID  int
	SKU, Name  string
	VariantID  string
	Qty        int
	Price      int64 // unit price
	Shipping   int64
	PurchaseID int
}

type fulfillment struct {
	ID                int
	OrderID           string
	Status            string
	Tracking          string
	Carrier, Method   string
	RMANumber         string
	RMARefund         int64
	Shipped, Returned time.Time
	Created, Updated  time.Time
}

type order struct {
	ID            string
	ClientOrderID string
	CustomerID    int
	Status        string
	Type          string
	Email, Phone  string
	Bill, Ship    addr
	Campaign      campaign
	CouponCode    string
	Items         []*item
	Shipping      int64
	Tax           int64
	Discount      int64
	Refunded      int64
	PaySource     string
	CardType      string
	CardLast4     string
	Fulfillments  []*fulfillment
	CancelReason  string
	Cancelled     time.Time
	TxnIDs        []int
	Created       time.Time
	Updated       time.Time
}

func (o *order) subtotal() int64 {
	var s int64
	for _, it := range o.Items {
		s += it.Price * int64(it.Qty)
	}
	return s
}

func (o *order) total() int64 { return o.subtotal() + o.Shipping + o.Tax - o.Discount }

type txn struct {
	ID            int
	OrderID       string
	CustomerID    int
	PurchaseID    int
	Type          string
	Amount        int64
	Refunded      int64
	Response      string
	ResponseText  string
	Merchant      string
	MerchantID    int
	MerchantTxnID string
	Cycle         int
	Recycle       int
	PaySource     string
	CardType      string
	CardLast4     string
	ParentID      int
	Created       time.Time
	Updated       time.Time
}

func (t *txn) remaining() int64 {
	if t.Type != txnSale || t.Response != respSuccess {
		return 0
	}
	return t.Amount - t.Refunded
}

type purchase struct {
	ID                  int
	CustomerID          int
	OrderID             string
	ProductID           int
	SKU, Name           string
	VariantID           string
	Qty                 int
	Price, ShipPrice    int64
	Status              string
	Cycle               int
	IntervalDays        int
	FinalCycle          int
	NextBill            time.Time
	Email, Phone        string
	Bill, Ship          addr
	CancelReason        string
	Cancelled           time.Time
	CancelAfterNextBill bool
	MerchantID          int
	TxnIDs              []int
	Created, Updated    time.Time
}

// ---- rendering (numbers as strings, as Konnektive does) ----

func money(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

func itoa(i int) string { return strconv.Itoa(i) }

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(recordLayout)
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(dateLayout)
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func putAddr(m map[string]any, prefix string, a addr) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + string(k[0]-'a'+'A') + k[1:]
	}
	m[key("firstName")] = a.FirstName
	m[key("lastName")] = a.LastName
	m[key("companyName")] = a.Company
	m[key("address1")] = a.Address1
	m[key("address2")] = a.Address2
	m[key("city")] = a.City
	m[key("state")] = a.State
	m[key("postalCode")] = a.PostalCode
	m[key("country")] = a.Country
}

func (c *customer) render() map[string]any {
	m := map[string]any{
		"customerId":     itoa(c.ID),
		"emailAddress":   c.Email,
		"phoneNumber":    c.Phone,
		"paySource":      c.PaySource,
		"cardType":       c.CardType,
		"cardLast4":      c.CardLast4,
		"cardExpiryDate": c.CardExpiry,
		"campaignId":     itoa(c.Campaign.ID),
		"campaignName":   c.Campaign.Name,
		"campaignType":   c.Campaign.Type,
		"dateCreated":    ts(c.Created),
		"dateUpdated":    ts(c.Updated),
	}
	putAddr(m, "", c.Bill)
	putAddr(m, "ship", c.Ship)
	for i, v := range c.Custom {
		m["custom"+itoa(i+1)] = v
	}
	notes := make([]map[string]any, 0, len(c.Notes))
	for _, n := range c.Notes {
		notes = append(notes, map[string]any{"noteId": itoa(n.ID), "message": n.Message, "dateCreated": ts(n.Created)})
	}
	m["notes"] = notes
	return m
}

func (f *fulfillment) render() map[string]any {
	m := map[string]any{
		"fulfillmentId":  itoa(f.ID),
		"orderId":        f.OrderID,
		"status":         f.Status,
		"trackingNumber": f.Tracking,
		"shipCarrier":    f.Carrier,
		"shipMethod":     f.Method,
		"dateShipped":    ts(f.Shipped),
		"dateReturned":   ts(f.Returned),
		"rmaNumber":      f.RMANumber,
		"dateCreated":    ts(f.Created),
		"dateUpdated":    ts(f.Updated),
	}
	if f.RMARefund != 0 {
		m["refundAmount"] = money(f.RMARefund)
	}
	return m
}

func (db *dataset) paid(o *order) int64 {
	var p int64
	for _, id := range o.TxnIDs {
		if t := db.txns[id]; t != nil && t.Type == txnSale && t.Response == respSuccess {
			p += t.Amount
		}
	}
	return p
}

func (db *dataset) renderOrder(o *order) map[string]any {
	paid := db.paid(o)
	m := map[string]any{
		"orderId":         o.ID,
		"clientOrderId":   o.ClientOrderID,
		"customerId":      itoa(o.CustomerID),
		"orderStatus":     o.Status,
		"orderType":       o.Type,
		"emailAddress":    o.Email,
		"phoneNumber":     o.Phone,
		"campaignId":      itoa(o.Campaign.ID),
		"campaignName":    o.Campaign.Name,
		"couponCode":      o.CouponCode,
		"price":           money(o.subtotal()),
		"baseShipping":    money(o.Shipping),
		"salesTax":        money(o.Tax),
		"totalDiscount":   money(o.Discount),
		"totalAmount":     money(o.total()),
		"amountPaid":      money(paid),
		"amountRefunded":  money(o.Refunded),
		"refundRemaining": money(paid - o.Refunded),
		"currencySymbol":  "$",
		"currencyCode":    "USD",
		"paySource":       o.PaySource,
		"cardType":        o.CardType,
		"cardLast4":       o.CardLast4,
		"cancelReason":    o.CancelReason,
		"dateCancelled":   ts(o.Cancelled),
		"dateCreated":     ts(o.Created),
		"dateUpdated":     ts(o.Updated),
	}
	putAddr(m, "", o.Bill)
	putAddr(m, "ship", o.Ship)
	items := map[string]any{}
	for _, it := range o.Items {
		im := map[string]any{
			"orderItemId":        itoa(it.ID),
			"productId":          itoa(it.ProductID),
			"productSku":         it.SKU,
			"name":               it.Name,
			"productDescription": it.Name,
			"qty":                itoa(it.Qty),
			"price":              money(it.Price),
			"shipping":           money(it.Shipping),
			"variantId":          it.VariantID,
		}
		if it.PurchaseID != 0 {
			im["purchaseId"] = itoa(it.PurchaseID)
		}
		items[itoa(it.ID)] = im
	}
	m["items"] = items
	fs := make([]map[string]any, 0, len(o.Fulfillments))
	for _, f := range o.Fulfillments {
		fs = append(fs, f.render())
	}
	m["fulfillments"] = fs
	return m
}

func (t *txn) render() map[string]any {
	m := map[string]any{
		"transactionId":        itoa(t.ID),
		"orderId":              t.OrderID,
		"customerId":           itoa(t.CustomerID),
		"txnType":              t.Type,
		"totalAmount":          money(t.Amount),
		"amountRefunded":       money(t.Refunded),
		"refundRemaining":      money(t.remaining()),
		"responseType":         t.Response,
		"responseText":         t.ResponseText,
		"merchant":             t.Merchant,
		"merchantId":           itoa(t.MerchantID),
		"merchantTxnId":        t.MerchantTxnID,
		"billingCycleNumber":   itoa(t.Cycle),
		"recycleNumber":        itoa(t.Recycle),
		"paySource":            t.PaySource,
		"cardType":             t.CardType,
		"cardLast4":            t.CardLast4,
		"isChargedback":        "0",
		"chargebackAmount":     "0.00",
		"chargebackDate":       "",
		"chargebackReasonCode": "",
		"chargebackNote":       "",
		"currencySymbol":       "$",
		"txnDate":              ts(t.Created),
		"dateCreated":          ts(t.Created),
		"dateUpdated":          ts(t.Updated),
	}
	if t.PurchaseID != 0 {
		m["purchaseId"] = itoa(t.PurchaseID)
	} else {
		m["purchaseId"] = ""
	}
	if t.ParentID != 0 {
		m["parentTransactionId"] = itoa(t.ParentID)
	}
	return m
}

func (db *dataset) renderPurchase(p *purchase) map[string]any {
	var billed int64
	txns := make([]map[string]any, 0, len(p.TxnIDs))
	for _, id := range p.TxnIDs {
		t := db.txns[id]
		if t == nil {
			continue
		}
		if t.Type == txnSale && t.Response == respSuccess {
			billed += t.Amount
		}
		txns = append(txns, t.render())
	}
	m := map[string]any{
		"purchaseId":          itoa(p.ID),
		"customerId":          itoa(p.CustomerID),
		"orderId":             p.OrderID,
		"productId":           itoa(p.ProductID),
		"productSku":          p.SKU,
		"productName":         p.Name,
		"variantId":           p.VariantID,
		"productQty":          itoa(p.Qty),
		"price":               money(p.Price),
		"shippingPrice":       money(p.ShipPrice),
		"status":              p.Status,
		"billingCycleType":    "RECURRING",
		"billingCycleNumber":  itoa(p.Cycle),
		"billingIntervalDays": itoa(p.IntervalDays),
		"finalBillingCycle":   "",
		"nextBillDate":        day(p.NextBill),
		"totalBilled":         money(billed),
		"emailAddress":        p.Email,
		"phoneNumber":         p.Phone,
		"cancelReason":        p.CancelReason,
		"dateCancelled":       ts(p.Cancelled),
		"cancelAfterNextBill": boolStr(p.CancelAfterNextBill),
		"merchantId":          itoa(p.MerchantID),
		"dateCreated":         ts(p.Created),
		"dateUpdated":         ts(p.Updated),
		"transactions":        txns,
	}
	if p.FinalCycle > 0 {
		m["finalBillingCycle"] = itoa(p.FinalCycle)
	}
	putAddr(m, "", p.Bill)
	putAddr(m, "ship", p.Ship)
	return m
}

// dataset is the CRM's content. All access is under Emulator.mu.
type dataset struct {
	customers    map[int]*customer
	orders       map[string]*order
	purchases    map[int]*purchase
	txns         map[int]*txn
	fulfillments map[int]*fulfillment

	nextCustomer, nextItem, nextTxn, nextFulfil, nextPurchase, nextNote int
	orderSeq                                                            uint64
	seed                                                                uint64
}

func newDataset(seed uint64) *dataset {
	return &dataset{
		customers: map[int]*customer{}, orders: map[string]*order{}, purchases: map[int]*purchase{},
		txns: map[int]*txn{}, fulfillments: map[int]*fulfillment{},
		nextCustomer: 1001, nextItem: 9001, nextTxn: 70001, nextFulfil: 5001, nextPurchase: 3001, nextNote: 1,
		seed: seed,
	}
}

// newOrderID returns a deterministic, unique 10-character upper-case hex id.
func (db *dataset) newOrderID() string {
	for {
		db.orderSeq++
		x := mix64(db.seed ^ (db.orderSeq * 0x9e3779b97f4a7c15))
		id := fmt.Sprintf("%010X", x&0xFFFFFFFFFF)
		if _, dup := db.orders[id]; !dup {
			return id
		}
	}
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func sortedCustomers(db *dataset) []*customer {
	out := make([]*customer, 0, len(db.customers))
	for _, c := range db.customers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
