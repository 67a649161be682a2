package konnektive

import (
	"bytes"
	"encoding/json"
)

// Address is a billing or shipping address (Konnektive field names without
// and with the "ship" prefix).
type Address struct {
	FirstName   string `json:"firstName,omitempty"`
	LastName    string `json:"lastName,omitempty"`
	CompanyName string `json:"companyName,omitempty"`
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
	Country     string `json:"country,omitempty"`
}

// IsZero reports whether no field is set.
func (a Address) IsZero() bool { return a == Address{} }

// addressFields are the billing and ship* fields every record carries.
type addressFields struct {
	FirstName       String `json:"firstName"`
	LastName        String `json:"lastName"`
	CompanyName     String `json:"companyName"`
	Address1        String `json:"address1"`
	Address2        String `json:"address2"`
	City            String `json:"city"`
	State           String `json:"state"`
	PostalCode      String `json:"postalCode"`
	Country         String `json:"country"`
	ShipFirstName   String `json:"shipFirstName"`
	ShipLastName    String `json:"shipLastName"`
	ShipCompanyName String `json:"shipCompanyName"`
	ShipAddress1    String `json:"shipAddress1"`
	ShipAddress2    String `json:"shipAddress2"`
	ShipCity        String `json:"shipCity"`
	ShipState       String `json:"shipState"`
	ShipPostalCode  String `json:"shipPostalCode"`
	ShipCountry     String `json:"shipCountry"`
}

// Billing returns the billing address.
func (a addressFields) Billing() Address {
	return Address{string(a.FirstName), string(a.LastName), string(a.CompanyName), string(a.Address1), string(a.Address2),
		string(a.City), string(a.State), string(a.PostalCode), string(a.Country)}
}

// Shipping returns the shipping address.
func (a addressFields) Shipping() Address {
	return Address{string(a.ShipFirstName), string(a.ShipLastName), string(a.ShipCompanyName), string(a.ShipAddress1),
		string(a.ShipAddress2), string(a.ShipCity), string(a.ShipState), string(a.ShipPostalCode), string(a.ShipCountry)}
}

// Order is a record of order/query. Raw keeps the record as received, so
// fields not modelled here can still be shown.
type Order struct {
	OrderID         String `json:"orderId"`
	ClientOrderID   String `json:"clientOrderId"`
	CustomerID      String `json:"customerId"`
	OrderStatus     String `json:"orderStatus"`
	OrderType       String `json:"orderType"`
	DateCreated     Time   `json:"dateCreated"`
	DateUpdated     Time   `json:"dateUpdated"`
	DateCancelled   Time   `json:"dateCancelled"`
	CancelReason    String `json:"cancelReason"`
	EmailAddress    String `json:"emailAddress"`
	PhoneNumber     String `json:"phoneNumber"`
	CampaignID      String `json:"campaignId"`
	CampaignName    String `json:"campaignName"`
	CouponCode      String `json:"couponCode"`
	Price           Money  `json:"price"`
	TotalAmount     Money  `json:"totalAmount"`
	SalesTax        Money  `json:"salesTax"`
	BaseShipping    Money  `json:"baseShipping"`
	TotalDiscount   Money  `json:"totalDiscount"`
	AmountPaid      Money  `json:"amountPaid"`
	AmountRefunded  Money  `json:"amountRefunded"`
	RefundRemaining Money  `json:"refundRemaining"`
	CurrencySymbol  String `json:"currencySymbol"`
	PaySource       String `json:"paySource"`
	CardType        String `json:"cardType"`
	CardLast4       String `json:"cardLast4"`
	addressFields
	Items        Items           `json:"items"`
	Fulfillments Fulfillments    `json:"fulfillments"`
	Raw          json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes leniently and keeps Raw.
func (o *Order) UnmarshalJSON(b []byte) error {
	type alias Order
	var v alias
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = Order(v)
	o.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Item is an order line. Konnektive sends items as an object keyed by item id.
type Item struct {
	OrderItemID        String `json:"orderItemId"`
	ProductID          String `json:"productId"`
	ProductSku         String `json:"productSku"`
	VariantID          String `json:"variantId"`
	Name               String `json:"name"`
	ProductDescription String `json:"productDescription"`
	Qty                Int    `json:"qty"`
	Price              Money  `json:"price"`
	Shipping           Money  `json:"shipping"`
	PurchaseID         String `json:"purchaseId"`
}

// Items decodes an object keyed by item id (ordered by id) or an array.
type Items []Item

// UnmarshalJSON implements json.Unmarshaler.
func (it *Items) UnmarshalJSON(b []byte) error {
	v, err := decodeList[Item](b)
	if err != nil {
		*it = nil
		return nil
	}
	*it = v
	return nil
}

// Fulfillment is a shipment of an order.
type Fulfillment struct {
	FulfillmentID  String `json:"fulfillmentId"`
	OrderID        String `json:"orderId"`
	Status         String `json:"status"`
	TrackingNumber String `json:"trackingNumber"`
	ShipCarrier    String `json:"shipCarrier"`
	ShipMethod     String `json:"shipMethod"`
	RMANumber      String `json:"rmaNumber"`
	DateShipped    Time   `json:"dateShipped"`
	DateReturned   Time   `json:"dateReturned"`
	DateCreated    Time   `json:"dateCreated"`
	DateUpdated    Time   `json:"dateUpdated"`
}

// Fulfillments decodes an array or an object keyed by id.
type Fulfillments []Fulfillment

// UnmarshalJSON implements json.Unmarshaler.
func (f *Fulfillments) UnmarshalJSON(b []byte) error {
	v, err := decodeList[Fulfillment](b)
	if err != nil {
		*f = nil
		return nil
	}
	*f = v
	return nil
}

// Customer is a record of customer/query.
type Customer struct {
	CustomerID     String `json:"customerId"`
	EmailAddress   String `json:"emailAddress"`
	PhoneNumber    String `json:"phoneNumber"`
	PaySource      String `json:"paySource"`
	CardType       String `json:"cardType"`
	CardLast4      String `json:"cardLast4"`
	CardExpiryDate String `json:"cardExpiryDate"`
	CampaignID     String `json:"campaignId"`
	CampaignName   String `json:"campaignName"`
	CampaignType   String `json:"campaignType"`
	DateCreated    Time   `json:"dateCreated"`
	DateUpdated    Time   `json:"dateUpdated"`
	Custom1        String `json:"custom1"`
	Custom2        String `json:"custom2"`
	Custom3        String `json:"custom3"`
	Custom4        String `json:"custom4"`
	Custom5        String `json:"custom5"`
	Notes          Notes  `json:"notes"`
	addressFields
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes leniently and keeps Raw.
func (c *Customer) UnmarshalJSON(b []byte) error {
	type alias Customer
	var v alias
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Customer(v)
	c.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Note is a customer note.
type Note struct {
	NoteID      String `json:"noteId"`
	Message     String `json:"message"`
	DateCreated Time   `json:"dateCreated"`
}

// Notes decodes the notes field in any shape seen or plausible
// (UNCONFIRMED): a string, an array of strings or of objects (message,
// note or text), an object keyed by id.
type Notes []Note

// UnmarshalJSON implements json.Unmarshaler.
func (n *Notes) UnmarshalJSON(b []byte) error {
	*n = nil
	b = bytes.TrimSpace(b)
	if s, ok := unquote(b); ok {
		if s != "" {
			*n = Notes{{Message: String(s)}}
		}
		return nil
	}
	var raws []json.RawMessage
	switch b[0] {
	case '[':
		if json.Unmarshal(b, &raws) != nil {
			return nil
		}
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			raws = append(raws, m[k])
		}
	}
	for _, r := range raws {
		if s, ok := unquote(r); ok {
			if s != "" {
				*n = append(*n, Note{Message: String(s)})
			}
			continue
		}
		var v struct {
			Note
			AltNote String `json:"note"`
			AltText String `json:"text"`
			AltDate Time   `json:"date"`
		}
		if json.Unmarshal(r, &v) != nil {
			continue
		}
		if v.Message == "" {
			v.Message = v.AltNote
		}
		if v.Message == "" {
			v.Message = v.AltText
		}
		if v.DateCreated.IsZero() {
			v.DateCreated = v.AltDate
		}
		*n = append(*n, v.Note)
	}
	return nil
}

// Purchase is a subscription (purchase/query).
type Purchase struct {
	PurchaseID          String        `json:"purchaseId"`
	CustomerID          String        `json:"customerId"`
	OrderID             String        `json:"orderId"`
	Status              String        `json:"status"`
	BillingCycleType    String        `json:"billingCycleType"`
	BillingCycleNumber  Int           `json:"billingCycleNumber"`
	BillingIntervalDays Int           `json:"billingIntervalDays"`
	FinalBillingCycle   Int           `json:"finalBillingCycle"`
	NextBillDate        Time          `json:"nextBillDate"`
	Price               Money         `json:"price"`
	ShippingPrice       Money         `json:"shippingPrice"`
	ProductID           String        `json:"productId"`
	ProductSku          String        `json:"productSku"`
	ProductName         String        `json:"productName"`
	VariantID           String        `json:"variantId"`
	ProductQty          Int           `json:"productQty"`
	TotalBilled         Money         `json:"totalBilled"`
	EmailAddress        String        `json:"emailAddress"`
	PhoneNumber         String        `json:"phoneNumber"`
	CancelReason        String        `json:"cancelReason"`
	DateCancelled       Time          `json:"dateCancelled"`
	CancelAfterNextBill Bool          `json:"cancelAfterNextBill"`
	MerchantID          String        `json:"merchantId"`
	DateCreated         Time          `json:"dateCreated"`
	DateUpdated         Time          `json:"dateUpdated"`
	Transactions        []Transaction `json:"-"`
	addressFields
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes leniently and keeps Raw.
func (p *Purchase) UnmarshalJSON(b []byte) error {
	type alias Purchase
	var v struct {
		alias
		Transactions json.RawMessage `json:"transactions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Purchase(v.alias)
	p.Transactions, _ = decodeList[Transaction](v.Transactions)
	p.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Transaction is a payment transaction (transactions/query, or inside a
// purchase). The id to pass to RefundTransaction is TransactionID
// (UNCONFIRMED; MerchantTxnID is the gateway's id).
type Transaction struct {
	TransactionID        String `json:"transactionId"`
	ParentTransactionID  String `json:"parentTransactionId"`
	OrderID              String `json:"orderId"`
	CustomerID           String `json:"customerId"`
	PurchaseID           String `json:"purchaseId"`
	TxnType              String `json:"txnType"`
	TotalAmount          Money  `json:"totalAmount"`
	AmountRefunded       Money  `json:"amountRefunded"`
	RefundRemaining      Money  `json:"refundRemaining"`
	ResponseType         String `json:"responseType"`
	ResponseText         String `json:"responseText"`
	Merchant             String `json:"merchant"`
	MerchantID           String `json:"merchantId"`
	MerchantTxnID        String `json:"merchantTxnId"`
	BillingCycleNumber   Int    `json:"billingCycleNumber"`
	RecycleNumber        Int    `json:"recycleNumber"`
	PaySource            String `json:"paySource"`
	CardType             String `json:"cardType"`
	CardLast4            String `json:"cardLast4"`
	IsChargedback        Bool   `json:"isChargedback"`
	ChargebackAmount     Money  `json:"chargebackAmount"`
	ChargebackDate       Time   `json:"chargebackDate"`
	ChargebackReasonCode String `json:"chargebackReasonCode"`
	ChargebackNote       String `json:"chargebackNote"`
	CurrencySymbol       String `json:"currencySymbol"`
	TxnDate              Time   `json:"txnDate"`
	DateCreated          Time   `json:"dateCreated"`
	DateUpdated          Time   `json:"dateUpdated"`
}
