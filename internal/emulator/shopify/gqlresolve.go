package shopify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Resolvers of the Admin API subset in admin_schema.graphql, by type and
// field. Every field of the schema has one (TestSchemaFieldsHaveResolvers);
// arguments arrive validated and with their defaults applied.

// resolver returns a field's value: a scalar, an object the field's type
// resolves against, a []any for a list, or nil.
type resolver func(x *execCtx, parent any, args map[string]any) (any, error)

type resolverMap map[string]map[string]resolver

// fieldScopes are the access scopes a root field needs.
var fieldScopes = map[string]string{
	"QueryRoot.orders":   ReadOrdersScope,
	"QueryRoot.order":    ReadOrdersScope,
	"QueryRoot.customer": ReadCustomersScope,
}

func scalar(f func(x *execCtx, p any) any) resolver {
	return func(x *execCtx, p any, _ map[string]any) (any, error) { return f(x, p), nil }
}

func object(f func(x *execCtx, p any) any) resolver {
	return func(x *execCtx, p any, _ map[string]any) (any, error) { return f(x, p), nil }
}

type omap []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the keys in order.
func (m omap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type connResult struct {
	nodes   []any
	cursors []string
	hasNext bool
	hasPrev bool
}

func money(amount, currency string) map[string]string {
	return map[string]string{"amount": amount, "currencyCode": currency}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sortTime is a fixed-width layout, so times sort as strings.
const sortTime = "2006-01-02T15:04:05.000000000Z"

// connEdge is one edge of a connection.
type connEdge struct {
	node   any
	cursor string
}

// connResolvers serve an XConnection type and its XEdge type from a *connResult.
func connResolvers(m resolverMap, node string) {
	m[node+"Connection"] = map[string]resolver{
		"nodes": object(func(x *execCtx, p any) any { return append([]any{}, p.(*connResult).nodes...) }),
		"edges": object(func(x *execCtx, p any) any {
			c := p.(*connResult)
			out := make([]any, len(c.nodes))
			for i, n := range c.nodes {
				out[i] = &connEdge{node: n, cursor: c.cursors[i]}
			}
			return out
		}),
		"pageInfo": object(func(x *execCtx, p any) any { return p }),
	}
	m[node+"Edge"] = map[string]resolver{
		"cursor": scalar(func(x *execCtx, p any) any { return p.(*connEdge).cursor }),
		"node":   object(func(x *execCtx, p any) any { return p.(*connEdge).node }),
	}
}

func newResolvers() resolverMap {
	o := func(p any) *Order { return p.(*Order) }
	li := func(p any) *LineItem { return p.(*lineRef).li }
	cu := func(p any) *Customer { return p.(*Customer) }
	m := resolverMap{
		"QueryRoot": {
			"orders": resolveOrders,
			"order": func(x *execCtx, _ any, a map[string]any) (any, error) {
				n, err := parseGID(a["id"], "Order")
				if err != nil {
					return nil, err
				}
				for _, ord := range x.visibleOrders() {
					if ord.ID == n {
						return ord, nil
					}
				}
				return nil, nil
			},
			"customer": func(x *execCtx, _ any, a map[string]any) (any, error) {
				n, err := parseGID(a["id"], "Customer")
				if err != nil {
					return nil, err
				}
				for _, c := range x.shop.customers {
					if c.ID == n {
						return &c, nil
					}
				}
				return nil, nil
			},
			"shop": object(func(x *execCtx, _ any) any { return x.shop }),
		},
		"Shop": {
			"id":              scalar(func(x *execCtx, p any) any { return gid("Shop", p.(*shopState).id) }),
			"name":            scalar(func(x *execCtx, p any) any { return p.(*shopState).name }),
			"myshopifyDomain": scalar(func(x *execCtx, p any) any { return p.(*shopState).domain }),
			"email":           scalar(func(x *execCtx, p any) any { return "owner@" + p.(*shopState).domain }),
			"currencyCode":    scalar(func(x *execCtx, p any) any { return "USD" }),
		},
		"Order": {
			"id":                       scalar(func(x *execCtx, p any) any { return gid("Order", o(p).ID) }),
			"legacyResourceId":         scalar(func(x *execCtx, p any) any { return strconv.FormatInt(o(p).ID, 10) }),
			"name":                     scalar(func(x *execCtx, p any) any { return o(p).Name() }),
			"number":                   scalar(func(x *execCtx, p any) any { return o(p).Number }),
			"email":                    scalar(func(x *execCtx, p any) any { return nullIfEmpty(o(p).Email) }),
			"createdAt":                scalar(func(x *execCtx, p any) any { return fmtTime(o(p).CreatedAt) }),
			"updatedAt":                scalar(func(x *execCtx, p any) any { return fmtTime(o(p).UpdatedAt) }),
			"processedAt":              scalar(func(x *execCtx, p any) any { return fmtTime(o(p).ProcessedAt) }),
			"cancelledAt":              scalar(func(x *execCtx, p any) any { return optTime(o(p).CancelledAt) }),
			"closedAt":                 scalar(func(x *execCtx, p any) any { return optTime(o(p).ClosedAt) }),
			"closed":                   scalar(func(x *execCtx, p any) any { return o(p).ClosedAt != nil }),
			"tags":                     scalar(func(x *execCtx, p any) any { return append([]string{}, o(p).Tags...) }),
			"note":                     scalar(func(x *execCtx, p any) any { return nullIfEmpty(o(p).Note) }),
			"displayFinancialStatus":   scalar(func(x *execCtx, p any) any { return nullIfEmpty(o(p).FinancialStatus) }),
			"displayFulfillmentStatus": scalar(func(x *execCtx, p any) any { return o(p).FulfillmentStatus }),
			"currencyCode":             scalar(func(x *execCtx, p any) any { return o(p).Currency }),
			"statusPageUrl": scalar(func(x *execCtx, p any) any {
				return fmt.Sprintf("https://%s/orders/%d/authenticate", x.shop.domain, o(p).ID)
			}),
			"totalPriceSet":        object(func(x *execCtx, p any) any { return money(o(p).Total(), o(p).Currency) }),
			"subtotalPriceSet":     object(func(x *execCtx, p any) any { return money(o(p).Total(), o(p).Currency) }),
			"currentTotalPriceSet": object(func(x *execCtx, p any) any { return money(o(p).Total(), o(p).Currency) }),
			"customer": object(func(x *execCtx, p any) any {
				c := o(p).Customer
				if c.ID == 0 {
					return nil
				}
				return &c
			}),
			"customAttributes": object(func(x *execCtx, p any) any { return attrs(o(p).NoteAttributes) }),
			"lineItems":        resolveLineItems,
		},
		"LineItem": {
			"id":                     scalar(func(x *execCtx, p any) any { return gid("LineItem", li(p).ID) }),
			"name":                   scalar(func(x *execCtx, p any) any { return li(p).Name() }),
			"title":                  scalar(func(x *execCtx, p any) any { return li(p).Title }),
			"variantTitle":           scalar(func(x *execCtx, p any) any { return nullIfEmpty(li(p).VariantTitle) }),
			"sku":                    scalar(func(x *execCtx, p any) any { return nullIfEmpty(li(p).SKU) }),
			"quantity":               scalar(func(x *execCtx, p any) any { return li(p).Quantity }),
			"currentQuantity":        scalar(func(x *execCtx, p any) any { return li(p).Quantity }),
			"customAttributes":       object(func(x *execCtx, p any) any { return attrs(li(p).Properties) }),
			"originalUnitPriceSet":   object(func(x *execCtx, p any) any { return money(li(p).Price, p.(*lineRef).currency) }),
			"discountedUnitPriceSet": object(func(x *execCtx, p any) any { return money(li(p).Price, p.(*lineRef).currency) }),
			"variant":                object(func(x *execCtx, p any) any { return li(p) }),
			"product":                object(func(x *execCtx, p any) any { return li(p) }),
		},
		"ProductVariant": {
			"id":    scalar(func(x *execCtx, p any) any { return gid("ProductVariant", p.(*LineItem).VariantID) }),
			"sku":   scalar(func(x *execCtx, p any) any { return nullIfEmpty(p.(*LineItem).SKU) }),
			"title": scalar(func(x *execCtx, p any) any { return p.(*LineItem).VariantTitle }),
		},
		"Product": {
			"id":     scalar(func(x *execCtx, p any) any { return gid("Product", p.(*LineItem).ProductID) }),
			"title":  scalar(func(x *execCtx, p any) any { return p.(*LineItem).Title }),
			"handle": scalar(func(x *execCtx, p any) any { return strings.ToLower(strings.ReplaceAll(p.(*LineItem).Title, " ", "-")) }),
		},
		"MoneyBag": {
			"shopMoney":        object(func(x *execCtx, p any) any { return p }),
			"presentmentMoney": object(func(x *execCtx, p any) any { return p }),
		},
		"MoneyV2": {
			"amount":       scalar(func(x *execCtx, p any) any { return p.(map[string]string)["amount"] }),
			"currencyCode": scalar(func(x *execCtx, p any) any { return p.(map[string]string)["currencyCode"] }),
		},
		"Customer": {
			"id":               scalar(func(x *execCtx, p any) any { return gid("Customer", cu(p).ID) }),
			"legacyResourceId": scalar(func(x *execCtx, p any) any { return strconv.FormatInt(cu(p).ID, 10) }),
			"email":            scalar(func(x *execCtx, p any) any { return nullIfEmpty(cu(p).Email) }),
			"defaultEmailAddress": object(func(x *execCtx, p any) any {
				if cu(p).Email == "" {
					return nil
				}
				return cu(p)
			}),
			"firstName": scalar(func(x *execCtx, p any) any { return nullIfEmpty(cu(p).FirstName) }),
			"lastName":  scalar(func(x *execCtx, p any) any { return nullIfEmpty(cu(p).LastName) }),
			"displayName": scalar(func(x *execCtx, p any) any {
				if n := strings.TrimSpace(cu(p).FirstName + " " + cu(p).LastName); n != "" {
					return n
				}
				return cu(p).Email
			}),
		},
		"CustomerEmailAddress": {
			"emailAddress": scalar(func(x *execCtx, p any) any { return cu(p).Email }),
		},
		"Attribute": {
			"key":   scalar(func(x *execCtx, p any) any { return p.(Attribute).Key }),
			"value": scalar(func(x *execCtx, p any) any { return nullIfEmpty(p.(Attribute).Value) }),
		},
		"PageInfo": {
			"hasNextPage":     scalar(func(x *execCtx, p any) any { return p.(*connResult).hasNext }),
			"hasPreviousPage": scalar(func(x *execCtx, p any) any { return p.(*connResult).hasPrev }),
			"startCursor": scalar(func(x *execCtx, p any) any {
				if c := p.(*connResult); len(c.cursors) > 0 {
					return c.cursors[0]
				}
				return nil
			}),
			"endCursor": scalar(func(x *execCtx, p any) any {
				if c := p.(*connResult); len(c.cursors) > 0 {
					return c.cursors[len(c.cursors)-1]
				}
				return nil
			}),
		},
	}
	connResolvers(m, "Order")
	connResolvers(m, "LineItem")
	return m
}

// parseGID reads the numeric id of a gid://shopify/<kind>/<n> ID.
func parseGID(v any, kind string) (int64, error) {
	id, _ := v.(string)
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "gid://shopify/"+kind+"/"), 10, 64)
	if err != nil || !strings.HasPrefix(id, "gid://shopify/"+kind+"/") {
		return 0, &gqlError{Message: fmt.Sprintf("Invalid global id '%s'", id), Ext: map[string]any{"code": "argumentLiteralsIncompatible"}}
	}
	return n, nil
}

type lineRef struct {
	li       *LineItem
	currency string
}

func attrs(a []Attribute) []any {
	out := make([]any, 0, len(a))
	for _, x := range a {
		out = append(out, x)
	}
	return out
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// visibleOrders applies the 60-day rule unless the token has read_all_orders.
func (x *execCtx) visibleOrders() []*Order {
	var out []*Order
	cutoff := x.now.AddDate(0, 0, -x.shop.orderDays)
	for _, o := range x.shop.orders {
		if !x.scopes[ReadAllOrders] && o.CreatedAt.Before(cutoff) {
			continue
		}
		out = append(out, o)
	}
	return out
}

type cursorData struct {
	LastID    int64  `json:"last_id"`
	LastValue string `json:"last_value"`
}

func makeCursor(id int64, v string) string {
	b, _ := json.Marshal(cursorData{id, v})
	return base64.StdEncoding.EncodeToString(b)
}

func readCursor(s string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	var c cursorData
	if json.Unmarshal(b, &c) != nil || c.LastID == 0 {
		return 0, false
	}
	return c.LastID, true
}

func intArg(a map[string]any, k string) (int, bool) {
	switch v := a[k].(type) {
	case int64:
		return int(v), true
	case float64:
		return int(v), v == float64(int(v))
	case int:
		return v, true
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// page slices ids (already sorted) by first/last/after/before.
func page(ids []int64, a map[string]any) (from, to int, hasPrev, hasNext bool, err error) {
	from, to = 0, len(ids)
	find := func(c string) (int, error) {
		id, ok := readCursor(c)
		if !ok {
			return 0, errString("Invalid cursor for current pagination sort.")
		}
		for i, x := range ids {
			if x == id {
				return i, nil
			}
		}
		return 0, errString("Invalid cursor for current pagination sort.")
	}
	if c, _ := a["after"].(string); c != "" {
		i, err := find(c)
		if err != nil {
			return 0, 0, false, false, err
		}
		from, hasPrev = i+1, true
	}
	if c, _ := a["before"].(string); c != "" {
		i, err := find(c)
		if err != nil {
			return 0, 0, false, false, err
		}
		to, hasNext = i, true
	}
	if from > to {
		from = to
	}
	if n, ok := intArg(a, "first"); ok {
		if to-from > n {
			to, hasNext = from+n, true
		}
	}
	if n, ok := intArg(a, "last"); ok {
		if to-from > n {
			from, hasPrev = to-n, true
		}
	}
	return from, to, hasPrev, hasNext, nil
}

func resolveOrders(x *execCtx, _ any, a map[string]any) (any, error) {
	orders := x.visibleOrders()
	if q, _ := a["query"].(string); strings.TrimSpace(q) != "" {
		s, err := parseSearch(q)
		if err != nil {
			return nil, err
		}
		x.search = append(x.search, s.warnings...)
		var kept []*Order
		for _, o := range orders {
			ok, err := s.match(o)
			if err != nil {
				return nil, err
			}
			if ok {
				kept = append(kept, o)
			}
		}
		orders = kept
	}
	key, _ := a["sortKey"].(string)
	sortVal := func(o *Order) string {
		switch key {
		case "CREATED_AT":
			return o.CreatedAt.UTC().Format(sortTime)
		case "UPDATED_AT":
			return o.UpdatedAt.UTC().Format(sortTime)
		case "PROCESSED_AT":
			return o.ProcessedAt.UTC().Format(sortTime)
		case "ORDER_NUMBER":
			return fmt.Sprintf("%012d", o.Number)
		case "CUSTOMER_NAME":
			return strings.ToLower(strings.TrimSpace(o.Customer.FirstName + " " + o.Customer.LastName))
		case "FINANCIAL_STATUS":
			return o.FinancialStatus
		case "FULFILLMENT_STATUS":
			return o.FulfillmentStatus
		case "TOTAL_PRICE":
			return fmt.Sprintf("%020s", o.Total())
		case "TOTAL_ITEMS_QUANTITY":
			n := 0
			for _, li := range o.LineItems {
				n += li.Quantity
			}
			return fmt.Sprintf("%012d", n)
		}
		// ID and RELEVANCE (no search ranking is emulated).
		return fmt.Sprintf("%020d", o.ID)
	}
	sort.SliceStable(orders, func(i, j int) bool {
		vi, vj := sortVal(orders[i]), sortVal(orders[j])
		if vi != vj {
			return vi < vj
		}
		return orders[i].ID < orders[j].ID
	})
	if rev, _ := a["reverse"].(bool); rev {
		for i, j := 0, len(orders)-1; i < j; i, j = i+1, j-1 {
			orders[i], orders[j] = orders[j], orders[i]
		}
	}
	ids := make([]int64, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
	}
	from, to, hasPrev, hasNext, err := page(ids, a)
	if err != nil {
		return nil, err
	}
	c := &connResult{hasNext: hasNext, hasPrev: hasPrev}
	for _, o := range orders[from:to] {
		c.nodes = append(c.nodes, o)
		c.cursors = append(c.cursors, makeCursor(o.ID, cursorVal(key, o, sortVal)))
	}
	return c, nil
}

// cursorVal is the sort value a cursor carries (times in RFC 3339).
func cursorVal(key string, o *Order, sortVal func(*Order) string) string {
	switch key {
	case "CREATED_AT":
		return o.CreatedAt.UTC().Format(time.RFC3339Nano)
	case "UPDATED_AT":
		return o.UpdatedAt.UTC().Format(time.RFC3339Nano)
	case "PROCESSED_AT":
		return o.ProcessedAt.UTC().Format(time.RFC3339Nano)
	}
	return sortVal(o)
}

func resolveLineItems(x *execCtx, p any, a map[string]any) (any, error) {
	o := p.(*Order)
	items := append([]*LineItem(nil), o.LineItems...)
	if rev, _ := a["reverse"].(bool); rev {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	ids := make([]int64, len(items))
	for i, li := range items {
		ids[i] = li.ID
	}
	from, to, hasPrev, hasNext, err := page(ids, a)
	if err != nil {
		return nil, err
	}
	c := &connResult{hasNext: hasNext, hasPrev: hasPrev}
	for _, li := range items[from:to] {
		c.nodes = append(c.nodes, &lineRef{li: li, currency: o.Currency})
		c.cursors = append(c.cursors, makeCursor(li.ID, strconv.FormatInt(li.ID, 10)))
	}
	return c, nil
}
