package shopify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// Money is a MoneyV2.
type Money struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

// Attribute is a key/value pair (line-item properties, note attributes).
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Customer is an order's customer. Email is its default email address
// (Customer.defaultEmailAddress.emailAddress; Customer.email is deprecated).
type Customer struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// LineItem is one order line.
type LineItem struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Title            string      `json:"title"`
	VariantTitle     string      `json:"variantTitle"`
	SKU              string      `json:"sku"`
	Quantity         int         `json:"quantity"`
	UnitPrice        Money       `json:"unitPrice"`
	CustomAttributes []Attribute `json:"customAttributes"`
}

// Attr returns the value of a custom attribute (case-insensitive key).
func (li LineItem) Attr(key string) (string, bool) {
	for _, a := range li.CustomAttributes {
		if strings.EqualFold(strings.TrimSpace(a.Key), key) {
			return a.Value, true
		}
	}
	return "", false
}

// Order is an order as the final-sale view needs it.
type Order struct {
	ID                string      `json:"id"`
	Name              string      `json:"name"`
	Email             string      `json:"email"`
	CreatedAt         time.Time   `json:"createdAt"`
	UpdatedAt         time.Time   `json:"updatedAt"`
	ProcessedAt       time.Time   `json:"processedAt"`
	CancelledAt       *time.Time  `json:"cancelledAt"`
	Tags              []string    `json:"tags"`
	FinancialStatus   string      `json:"financialStatus"`
	FulfillmentStatus string      `json:"fulfillmentStatus"`
	Total             Money       `json:"total"`
	Customer          *Customer   `json:"customer"`
	CustomAttributes  []Attribute `json:"customAttributes"`
	LineItems         []LineItem  `json:"lineItems"`
	StatusPageURL     string      `json:"statusPageUrl"`
}

const lineItemFields = `id name title variantTitle sku quantity
          originalUnitPriceSet { shopMoney { amount currencyCode } }
          customAttributes { key value }`

const ordersQuery = `query OrdersByEmail($first: Int!, $after: String, $query: String!, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name email createdAt updatedAt processedAt cancelledAt tags statusPageUrl
      displayFinancialStatus displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id firstName lastName defaultEmailAddress { emailAddress } }
      customAttributes { key value }
      lineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        edges { node { ` + lineItemFields + ` } }
      }
    } }
  }
}`

const lineItemsQuery = `query OrderLineItems($id: ID!, $lines: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $lines, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { ` + lineItemFields + ` } }
    }
  }
}`

type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

type moneyBag struct {
	ShopMoney Money `json:"shopMoney"`
}

type lineConn struct {
	PageInfo pageInfo `json:"pageInfo"`
	Edges    []struct {
		Node struct {
			ID               string     `json:"id"`
			Name             string     `json:"name"`
			Title            string     `json:"title"`
			VariantTitle     *string    `json:"variantTitle"`
			SKU              *string    `json:"sku"`
			Quantity         int        `json:"quantity"`
			Price            moneyBag   `json:"originalUnitPriceSet"`
			CustomAttributes []attrNode `json:"customAttributes"`
		} `json:"node"`
	} `json:"edges"`
}

type attrNode struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func attrsOf(ns []attrNode) []Attribute {
	out := make([]Attribute, 0, len(ns))
	for _, a := range ns {
		v := ""
		if a.Value != nil {
			v = *a.Value
		}
		out = append(out, Attribute{Key: a.Key, Value: v})
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (lc lineConn) items() []LineItem {
	out := make([]LineItem, 0, len(lc.Edges))
	for _, e := range lc.Edges {
		n := e.Node
		out = append(out, LineItem{ID: n.ID, Name: n.Name, Title: n.Title, VariantTitle: str(n.VariantTitle), SKU: str(n.SKU),
			Quantity: n.Quantity, UnitPrice: n.Price.ShopMoney, CustomAttributes: attrsOf(n.CustomAttributes)})
	}
	return out
}

type orderNode struct {
	ID                       string        `json:"id"`
	Name                     string        `json:"name"`
	Email                    *string       `json:"email"`
	CreatedAt                time.Time     `json:"createdAt"`
	UpdatedAt                time.Time     `json:"updatedAt"`
	ProcessedAt              time.Time     `json:"processedAt"`
	CancelledAt              *time.Time    `json:"cancelledAt"`
	Tags                     []string      `json:"tags"`
	StatusPageURL            string        `json:"statusPageUrl"`
	DisplayFinancialStatus   *string       `json:"displayFinancialStatus"`
	DisplayFulfillmentStatus string        `json:"displayFulfillmentStatus"`
	TotalPriceSet            moneyBag      `json:"totalPriceSet"`
	Customer                 *customerNode `json:"customer"`
	CustomAttributes         []attrNode    `json:"customAttributes"`
	LineItems                lineConn      `json:"lineItems"`
}

type customerNode struct {
	ID                  string  `json:"id"`
	FirstName           *string `json:"firstName"`
	LastName            *string `json:"lastName"`
	DefaultEmailAddress *struct {
		EmailAddress *string `json:"emailAddress"`
	} `json:"defaultEmailAddress"`
}

func (n *customerNode) customer() *Customer {
	if n == nil {
		return nil
	}
	c := &Customer{ID: n.ID, FirstName: str(n.FirstName), LastName: str(n.LastName)}
	if n.DefaultEmailAddress != nil {
		c.Email = str(n.DefaultEmailAddress.EmailAddress)
	}
	return c
}

// quote renders a search-syntax value in double quotes.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// OrdersByEmail returns every order of email created at or after since
// (zero: no lower bound), newest first, paging orders and line items to the
// end. Orders are filtered locally too, so a server that ignores part of
// the search query still gives the right answer.
func (c *Client) OrdersByEmail(ctx context.Context, email string, since time.Time) ([]Order, error) {
	email = strings.TrimSpace(email)
	if email == "" || !strings.Contains(email, "@") {
		return nil, domain.Errorf(domain.EINVALID, "shopify: a valid email is required")
	}
	q := "email:" + quote(email)
	if !since.IsZero() {
		q += " created_at:>=" + quote(since.UTC().Format(time.RFC3339))
	}
	var out []Order
	var after any
	for page := 1; ; page++ {
		var data struct {
			Orders struct {
				PageInfo pageInfo `json:"pageInfo"`
				Edges    []struct {
					Node orderNode `json:"node"`
				} `json:"edges"`
			} `json:"orders"`
		}
		vars := map[string]any{"first": c.cfg.PageSize, "after": after, "query": q, "lines": c.cfg.LineItemPageSize}
		if _, err := c.Query(ctx, "OrdersByEmail", ordersQuery, vars, &data); err != nil {
			return nil, fmt.Errorf("error listing shopify orders (page %d): %w", page, err)
		}
		for _, e := range data.Orders.Edges {
			n := e.Node
			o := Order{ID: n.ID, Name: n.Name, Email: str(n.Email), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
				ProcessedAt: n.ProcessedAt, CancelledAt: n.CancelledAt, Tags: n.Tags, StatusPageURL: n.StatusPageURL,
				FinancialStatus: str(n.DisplayFinancialStatus), FulfillmentStatus: n.DisplayFulfillmentStatus,
				Total: n.TotalPriceSet.ShopMoney, Customer: n.Customer.customer(), CustomAttributes: attrsOf(n.CustomAttributes),
				LineItems: n.LineItems.items()}
			if n.LineItems.PageInfo.HasNextPage {
				more, err := c.moreLineItems(ctx, n.ID, n.LineItems.PageInfo.EndCursor)
				if err != nil {
					return nil, err
				}
				o.LineItems = append(o.LineItems, more...)
			}
			if !strings.EqualFold(o.Email, email) && (o.Customer == nil || !strings.EqualFold(o.Customer.Email, email)) {
				continue
			}
			if !since.IsZero() && o.CreatedAt.Before(since) {
				continue
			}
			out = append(out, o)
		}
		if !data.Orders.PageInfo.HasNextPage || data.Orders.PageInfo.EndCursor == "" {
			return out, nil
		}
		after = data.Orders.PageInfo.EndCursor
	}
}

func (c *Client) moreLineItems(ctx context.Context, orderID, after string) ([]LineItem, error) {
	var out []LineItem
	for {
		var data struct {
			Order *struct {
				LineItems lineConn `json:"lineItems"`
			} `json:"order"`
		}
		vars := map[string]any{"id": orderID, "lines": c.cfg.LineItemPageSize, "after": after}
		if _, err := c.Query(ctx, "OrderLineItems", lineItemsQuery, vars, &data); err != nil {
			return nil, fmt.Errorf("error listing shopify line items of %s: %w", orderID, err)
		}
		if data.Order == nil {
			return out, nil
		}
		out = append(out, data.Order.LineItems.items()...)
		pi := data.Order.LineItems.PageInfo
		if !pi.HasNextPage || pi.EndCursor == "" {
			return out, nil
		}
		after = pi.EndCursor
	}
}

// Final-sale detection defaults (assumption, docs/assumptions/shopify.md).
var defaultFinalSaleKeys = []string{"_together_final_sale", "_final_sale", "final_sale", "final sale"}

// FinalSaleWindow is how long after placement an upgraded order is shown.
const FinalSaleWindow = 60 * 24 * time.Hour

// FinalSaleRule says how a line item upgraded to final sale is recognised.
type FinalSaleRule struct {
	// Keys are line-item property keys (case-insensitive) whose truthy
	// value (true, yes, 1, y, final sale) marks the line final sale.
	// Default: _together_final_sale, _final_sale, final_sale, "final sale".
	Keys []string
	// Tags, when set, are order tags that make every line final sale.
	Tags []string
	// UpgradedAtKey names the property holding the upgrade time
	// (default _together_upgraded_at).
	UpgradedAtKey string
	// Window is the look-back from now (default 60 days).
	Window time.Duration
}

func (r FinalSaleRule) withDefaults() FinalSaleRule {
	if len(r.Keys) == 0 {
		r.Keys = defaultFinalSaleKeys
	}
	if r.UpgradedAtKey == "" {
		r.UpgradedAtKey = "_together_upgraded_at"
	}
	if r.Window <= 0 {
		r.Window = FinalSaleWindow
	}
	return r
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "1", "final sale", "final_sale":
		return true
	}
	return false
}

// IsFinalSale reports whether li (of o) is upgraded to final sale.
func (r FinalSaleRule) IsFinalSale(o Order, li LineItem) bool {
	r = r.withDefaults()
	for _, k := range r.Keys {
		if v, ok := li.Attr(k); ok && truthy(v) {
			return true
		}
	}
	for _, t := range r.Tags {
		for _, ot := range o.Tags {
			if strings.EqualFold(strings.TrimSpace(ot), t) {
				return true
			}
		}
	}
	return false
}

// FinalSaleOrder is an order with its final-sale lines.
type FinalSaleOrder struct {
	Order
	// Items are the lines upgraded to final sale.
	Items []LineItem
	// UpgradedAt is the latest upgrade time found on those lines (zero
	// when the property is absent).
	UpgradedAt time.Time
}

// FinalSaleOrders returns email's orders placed in the last 60 days (the
// rule's window) that have at least one line upgraded to final sale,
// newest first. None is an empty slice, not an error.
func (c *Client) FinalSaleOrders(ctx context.Context, email string, now time.Time) ([]FinalSaleOrder, error) {
	rule := c.cfg.FinalSale
	since := now.Add(-rule.Window)
	orders, err := c.OrdersByEmail(ctx, email, since)
	if err != nil {
		return nil, err
	}
	out := []FinalSaleOrder{}
	for _, o := range orders {
		if o.CreatedAt.Before(since) || o.CreatedAt.After(now) {
			continue
		}
		fo := FinalSaleOrder{Order: o}
		for _, li := range o.LineItems {
			if !rule.IsFinalSale(o, li) {
				continue
			}
			fo.Items = append(fo.Items, li)
			if v, ok := li.Attr(rule.UpgradedAtKey); ok {
				if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(fo.UpgradedAt) {
					fo.UpgradedAt = t
				}
			}
		}
		if len(fo.Items) > 0 {
			out = append(out, fo)
		}
	}
	return out, nil
}
