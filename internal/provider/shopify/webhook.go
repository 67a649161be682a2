package shopify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"switchyard/internal/provider/webhooksig"
)

// Webhook headers.
const (
	SignatureHeader   = "X-Shopify-Hmac-Sha256"
	TopicHeader       = "X-Shopify-Topic"
	ShopDomainHeader  = "X-Shopify-Shop-Domain"
	WebhookIDHeader   = "X-Shopify-Webhook-Id"
	EventIDHeader     = "X-Shopify-Event-Id"
	TriggeredAtHeader = "X-Shopify-Triggered-At"
	APIVersionHeader  = "X-Shopify-API-Version"
)

// Verification errors.
var (
	ErrMissingSignature = errors.New("missing " + SignatureHeader + " header")
	ErrBadSignature     = webhooksig.ErrBadSignature
	ErrNoSecret         = webhooksig.ErrNoSecret
)

// Sign returns the base64 HMAC-SHA256 of body under secret, as Shopify
// puts it in X-Shopify-Hmac-Sha256.
func Sign(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(webhooksig.Sum(secret, body))
}

// Verifier checks X-Shopify-Hmac-Sha256 against several accepted secrets
// (after a rotation Shopify may sign with the old secret for up to an
// hour). Comparison is constant-time and every secret is tried.
type Verifier struct{}

// Verify returns nil when the signature matches one of secrets.
func (Verifier) Verify(h http.Header, body []byte, secrets []string) error {
	got := strings.TrimSpace(h.Get(SignatureHeader))
	if got == "" {
		return ErrMissingSignature
	}
	raw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return ErrBadSignature
	}
	return webhooksig.Check(raw, body, secrets)
}

// WebhookMeta is what the delivery headers say.
type WebhookMeta struct {
	Topic       string
	ShopDomain  string
	WebhookID   string
	EventID     string
	APIVersion  string
	TriggeredAt time.Time
}

// MetaFrom reads the delivery headers.
func MetaFrom(h http.Header) WebhookMeta {
	m := WebhookMeta{Topic: h.Get(TopicHeader), ShopDomain: h.Get(ShopDomainHeader), WebhookID: h.Get(WebhookIDHeader),
		EventID: h.Get(EventIDHeader), APIVersion: h.Get(APIVersionHeader)}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(TriggeredAtHeader)); err == nil {
		m.TriggeredAt = t
	}
	return m
}

// DedupKey identifies a delivery: the webhook id (the same on retries),
// else the event id and topic, else a hash of the body.
func (m WebhookMeta) DedupKey(body []byte) string {
	switch {
	case m.WebhookID != "":
		return "shopify:webhook:" + m.WebhookID
	case m.EventID != "":
		return "shopify:event:" + m.EventID + ":" + m.Topic
	}
	sum := sha256.Sum256(body)
	return "shopify:body:" + m.Topic + ":" + hex.EncodeToString(sum[:16])
}

// WebhookProperty is a REST line-item property.
type WebhookProperty struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// WebhookLineItem is a REST line item.
type WebhookLineItem struct {
	ID         int64             `json:"id"`
	Title      string            `json:"title"`
	Name       string            `json:"name"`
	SKU        string            `json:"sku"`
	Quantity   int               `json:"quantity"`
	Price      string            `json:"price"`
	Properties []WebhookProperty `json:"properties"`
}

// WebhookOrder is the REST order an orders/* webhook carries.
type WebhookOrder struct {
	ID                int64             `json:"id"`
	AdminGraphQLID    string            `json:"admin_graphql_api_id"`
	Name              string            `json:"name"`
	Email             string            `json:"email"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Tags              string            `json:"tags"`
	FinancialStatus   string            `json:"financial_status"`
	FulfillmentStatus *string           `json:"fulfillment_status"`
	TotalPrice        string            `json:"total_price"`
	Currency          string            `json:"currency"`
	LineItems         []WebhookLineItem `json:"line_items"`
}

// DecodeOrderWebhook parses an orders/* body; it needs an id.
func DecodeOrderWebhook(body []byte) (*WebhookOrder, error) {
	var o WebhookOrder
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("shopify webhook body is not a valid order: %w", err)
	}
	if o.ID == 0 {
		return nil, errors.New("shopify webhook order has no id")
	}
	return &o, nil
}

// AsOrder converts the REST shape to Order (properties become custom
// attributes, tags are split) so FinalSaleRule applies to it.
func (w *WebhookOrder) AsOrder() Order {
	o := Order{ID: w.AdminGraphQLID, Name: w.Name, Email: w.Email, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		FinancialStatus: strings.ToUpper(w.FinancialStatus), Total: Money{Amount: w.TotalPrice, CurrencyCode: w.Currency}}
	if o.ID == "" {
		o.ID = fmt.Sprintf("gid://shopify/Order/%d", w.ID)
	}
	for _, t := range strings.Split(w.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.Tags = append(o.Tags, t)
		}
	}
	for _, li := range w.LineItems {
		l := LineItem{ID: fmt.Sprintf("gid://shopify/LineItem/%d", li.ID), Name: li.Name, Title: li.Title, SKU: li.SKU,
			Quantity: li.Quantity, UnitPrice: Money{Amount: li.Price, CurrencyCode: w.Currency}}
		for _, p := range li.Properties {
			l.CustomAttributes = append(l.CustomAttributes, Attribute{Key: p.Name, Value: fmt.Sprint(p.Value)})
		}
		o.LineItems = append(o.LineItems, l)
	}
	return o
}
