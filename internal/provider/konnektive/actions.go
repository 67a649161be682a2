package konnektive

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ActionResult is the message of a SUCCESS envelope from an action. Its
// shape is UNCONFIRMED (a string or a small object), so both are kept.
type ActionResult struct {
	// Message is the message rendered as text.
	Message string
	// Data is the raw message value.
	Data json.RawMessage
}

func result(env Envelope) *ActionResult {
	return &ActionResult{Message: env.Text(), Data: env.Message}
}

func flag(v url.Values, k string, b bool) {
	if b {
		v.Set(k, "1")
	} else {
		v.Set(k, "0")
	}
}

func (c *Client) act(ctx context.Context, path string, v url.Values) (*ActionResult, error) {
	env, err := c.call(ctx, op{path: path}, v)
	if err != nil {
		return nil, err
	}
	return result(env), nil
}

func required(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return errInvalid("%s is required", name)
	}
	return nil
}

func maxLen(name, v string, n int) error {
	if utf8.RuneCountInString(v) > n {
		return errInvalid("%s is longer than %d characters", name, n)
	}
	return nil
}

func refundParams(v url.Values, full bool, amount Money) error {
	switch {
	case full:
		flag(v, "fullRefund", true)
		if amount > 0 {
			v.Set("refundAmount", amount.String())
		}
	case amount <= 0:
		return errInvalid("refund amount must be greater than 0 (or ask for a full refund)")
	default:
		flag(v, "fullRefund", false)
		v.Set("refundAmount", amount.String())
	}
	return nil
}

// RefundOrderParams refund an order in full or in part.
type RefundOrderParams struct {
	OrderID string
	// Full refunds everything still refundable; otherwise Amount.
	Full   bool
	Amount Money
}

// RefundOrder calls order/refund (macros "Full Refund" and "Partial Refund").
func (c *Client) RefundOrder(ctx context.Context, p RefundOrderParams) (*ActionResult, error) {
	if err := required("orderId", p.OrderID); err != nil {
		return nil, err
	}
	v := url.Values{"orderId": {strings.TrimSpace(p.OrderID)}}
	if err := refundParams(v, p.Full, p.Amount); err != nil {
		return nil, err
	}
	return c.act(ctx, "/order/refund/", v)
}

// RefundTransactionParams refund one transaction.
type RefundTransactionParams struct {
	TransactionID string
	Full          bool
	Amount        Money
	// CancelPurchase also stops the subscription the transaction belongs to.
	CancelPurchase bool
	// External records a refund made outside the gateway; it needs
	// RefundMerchantTxnID (≤ 500 characters).
	External            bool
	RefundMerchantTxnID string
}

// RefundTransaction calls transactions/refund.
func (c *Client) RefundTransaction(ctx context.Context, p RefundTransactionParams) (*ActionResult, error) {
	if err := required("transactionId", p.TransactionID); err != nil {
		return nil, err
	}
	if err := maxLen("refundMerchantTxnId", p.RefundMerchantTxnID, 500); err != nil {
		return nil, err
	}
	if p.External && strings.TrimSpace(p.RefundMerchantTxnID) == "" {
		return nil, errInvalid("refundMerchantTxnId is required for an external refund")
	}
	v := url.Values{"transactionId": {strings.TrimSpace(p.TransactionID)}}
	if err := refundParams(v, p.Full, p.Amount); err != nil {
		return nil, err
	}
	flag(v, "cancelPurchase", p.CancelPurchase)
	flag(v, "externalRefund", p.External)
	set(v, "refundMerchantTxnId", p.RefundMerchantTxnID)
	return c.act(ctx, "/transactions/refund/", v)
}

// RefundPurchaseParams refund a subscription's latest charge.
type RefundPurchaseParams struct {
	PurchaseID string
	Full       bool
	Amount     Money
}

// RefundPurchase calls purchase/refund.
func (c *Client) RefundPurchase(ctx context.Context, p RefundPurchaseParams) (*ActionResult, error) {
	if err := required("purchaseId", p.PurchaseID); err != nil {
		return nil, err
	}
	v := url.Values{"purchaseId": {strings.TrimSpace(p.PurchaseID)}}
	if err := refundParams(v, p.Full, p.Amount); err != nil {
		return nil, err
	}
	return c.act(ctx, "/purchase/refund/", v)
}

// CancelOrderParams cancel an order.
type CancelOrderParams struct {
	OrderID string
	// Reason is required (≤ 100 characters).
	Reason string
	// FullRefund also refunds everything still refundable.
	FullRefund bool
	// AfterNextBill lets the order's subscriptions bill once more.
	AfterNextBill bool
}

// CancelOrder calls order/cancel (macro "Cancel Order").
func (c *Client) CancelOrder(ctx context.Context, p CancelOrderParams) (*ActionResult, error) {
	if err := required("orderId", p.OrderID); err != nil {
		return nil, err
	}
	if err := reason(p.Reason); err != nil {
		return nil, err
	}
	v := url.Values{"orderId": {strings.TrimSpace(p.OrderID)}, "cancelReason": {strings.TrimSpace(p.Reason)}}
	flag(v, "fullRefund", p.FullRefund)
	flag(v, "afterNextBill", p.AfterNextBill)
	return c.act(ctx, "/order/cancel/", v)
}

func reason(r string) error {
	if err := required("cancel reason", r); err != nil {
		return err
	}
	return maxLen("cancel reason", strings.TrimSpace(r), 100)
}

// AddCustomerNote calls customer/addnote (macro "Customer Note"); message
// is at most 500 characters.
func (c *Client) AddCustomerNote(ctx context.Context, customerID, message string) (*ActionResult, error) {
	if err := required("customerId", customerID); err != nil {
		return nil, err
	}
	if err := required("note message", message); err != nil {
		return nil, err
	}
	if err := maxLen("note message", strings.TrimSpace(message), 500); err != nil {
		return nil, err
	}
	return c.act(ctx, "/customer/addnote/", url.Values{"customerId": {strings.TrimSpace(customerID)}, "message": {strings.TrimSpace(message)}})
}

// CustomerUpdate changes a customer. Empty fields are left unchanged; use
// Clear to blank optional fields (sent as the literal NULL).
type CustomerUpdate struct {
	CustomerID string
	// Billing sets firstName, lastName, companyName, address1, address2,
	// city, state, postalCode, country.
	Billing Address
	// Shipping sets the same fields with the ship prefix.
	Shipping Address
	Email    string
	Phone    string
	// Custom sets custom1–custom5.
	Custom [5]string
	// Clear names optional fields to blank: companyName, address2,
	// shipCompanyName, shipAddress2, custom1–custom5.
	Clear []string
}

// Field limits shared with the emulator (the validators say "most strings
// ≤ 30"; address lines and company get 60, see the assumptions doc).
var fieldLimits = map[string]int{
	"firstName": 30, "lastName": 30, "companyName": 60, "address1": 60, "address2": 60,
	"city": 30, "state": 6, "postalCode": 30, "country": 2,
}

func addressParams(v url.Values, prefix string, a Address) error {
	vals := []struct{ name, val string }{
		{"firstName", a.FirstName}, {"lastName", a.LastName}, {"companyName", a.CompanyName},
		{"address1", a.Address1}, {"address2", a.Address2}, {"city", a.City}, {"state", a.State},
		{"postalCode", a.PostalCode}, {"country", a.Country},
	}
	for _, f := range vals {
		val := strings.TrimSpace(f.val)
		if val == "" {
			continue
		}
		name := f.name
		if prefix != "" {
			name = prefix + strings.ToUpper(name[:1]) + name[1:]
		}
		if f.name == "country" {
			val = strings.ToUpper(val)
			if len(val) != 2 || val[0] < 'A' || val[0] > 'Z' || val[1] < 'A' || val[1] > 'Z' {
				return errInvalid("%s must be a 2-letter country code such as US, not %q", name, f.val)
			}
		}
		if err := maxLen(name, val, fieldLimits[f.name]); err != nil {
			return err
		}
		v.Set(name, val)
	}
	return nil
}

var clearable = map[string]bool{
	"companyName": true, "address2": true, "shipCompanyName": true, "shipAddress2": true,
	"custom1": true, "custom2": true, "custom3": true, "custom4": true, "custom5": true,
}

// UpdateCustomer calls customer/update (macros "Shipping Address Change",
// "Billing Address Change" and "Customer Update").
func (c *Client) UpdateCustomer(ctx context.Context, u CustomerUpdate) (*ActionResult, error) {
	if err := required("customerId", u.CustomerID); err != nil {
		return nil, err
	}
	v := url.Values{}
	if err := addressParams(v, "", u.Billing); err != nil {
		return nil, err
	}
	if err := addressParams(v, "ship", u.Shipping); err != nil {
		return nil, err
	}
	if e := strings.TrimSpace(u.Email); e != "" {
		at := strings.Index(e, "@")
		if at < 1 || at == len(e)-1 || strings.ContainsAny(e, " ,;") || len(e) > 100 {
			return nil, errInvalid("%q is not a valid email address", u.Email)
		}
		v.Set("emailAddress", e)
	}
	if p := strings.TrimSpace(u.Phone); p != "" {
		if err := maxLen("phoneNumber", p, 30); err != nil {
			return nil, err
		}
		v.Set("phoneNumber", p)
	}
	for i, cv := range u.Custom {
		if cv = strings.TrimSpace(cv); cv != "" {
			name := "custom" + strconv.Itoa(i+1)
			if err := maxLen(name, cv, 50); err != nil {
				return nil, err
			}
			v.Set(name, cv)
		}
	}
	for _, name := range u.Clear {
		if !clearable[name] {
			return nil, errInvalid("%s cannot be cleared", name)
		}
		if v.Has(name) {
			return nil, errInvalid("%s is both set and cleared", name)
		}
		v.Set(name, "NULL")
	}
	if len(v) == 0 {
		return nil, errInvalid("no customer fields to update")
	}
	v.Set("customerId", strings.TrimSpace(u.CustomerID))
	return c.act(ctx, "/customer/update/", v)
}

// CancelPurchaseParams cancel a subscription.
type CancelPurchaseParams struct {
	PurchaseID string
	// Reason is required (≤ 100 characters), sent as cancelReason.
	Reason string
	// FullRefund also refunds the latest charge.
	FullRefund bool
	// AfterNextBill lets it bill once more, then stop.
	AfterNextBill bool
}

// CancelPurchase calls purchase/cancel (macro "Cancel Subscription").
func (c *Client) CancelPurchase(ctx context.Context, p CancelPurchaseParams) (*ActionResult, error) {
	if err := required("purchaseId", p.PurchaseID); err != nil {
		return nil, err
	}
	if err := reason(p.Reason); err != nil {
		return nil, err
	}
	v := url.Values{"purchaseId": {strings.TrimSpace(p.PurchaseID)}, "cancelReason": {strings.TrimSpace(p.Reason)}}
	flag(v, "fullRefund", p.FullRefund)
	flag(v, "afterNextBill", p.AfterNextBill)
	return c.act(ctx, "/purchase/cancel/", v)
}

// PurchaseUpdate changes a subscription. Zero fields are not sent.
type PurchaseUpdate struct {
	PurchaseID string
	// NextBillDate must be after today (sent as m/d/Y).
	NextBillDate time.Time
	// BillingIntervalDays is 1–365.
	BillingIntervalDays int
	FinalBillingCycle   int
	Price               *Money
	ShippingPrice       *Money
	BillNow             bool
	Reactivate          bool
	// Status is RECYCLE_BILLING or RECYCLE_FAILED.
	Status        string
	NewMerchantID string
	// ProductID, VariantID and ProductQty swap the product (UNCONFIRMED
	// parameter names; see docs/assumptions/konnektive.md).
	ProductID  string
	VariantID  string
	ProductQty int
}

// UpdatePurchase calls purchase/update (macros "Update Subscription Bill
// Cycle" and "Update Subscription Products").
func (c *Client) UpdatePurchase(ctx context.Context, u PurchaseUpdate) (*ActionResult, error) {
	if err := required("purchaseId", u.PurchaseID); err != nil {
		return nil, err
	}
	v := url.Values{}
	if !u.NextBillDate.IsZero() {
		if err := c.futureDate("next bill date", u.NextBillDate); err != nil {
			return nil, err
		}
		v.Set("nextBillDate", FormatDate(u.NextBillDate))
	}
	if u.BillingIntervalDays != 0 {
		if u.BillingIntervalDays < 1 || u.BillingIntervalDays > 365 {
			return nil, errInvalid("billing interval must be 1 to 365 days, not %d", u.BillingIntervalDays)
		}
		v.Set("billingIntervalDays", strconv.Itoa(u.BillingIntervalDays))
	}
	if u.FinalBillingCycle < 0 {
		return nil, errInvalid("final billing cycle cannot be negative")
	} else if u.FinalBillingCycle > 0 {
		v.Set("finalBillingCycle", strconv.Itoa(u.FinalBillingCycle))
	}
	for name, m := range map[string]*Money{"price": u.Price, "shippingPrice": u.ShippingPrice} {
		if m != nil {
			if *m < 0 {
				return nil, errInvalid("%s cannot be negative", name)
			}
			v.Set(name, m.String())
		}
	}
	if u.BillNow {
		flag(v, "billNow", true)
	}
	if u.Reactivate {
		flag(v, "reactivate", true)
	}
	switch s := strings.ToUpper(strings.TrimSpace(u.Status)); s {
	case "":
	case "RECYCLE_BILLING", "RECYCLE_FAILED":
		v.Set("status", s)
	default:
		return nil, errInvalid("purchase status must be RECYCLE_BILLING or RECYCLE_FAILED, not %q", u.Status)
	}
	set(v, "newMerchantId", u.NewMerchantID)
	set(v, "productId", u.ProductID)
	if err := maxLen("variantId", strings.TrimSpace(u.VariantID), 30); err != nil {
		return nil, err
	}
	set(v, "variantId", u.VariantID)
	if u.ProductQty != 0 {
		if u.ProductQty < 1 || u.ProductQty > 99 {
			return nil, errInvalid("product quantity must be 1 to 99, not %d", u.ProductQty)
		}
		v.Set("productQty", strconv.Itoa(u.ProductQty))
	}
	if len(v) == 0 {
		return nil, errInvalid("no subscription fields to update")
	}
	v.Set("purchaseId", strings.TrimSpace(u.PurchaseID))
	return c.act(ctx, "/purchase/update/", v)
}

// futureDate rejects dates before today (in the clock's zone). Today itself
// is left to the CRM, whose "today" is CRM-local.
func (c *Client) futureDate(name string, t time.Time) error {
	now := c.Now()
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	ty, tm, td := t.Date()
	if time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Before(today) {
		return errInvalid("%s %s is in the past", name, FormatDate(t))
	}
	return nil
}

// PauseParams pause a subscription until a date.
type PauseParams struct {
	PurchaseID string
	// Until is when billing resumes (after today).
	Until time.Time
}

// PausePurchase pauses a subscription (macro "Pause Subscription"). With
// PauseByNextBillDate (default) it moves nextBillDate to Until through
// purchase/update; with PauseByEndpoint it calls Config.PausePath.
func (c *Client) PausePurchase(ctx context.Context, p PauseParams) (*ActionResult, error) {
	if err := required("purchaseId", p.PurchaseID); err != nil {
		return nil, err
	}
	if p.Until.IsZero() {
		return nil, errInvalid("a resume date is required to pause a subscription")
	}
	if err := c.futureDate("resume date", p.Until); err != nil {
		return nil, err
	}
	if c.cfg.PauseMode == PauseByEndpoint {
		return c.act(ctx, c.cfg.PausePath, url.Values{"purchaseId": {strings.TrimSpace(p.PurchaseID)}, "resumeDate": {FormatDate(p.Until)}})
	}
	return c.UpdatePurchase(ctx, PurchaseUpdate{PurchaseID: p.PurchaseID, NextBillDate: p.Until})
}

// FulfillmentUpdate changes a fulfilment (by FulfillmentID, or every open
// fulfilment of OrderID).
type FulfillmentUpdate struct {
	OrderID       string
	FulfillmentID string
	// Status is SHIPPED, RMA_PENDING, RETURNED or CANCELLED.
	Status string
	// TrackingNumber and DateShipped are required for SHIPPED.
	TrackingNumber string
	DateShipped    time.Time
	// RMANumber is required for RMA_PENDING; RefundAmount is optional.
	RMANumber    string
	RefundAmount Money
	DateReturned time.Time
	ShipCarrier  string
	ShipMethod   string
}

// UpdateFulfillment calls fulfillment/update.
func (c *Client) UpdateFulfillment(ctx context.Context, u FulfillmentUpdate) (*ActionResult, error) {
	if strings.TrimSpace(u.OrderID) == "" && strings.TrimSpace(u.FulfillmentID) == "" {
		return nil, errInvalid("orderId or fulfillmentId is required")
	}
	status := strings.ToUpper(strings.TrimSpace(u.Status))
	v := url.Values{}
	set(v, "orderId", u.OrderID)
	set(v, "fulfillmentId", u.FulfillmentID)
	switch status {
	case "SHIPPED":
		if strings.TrimSpace(u.TrackingNumber) == "" || u.DateShipped.IsZero() {
			return nil, errInvalid("tracking number and ship date are required for SHIPPED")
		}
		v.Set("trackingNumber", strings.TrimSpace(u.TrackingNumber))
		v.Set("dateShipped", FormatDate(u.DateShipped))
	case "RMA_PENDING":
		if strings.TrimSpace(u.RMANumber) == "" {
			return nil, errInvalid("RMA number is required for RMA_PENDING")
		}
		v.Set("rmaNumber", strings.TrimSpace(u.RMANumber))
		if u.RefundAmount < 0 {
			return nil, errInvalid("refund amount cannot be negative")
		} else if u.RefundAmount > 0 {
			v.Set("refundAmount", u.RefundAmount.String())
		}
	case "RETURNED":
		if !u.DateReturned.IsZero() {
			v.Set("dateReturned", FormatDate(u.DateReturned))
		}
	case "CANCELLED":
	default:
		return nil, errInvalid("fulfillment status must be SHIPPED, RMA_PENDING, RETURNED or CANCELLED, not %q", u.Status)
	}
	v.Set("fulfillmentStatus", status)
	set(v, "shipCarrier", u.ShipCarrier)
	set(v, "shipMethod", u.ShipMethod)
	return c.act(ctx, "/fulfillment/update/", v)
}
