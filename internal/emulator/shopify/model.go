package shopify

import (
	"fmt"
	"strings"
	"time"
)

// Final-sale line-item properties written by the emulated Together app
// (assumption, docs/assumptions/shopify.md).
const (
	FinalSaleKey    = "_together_final_sale"
	UpgradedAtKey   = "_together_upgraded_at"
	DiscountCodeKey = "_together_discount_code"
	FinalSaleTag    = "together-final-sale"
	ReadAllOrders   = "read_all_orders"
	ReadOrdersScope = "read_orders"
	// ReadCustomersScope is needed by QueryRoot.customer.
	ReadCustomersScope = "read_customers"
	defaultOrderDays   = 60
)

// Attribute is a key/value pair (line-item properties, note attributes).
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Customer is an order's customer.
type Customer struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// LineItem is one order line.
type LineItem struct {
	ID           int64       `json:"id"`
	ProductID    int64       `json:"product_id"`
	VariantID    int64       `json:"variant_id"`
	Title        string      `json:"title"`
	VariantTitle string      `json:"variant_title"`
	SKU          string      `json:"sku"`
	Quantity     int         `json:"quantity"`
	Price        string      `json:"price"`
	Properties   []Attribute `json:"properties"`
}

// Name is "Title - Variant" as Shopify renders it.
func (li *LineItem) Name() string {
	if li.VariantTitle == "" {
		return li.Title
	}
	return li.Title + " - " + li.VariantTitle
}

// FinalSale reports whether the line carries the final-sale property.
func (li *LineItem) FinalSale() bool {
	for _, p := range li.Properties {
		if p.Key == FinalSaleKey && p.Value == "true" {
			return true
		}
	}
	return false
}

// Order is an order in the emulated shop.
type Order struct {
	ID                int64       `json:"id"`
	Number            int         `json:"order_number"`
	Email             string      `json:"email"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
	ProcessedAt       time.Time   `json:"processed_at"`
	CancelledAt       *time.Time  `json:"cancelled_at"`
	ClosedAt          *time.Time  `json:"closed_at"`
	Tags              []string    `json:"tags"`
	Note              string      `json:"note"`
	FinancialStatus   string      `json:"financial_status"`
	FulfillmentStatus string      `json:"fulfillment_status"`
	Currency          string      `json:"currency"`
	NoteAttributes    []Attribute `json:"note_attributes"`
	Customer          Customer    `json:"customer"`
	LineItems         []*LineItem `json:"line_items"`
}

// Name is "#<number>".
func (o *Order) Name() string { return fmt.Sprintf("#%d", o.Number) }

// Total is the sum of the line prices.
func (o *Order) Total() string {
	cents := int64(0)
	for _, li := range o.LineItems {
		var d, c int64
		fmt.Sscanf(li.Price, "%d.%d", &d, &c)
		cents += (d*100 + c) * int64(li.Quantity)
	}
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

func (o *Order) clone() *Order {
	cp := *o
	cp.Tags = append([]string(nil), o.Tags...)
	cp.NoteAttributes = append([]Attribute(nil), o.NoteAttributes...)
	cp.LineItems = nil
	for _, li := range o.LineItems {
		l := *li
		l.Properties = append([]Attribute(nil), li.Properties...)
		cp.LineItems = append(cp.LineItems, &l)
	}
	return &cp
}

func gid(kind string, id int64) string { return fmt.Sprintf("gid://shopify/%s/%d", kind, id) }

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if strings.EqualFold(x, t) {
			return true
		}
	}
	return false
}

// restOrder renders the order as the REST/webhook JSON payload.
func restOrder(o *Order, shop string) map[string]any {
	items := make([]map[string]any, 0, len(o.LineItems))
	for _, li := range o.LineItems {
		props := make([]map[string]string, 0, len(li.Properties))
		for _, p := range li.Properties {
			props = append(props, map[string]string{"name": p.Key, "value": p.Value})
		}
		items = append(items, map[string]any{
			"id": li.ID, "admin_graphql_api_id": gid("LineItem", li.ID), "product_id": li.ProductID, "variant_id": li.VariantID,
			"title": li.Title, "variant_title": li.VariantTitle, "name": li.Name(), "sku": li.SKU, "quantity": li.Quantity,
			"current_quantity": li.Quantity, "price": li.Price, "total_discount": "0.00", "fulfillment_status": nullIfEmpty(lower(o.FulfillmentStatus)),
			"properties": props,
		})
	}
	notes := make([]map[string]string, 0, len(o.NoteAttributes))
	for _, p := range o.NoteAttributes {
		notes = append(notes, map[string]string{"name": p.Key, "value": p.Value})
	}
	return map[string]any{
		"id": o.ID, "admin_graphql_api_id": gid("Order", o.ID), "name": o.Name(), "order_number": o.Number, "email": o.Email,
		"created_at": o.CreatedAt.Format(time.RFC3339), "updated_at": o.UpdatedAt.Format(time.RFC3339),
		"processed_at": o.ProcessedAt.Format(time.RFC3339), "cancelled_at": timePtr(o.CancelledAt), "closed_at": timePtr(o.ClosedAt),
		"tags": strings.Join(o.Tags, ", "), "note": nullIfEmpty(o.Note), "financial_status": lower(o.FinancialStatus),
		"fulfillment_status": nullIfEmpty(lower(o.FulfillmentStatus)), "total_price": o.Total(), "currency": o.Currency,
		"customer":        map[string]any{"id": o.Customer.ID, "email": o.Customer.Email, "first_name": o.Customer.FirstName, "last_name": o.Customer.LastName},
		"note_attributes": notes, "line_items": items, "source_name": "web",
		"order_status_url": fmt.Sprintf("https://%s/orders/%d/authenticate", shop, o.ID),
	}
}

func lower(s string) string {
	s = strings.ToLower(s)
	if s == "unfulfilled" {
		return ""
	}
	return s
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(time.RFC3339)
}
