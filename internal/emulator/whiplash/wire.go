package whiplash

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The emulator's wire model, written from the vendor contract
// (shared/reference/klaviyo-whiplash.md B2 and B5: the V2 spec's
// ApiV2EntitiesOrder and its example list), not from switchyard's client.
// Golden bodies in internal/testdata/golden/whiplash pin the field names on
// both sides.

// SignatureHeader carries the webhook signature: the lowercase-hex
// HMAC-SHA256 of the raw body, keyed with the OAuth application's client
// secret (Whiplash's gem, signing.rb: OpenSSL::HMAC.hexdigest(SHA256,
// client_secret, body)).
const SignatureHeader = "X-WHIPLASH-SIGNATURE"

// Sign returns the X-WHIPLASH-SIGNATURE value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Int is an integer of the V2 API. It is rendered as a JSON number; it
// reads a number or a numeric string, since the emulator renders some ids
// of some orders as strings (see Config.StringIDsEvery).
type Int int64

// UnmarshalJSON reads a number, a numeric string or null.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer: %w", b, err)
	}
	*n = Int(i)
	return nil
}

// Time is a V2 timestamp: US Eastern with its offset and milliseconds,
// e.g. 2026-03-13T11:39:21.000-04:00 (the spec's example); zero is null.
type Time struct{ time.Time }

// wireTimeLayout is how the V2 API renders timestamps.
const wireTimeLayout = "2006-01-02T15:04:05.000-07:00"

// MarshalJSON renders the V2 layout, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(wireTimeLayout))
}

// UnmarshalJSON reads the V2 layout (or RFC 3339), "" or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		t.Time = time.Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("unreadable time %q: %w", s, err)
	}
	t.Time = v
	return nil
}

// Order is the V2 order entity (ApiV2EntitiesOrder) as the emulator
// renders it. Published values are immutable (see applyStatus).
type Order struct {
	ID                         Int             `json:"id"`
	HumanizeID                 string          `json:"humanize_id,omitempty"`
	CustomerID                 Int             `json:"customer_id,omitempty"`
	ShopID                     Int             `json:"shop_id,omitempty"`
	Status                     Int             `json:"status"`
	StatusName                 string          `json:"status_name,omitempty"`
	PreviousStatus             Int             `json:"previous_status,omitempty"`
	OrderOrig                  string          `json:"order_orig,omitempty"`
	ProtoOriginatorID          string          `json:"proto_originator_id,omitempty"`
	Originator                 *Originator     `json:"originator,omitempty"`
	Email                      string          `json:"email"`
	FirstName                  string          `json:"first_name,omitempty"`
	LastName                   string          `json:"last_name,omitempty"`
	FullName                   string          `json:"full_name,omitempty"`
	ShippingName               string          `json:"shipping_name,omitempty"`
	ShippingCompany            string          `json:"shipping_company,omitempty"`
	ShippingAddress1           string          `json:"shipping_address_1,omitempty"`
	ShippingAddress2           string          `json:"shipping_address_2,omitempty"`
	ShippingCity               string          `json:"shipping_city,omitempty"`
	ShippingState              string          `json:"shipping_state,omitempty"`
	ShippingZip                string          `json:"shipping_zip,omitempty"`
	ShippingCountry            string          `json:"shipping_country,omitempty"`
	ShippingCountryISO2        string          `json:"shipping_country_iso2,omitempty"`
	ShippingPhone              string          `json:"shipping_phone,omitempty"`
	BillingName                string          `json:"billing_name,omitempty"`
	BillingCompany             string          `json:"billing_company,omitempty"`
	BillingAddress1            string          `json:"billing_address_1,omitempty"`
	BillingAddress2            string          `json:"billing_address_2,omitempty"`
	BillingCity                string          `json:"billing_city,omitempty"`
	BillingState               string          `json:"billing_state,omitempty"`
	BillingZip                 string          `json:"billing_zip,omitempty"`
	BillingCountry             string          `json:"billing_country,omitempty"`
	BillingPhone               string          `json:"billing_phone,omitempty"`
	ShopShippingMethodText     string          `json:"shop_shipping_method_text,omitempty"`
	ShopShippingMethodPrice    string          `json:"shop_shipping_method_price,omitempty"`
	ShopShippingMethodCurrency string          `json:"shop_shipping_method_currency,omitempty"`
	ShipMethod                 string          `json:"ship_method,omitempty"`
	ShippingMethod             *ShippingMethod `json:"shipping_method,omitempty"`
	RequireSignature           bool            `json:"require_signature"`
	RequireAdultSignature      bool            `json:"require_adult_signature"`
	CreatedAt                  Time            `json:"created_at"`
	UpdatedAt                  Time            `json:"updated_at"`
	ShopCreatedAt              Time            `json:"shop_created_at"`
	ShopUpdatedAt              Time            `json:"shop_updated_at"`
	ShippedOn                  Time            `json:"shipped_on"`
	ApproximateDeliveryDate    string          `json:"approximate_delivery_date,omitempty"`
	Tracking                   []string        `json:"tracking"`
	TrackingLinks              []string        `json:"tracking_links"`
	Packages                   []Package       `json:"packages,omitempty"`
	OrderItems                 []OrderItem     `json:"order_items"`
	OrderType                  string          `json:"order_type,omitempty"`
	Gift                       bool            `json:"gift,omitempty"`
	Expedited                  bool            `json:"expedited,omitempty"`
	Residential                bool            `json:"residential"`
	PublicNote                 *string         `json:"public_note"`
	MetaData                   string          `json:"meta_data,omitempty"`

	// stringIDs renders id, customer_id and order_items[].id as JSON
	// strings (see Config.StringIDsEvery).
	stringIDs bool
}

// Originator is the shop an order came from.
type Originator struct {
	ID         Int    `json:"id,omitempty"`
	Provider   string `json:"provider,omitempty"`
	OriginalID string `json:"original_id,omitempty"`
	ShopID     Int    `json:"shop_id,omitempty"`
	ShopDomain string `json:"shop_domain,omitempty"`
}

// ShippingMethod is the carrier service.
type ShippingMethod struct {
	ID      Int    `json:"id,omitempty"`
	Carrier string `json:"carrier,omitempty"`
	Service string `json:"service,omitempty"`
	Name    string `json:"name,omitempty"`
	SCAC    string `json:"scac,omitempty"`
}

// Package is one shipped parcel.
type Package struct {
	ID           Int     `json:"id"`
	OrderID      Int     `json:"order_id,omitempty"`
	Tracking     *string `json:"tracking"`
	TrackingLink *string `json:"tracking_link"`
	ShippedOn    Time    `json:"shipped_on"`
	OrderItemIDs []Int   `json:"order_item_ids"`
}

// OrderItem is one order line.
type OrderItem struct {
	ID          Int    `json:"id"`
	OrderID     Int    `json:"order_id,omitempty"`
	SKU         string `json:"sku"`
	Description string `json:"description,omitempty"`
	Quantity    Int    `json:"quantity"`
	Price       string `json:"price,omitempty"`
	Currency    string `json:"currency,omitempty"`
}

// StringIDs reports whether the order renders its ids as JSON strings.
func (o *Order) StringIDs() bool { return o.stringIDs }

// MarshalJSON renders the order; an order with string ids renders id,
// customer_id and order_items[].id as numeric strings.
func (o Order) MarshalJSON() ([]byte, error) {
	type plain Order // without this method
	if !o.stringIDs {
		return json.Marshal(plain(o))
	}
	type quotedItem struct {
		OrderItem
		ID string `json:"id"`
	}
	items := make([]quotedItem, len(o.OrderItems))
	for i, it := range o.OrderItems {
		items[i] = quotedItem{OrderItem: it, ID: strconv.FormatInt(int64(it.ID), 10)}
	}
	return json.Marshal(struct {
		plain
		ID         string       `json:"id"`
		CustomerID string       `json:"customer_id,omitempty"`
		OrderItems []quotedItem `json:"order_items"`
	}{plain(o), strconv.FormatInt(int64(o.ID), 10), quoteNonZero(o.CustomerID), items})
}

func quoteNonZero(n Int) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(int64(n), 10)
}

// webhook is the body Whiplash POSTs: the resource as the API renders it
// under its own key, plus event_name (reference B5).
type webhook struct {
	EventName string `json:"event_name"`
	Order     *Order `json:"order"`
}
