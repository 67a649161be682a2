// Package whiplash is switchyard's Whiplash (RyderShip V2) adapter: the
// webhook verifier and decoder, the order model and the API client.
package whiplash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"switchyard/internal/jsonx"
	"switchyard/internal/provider/webhooksig"
)

// SignatureHeader carries the hex HMAC-SHA256 of the raw body.
const SignatureHeader = "X-WHIPLASH-SIGNATURE"

// Sign returns the lowercase-hex HMAC-SHA256 of body under secret, as
// Whiplash puts it in X-WHIPLASH-SIGNATURE. An empty body is signed as the
// client id by Whiplash's gem; callers pass that string as body then.
func Sign(secret string, body []byte) string {
	return hex.EncodeToString(webhooksig.Sum(secret, body))
}

// Verification errors.
var (
	ErrMissingSignature = errors.New("missing " + SignatureHeader + " header")
	ErrBadSignature     = webhooksig.ErrBadSignature
	ErrNoSecret         = webhooksig.ErrNoSecret
)

// Verifier checks X-WHIPLASH-SIGNATURE against several accepted secrets
// (the OAuth client secret and, per the help center, the API key; rotation
// keeps the old one valid for a while). Comparison is constant-time.
type Verifier struct{}

// Verify returns nil when the signature matches one of secrets.
func (Verifier) Verify(h http.Header, body []byte, secrets []string) error {
	got := strings.TrimSpace(h.Get(SignatureHeader))
	if got == "" {
		return ErrMissingSignature
	}
	raw, err := hex.DecodeString(strings.ToLower(got))
	if err != nil {
		return ErrBadSignature
	}
	return webhooksig.Check(raw, body, secrets)
}

// Webhook is the body Whiplash POSTs: the resource as the API renders it plus
// event_name.
type Webhook struct {
	EventName string `json:"event_name"`
	Order     *Order `json:"order"`
}

// DecodeWebhook parses a webhook body. It requires event_name and, for
// order.* events, an order with an id.
func DecodeWebhook(body []byte) (*Webhook, error) {
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("webhook body is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("webhook body has trailing data after the JSON object")
	}
	if strings.TrimSpace(w.EventName) == "" {
		return nil, errors.New("webhook body has no event_name")
	}
	if strings.HasPrefix(w.EventName, "order.") {
		if w.Order == nil {
			return nil, fmt.Errorf("%s webhook has no order", w.EventName)
		}
		if w.Order.ID == 0 {
			return nil, fmt.Errorf("%s webhook order has no id", w.EventName)
		}
	}
	return &w, nil
}

// DedupKey identifies one delivery of an order event: the same event name,
// order, status and update time is the same event, however often Whiplash
// sends it.
func (w *Webhook) DedupKey(body []byte) string {
	if w.Order != nil {
		return fmt.Sprintf("%s:%d:%d:%s", w.EventName, w.Order.ID, w.Order.Status, w.Order.UpdatedAt.Format(time.RFC3339Nano))
	}
	sum := sha256.Sum256(body)
	return w.EventName + ":" + hex.EncodeToString(sum[:16])
}

// FlexInt decodes a JSON number or a numeric string (or null) into an int64.
type FlexInt int64

func (f *FlexInt) UnmarshalJSON(b []byte) error {
	n, err := jsonx.Int(b)
	*f = FlexInt(n)
	return err
}

// Time decodes Whiplash timestamps (ISO-8601 with offset, with or without
// fractional seconds; "" and null as zero). It keeps the offset.
type Time struct{ time.Time }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-07:00", "2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05Z0700", "2006-01-02"}

func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		t.Time = time.Time{}
		return nil
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("unreadable time %q", s)
}

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format("2006-01-02T15:04:05.000-07:00"))
}

// Order is the V2 order entity (ApiV2EntitiesOrder), the fields switchyard uses.
type Order struct {
	ID                  FlexInt         `json:"id"`
	HumanizeID          string          `json:"humanize_id,omitempty"`
	CustomerID          FlexInt         `json:"customer_id,omitempty"`
	ShopID              FlexInt         `json:"shop_id,omitempty"`
	Status              FlexInt         `json:"status"`
	StatusName          string          `json:"status_name,omitempty"`
	PreviousStatus      FlexInt         `json:"previous_status,omitempty"`
	OrderOrig           string          `json:"order_orig,omitempty"`
	ProtoOriginatorID   string          `json:"proto_originator_id,omitempty"`
	Originator          *Originator     `json:"originator,omitempty"`
	Email               string          `json:"email"`
	FirstName           string          `json:"first_name,omitempty"`
	LastName            string          `json:"last_name,omitempty"`
	FullName            string          `json:"full_name,omitempty"`
	ShippingName        string          `json:"shipping_name,omitempty"`
	ShippingCompany     string          `json:"shipping_company,omitempty"`
	ShippingAddress1    string          `json:"shipping_address_1,omitempty"`
	ShippingAddress2    string          `json:"shipping_address_2,omitempty"`
	ShippingCity        string          `json:"shipping_city,omitempty"`
	ShippingState       string          `json:"shipping_state,omitempty"`
	ShippingZip         string          `json:"shipping_zip,omitempty"`
	ShippingCountry     string          `json:"shipping_country,omitempty"`
	ShippingCountryISO2 string          `json:"shipping_country_iso2,omitempty"`
	ShippingPhone       string          `json:"shipping_phone,omitempty"`
	BillingName         string          `json:"billing_name,omitempty"`
	BillingCompany      string          `json:"billing_company,omitempty"`
	BillingAddress1     string          `json:"billing_address_1,omitempty"`
	BillingAddress2     string          `json:"billing_address_2,omitempty"`
	BillingCity         string          `json:"billing_city,omitempty"`
	BillingState        string          `json:"billing_state,omitempty"`
	BillingZip          string          `json:"billing_zip,omitempty"`
	BillingCountry      string          `json:"billing_country,omitempty"`
	BillingPhone        string          `json:"billing_phone,omitempty"`
	ShopShippingMethod  string          `json:"shop_shipping_method_text,omitempty"`
	ShipMethod          string          `json:"ship_method,omitempty"`
	ShippingMethod      *ShippingMethod `json:"shipping_method,omitempty"`
	RequireSignature    bool            `json:"require_signature"`
	RequireAdultSig     bool            `json:"require_adult_signature"`
	CreatedAt           Time            `json:"created_at"`
	UpdatedAt           Time            `json:"updated_at"`
	ShopCreatedAt       Time            `json:"shop_created_at"`
	ShippedOn           Time            `json:"shipped_on"`
	ApproxDeliveryDate  string          `json:"approximate_delivery_date,omitempty"`
	Tracking            []string        `json:"tracking"`
	TrackingLinks       []string        `json:"tracking_links"`
	Packages            []Package       `json:"packages,omitempty"`
	OrderItems          []OrderItem     `json:"order_items"`
	OrderType           string          `json:"order_type,omitempty"`
	Gift                bool            `json:"gift,omitempty"`
	Expedited           bool            `json:"expedited,omitempty"`
}

// Originator is the shop an order came from.
type Originator struct {
	ID         FlexInt `json:"id,omitempty"`
	Provider   string  `json:"provider,omitempty"`
	OriginalID string  `json:"original_id,omitempty"`
	ShopID     FlexInt `json:"shop_id,omitempty"`
	ShopDomain string  `json:"shop_domain,omitempty"`
}

// ShippingMethod is the carrier service.
type ShippingMethod struct {
	ID      FlexInt `json:"id,omitempty"`
	Carrier string  `json:"carrier,omitempty"`
	Service string  `json:"service,omitempty"`
	Name    string  `json:"name,omitempty"`
}

// Package is one shipped parcel.
type Package struct {
	ID           FlexInt   `json:"id"`
	Tracking     *string   `json:"tracking"`
	TrackingLink *string   `json:"tracking_link"`
	ShippedOn    Time      `json:"shipped_on"`
	OrderItemIDs []FlexInt `json:"order_item_ids"`
}

// OrderItem is one order line.
type OrderItem struct {
	ID          FlexInt `json:"id"`
	SKU         string  `json:"sku"`
	Description string  `json:"description,omitempty"`
	Quantity    FlexInt `json:"quantity"`
	Price       any     `json:"price,omitempty"`
}

// DisplayName is the recipient's full name: full_name, shipping_name, or
// first + last name.
func (o *Order) DisplayName() string {
	for _, s := range []string{o.FullName, o.ShippingName, strings.TrimSpace(o.FirstName + " " + o.LastName)} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// Company is the shipping company, or the billing company.
func (o *Order) Company() string {
	if c := strings.TrimSpace(o.ShippingCompany); c != "" {
		return c
	}
	return strings.TrimSpace(o.BillingCompany)
}

// ShippingMethodName is what an agent calls the shipping method.
func (o *Order) ShippingMethodName() string {
	switch {
	case o.ShipMethod != "":
		return o.ShipMethod
	case o.ShippingMethod != nil && o.ShippingMethod.Name != "":
		return o.ShippingMethod.Name
	default:
		return o.ShopShippingMethod
	}
}

// StoreID is the Whiplash shop the order belongs to (shop_id, else the
// originator's shop id).
func (o *Order) StoreID() int64 {
	if o.ShopID != 0 {
		return int64(o.ShopID)
	}
	if o.Originator != nil {
		return int64(o.Originator.ShopID)
	}
	return 0
}
