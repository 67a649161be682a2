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

// The Admin GraphQL subset: QueryRoot.orders / order / shop and the Order,
// LineItem, Customer, MoneyBag, MoneyV2, Attribute, ProductVariant, Product
// and PageInfo types. Validation (unknown fields and arguments, undeclared
// variables, connections without first/last) happens before execution, as
// does the requested cost.

type fkind int

const (
	fScalar fkind = iota
	fObject
	fObjList
	fConn
)

type fieldDef struct {
	kind    fkind
	typ     string
	args    map[string]string
	scope   string
	resolve func(x *execCtx, parent any, args map[string]any) (any, error)
}

type schemaDef map[string]map[string]*fieldDef

// omap is a JSON object that keeps the selection order.
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

type execCtx struct {
	doc    *document
	vars   map[string]any
	shop   *shopState
	scopes map[string]bool
	now    time.Time
	errs   []*gqlError
	search []string
}

var connArgs = map[string]string{"first": "Int", "last": "Int", "after": "String", "before": "String", "reverse": "Boolean"}

var orderSortKeys = map[string]bool{"CREATED_AT": true, "UPDATED_AT": true, "PROCESSED_AT": true, "ID": true, "ORDER_NUMBER": true, "RELEVANCE": true}

func scalar(f func(x *execCtx, p any) any) *fieldDef {
	return &fieldDef{kind: fScalar, resolve: func(x *execCtx, p any, _ map[string]any) (any, error) { return f(x, p), nil }}
}

func money(amount, currency string) map[string]string {
	return map[string]string{"amount": amount, "currencyCode": currency}
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func newSchema() schemaDef {
	ordersArgs := map[string]string{"query": "String", "sortKey": "OrderSortKeys"}
	for k, v := range connArgs {
		ordersArgs[k] = v
	}
	o := func(p any) *Order { return p.(*Order) }
	li := func(p any) *LineItem { return p.(*lineRef).li }
	return schemaDef{
		"QueryRoot": {
			"orders": {kind: fConn, typ: "Order", args: ordersArgs, scope: ReadOrdersScope, resolve: resolveOrders},
			"order": {kind: fObject, typ: "Order", args: map[string]string{"id": "ID!"}, scope: ReadOrdersScope,
				resolve: func(x *execCtx, _ any, a map[string]any) (any, error) {
					id, _ := a["id"].(string)
					n, err := strconv.ParseInt(strings.TrimPrefix(id, "gid://shopify/Order/"), 10, 64)
					if err != nil {
						return nil, fmt.Errorf("invalid id %q", id)
					}
					for _, ord := range x.visibleOrders() {
						if ord.ID == n {
							return ord, nil
						}
					}
					return nil, nil
				}},
			"shop": {kind: fObject, typ: "Shop", resolve: func(x *execCtx, _ any, _ map[string]any) (any, error) { return x.shop, nil }},
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
			"email":                    scalar(func(x *execCtx, p any) any { return o(p).Email }),
			"createdAt":                scalar(func(x *execCtx, p any) any { return fmtTime(o(p).CreatedAt) }),
			"updatedAt":                scalar(func(x *execCtx, p any) any { return fmtTime(o(p).UpdatedAt) }),
			"processedAt":              scalar(func(x *execCtx, p any) any { return fmtTime(o(p).ProcessedAt) }),
			"cancelledAt":              scalar(func(x *execCtx, p any) any { return optTime(o(p).CancelledAt) }),
			"closedAt":                 scalar(func(x *execCtx, p any) any { return optTime(o(p).ClosedAt) }),
			"closed":                   scalar(func(x *execCtx, p any) any { return o(p).ClosedAt != nil }),
			"tags":                     scalar(func(x *execCtx, p any) any { return append([]string{}, o(p).Tags...) }),
			"note":                     scalar(func(x *execCtx, p any) any { return nullIfEmpty(o(p).Note) }),
			"displayFinancialStatus":   scalar(func(x *execCtx, p any) any { return o(p).FinancialStatus }),
			"displayFulfillmentStatus": scalar(func(x *execCtx, p any) any { return o(p).FulfillmentStatus }),
			"currencyCode":             scalar(func(x *execCtx, p any) any { return o(p).Currency }),
			"statusPageUrl": scalar(func(x *execCtx, p any) any {
				return fmt.Sprintf("https://%s/orders/%d/authenticate", x.shop.domain, o(p).ID)
			}),
			"totalPriceSet": {kind: fObject, typ: "MoneyBag", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return money(o(p).Total(), o(p).Currency), nil
			}},
			"subtotalPriceSet": {kind: fObject, typ: "MoneyBag", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return money(o(p).Total(), o(p).Currency), nil
			}},
			"customer": {kind: fObject, typ: "Customer", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				c := o(p).Customer
				return &c, nil
			}},
			"customAttributes": {kind: fObjList, typ: "Attribute", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return attrs(o(p).NoteAttributes), nil
			}},
			"lineItems": {kind: fConn, typ: "LineItem", args: connArgs, resolve: resolveLineItems},
		},
		"LineItem": {
			"id":              scalar(func(x *execCtx, p any) any { return gid("LineItem", li(p).ID) }),
			"name":            scalar(func(x *execCtx, p any) any { return li(p).Name() }),
			"title":           scalar(func(x *execCtx, p any) any { return li(p).Title }),
			"variantTitle":    scalar(func(x *execCtx, p any) any { return nullIfEmpty(li(p).VariantTitle) }),
			"sku":             scalar(func(x *execCtx, p any) any { return nullIfEmpty(li(p).SKU) }),
			"quantity":        scalar(func(x *execCtx, p any) any { return li(p).Quantity }),
			"currentQuantity": scalar(func(x *execCtx, p any) any { return li(p).Quantity }),
			"customAttributes": {kind: fObjList, typ: "Attribute", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return attrs(li(p).Properties), nil
			}},
			"originalUnitPriceSet": {kind: fObject, typ: "MoneyBag", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return money(li(p).Price, p.(*lineRef).currency), nil
			}},
			"discountedUnitPriceSet": {kind: fObject, typ: "MoneyBag", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return money(li(p).Price, p.(*lineRef).currency), nil
			}},
			"variant": {kind: fObject, typ: "ProductVariant", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return li(p), nil
			}},
			"product": {kind: fObject, typ: "Product", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) {
				return li(p), nil
			}},
		},
		"ProductVariant": {
			"id":    scalar(func(x *execCtx, p any) any { return gid("ProductVariant", p.(*LineItem).VariantID) }),
			"sku":   scalar(func(x *execCtx, p any) any { return p.(*LineItem).SKU }),
			"title": scalar(func(x *execCtx, p any) any { return p.(*LineItem).VariantTitle }),
		},
		"Product": {
			"id":     scalar(func(x *execCtx, p any) any { return gid("Product", p.(*LineItem).ProductID) }),
			"title":  scalar(func(x *execCtx, p any) any { return p.(*LineItem).Title }),
			"handle": scalar(func(x *execCtx, p any) any { return strings.ToLower(strings.ReplaceAll(p.(*LineItem).Title, " ", "-")) }),
		},
		"MoneyBag": {
			"shopMoney":        {kind: fObject, typ: "MoneyV2", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) { return p, nil }},
			"presentmentMoney": {kind: fObject, typ: "MoneyV2", resolve: func(x *execCtx, p any, _ map[string]any) (any, error) { return p, nil }},
		},
		"MoneyV2": {
			"amount":       scalar(func(x *execCtx, p any) any { return p.(map[string]string)["amount"] }),
			"currencyCode": scalar(func(x *execCtx, p any) any { return p.(map[string]string)["currencyCode"] }),
		},
		"Customer": {
			"id":               scalar(func(x *execCtx, p any) any { return gid("Customer", p.(*Customer).ID) }),
			"legacyResourceId": scalar(func(x *execCtx, p any) any { return strconv.FormatInt(p.(*Customer).ID, 10) }),
			"email":            scalar(func(x *execCtx, p any) any { return p.(*Customer).Email }),
			"firstName":        scalar(func(x *execCtx, p any) any { return p.(*Customer).FirstName }),
			"lastName":         scalar(func(x *execCtx, p any) any { return p.(*Customer).LastName }),
			"displayName": scalar(func(x *execCtx, p any) any {
				return strings.TrimSpace(p.(*Customer).FirstName + " " + p.(*Customer).LastName)
			}),
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
			return o.CreatedAt.UTC().Format(time.RFC3339Nano)
		case "UPDATED_AT":
			return o.UpdatedAt.UTC().Format(time.RFC3339Nano)
		case "PROCESSED_AT":
			return o.ProcessedAt.UTC().Format(time.RFC3339Nano)
		case "ORDER_NUMBER":
			return fmt.Sprintf("%012d", o.Number)
		}
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
		c.cursors = append(c.cursors, makeCursor(o.ID, sortVal(o)))
	}
	return c, nil
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

// ---- validation and requested cost ----

// collect flattens fragments and inline fragments for typ, honouring
// @include / @skip.
func (x *execCtx) collect(typ string, sel []selection, depth int) ([]*field, error) {
	if depth > 20 {
		return nil, &gqlError{Message: "Fragment cycle or nesting too deep"}
	}
	var out []*field
	for _, s := range sel {
		if !x.included(s.dirs) {
			continue
		}
		switch {
		case s.field != nil:
			out = append(out, s.field)
		case s.inline != nil:
			if s.inline.typeCond != "" && s.inline.typeCond != typ {
				continue
			}
			fs, err := x.collect(typ, s.inline.sel, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		default:
			fr, ok := x.doc.frags[s.spread]
			if !ok {
				return nil, errAt(s.line, s.col, "undefinedFragment", "Fragment %s was used, but not defined", s.spread)
			}
			if fr.typeCond != typ {
				continue
			}
			fs, err := x.collect(typ, fr.sel, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
	}
	return out, nil
}

func (x *execCtx) included(dirs []directive) bool {
	for _, d := range dirs {
		for _, a := range d.args {
			if a.name != "if" {
				continue
			}
			v, _ := a.val.resolve(x.vars).(bool)
			if d.name == "include" && !v {
				return false
			}
			if d.name == "skip" && v {
				return false
			}
		}
	}
	return true
}

func (x *execCtx) args(f *field, def *fieldDef, typ string, declared map[string]bool) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range f.args {
		if _, ok := def.args[a.name]; !ok {
			return nil, errAt(f.line, f.col, "argumentNotAccepted", "Field '%s' doesn't accept argument '%s'", f.name, a.name)
		}
		if err := checkVars(a.val, declared, f); err != nil {
			return nil, err
		}
		out[a.name] = a.val.resolve(x.vars)
	}
	for name, t := range def.args {
		if strings.HasSuffix(t, "!") {
			if v, ok := out[name]; !ok || v == nil {
				return nil, errAt(f.line, f.col, "missingRequiredArguments", "Field '%s' is missing required arguments: %s", f.name, name)
			}
		}
	}
	if def.kind == fConn {
		_, hasFirst := out["first"]
		_, hasLast := out["last"]
		if out["first"] == nil && out["last"] == nil {
			return nil, errAt(f.line, f.col, "", "you must provide one of first or last")
		}
		for _, k := range []string{"first", "last"} {
			if hasFirst && k == "first" || hasLast && k == "last" {
				if out[k] == nil {
					continue
				}
				n, ok := intArg(out, k)
				if !ok || n < 0 || n > 250 {
					return nil, errAt(f.line, f.col, "", "%s must be an integer between 0 and 250", k)
				}
			}
		}
	}
	if k, ok := out["sortKey"]; ok && k != nil {
		s, _ := k.(string)
		if !orderSortKeys[s] {
			return nil, errAt(f.line, f.col, "argumentLiteralsIncompatible",
				"Argument 'sortKey' on Field '%s' has an invalid value (%v). Expected type 'OrderSortKeys'.", f.name, k)
		}
	}
	if q, ok := out["query"]; ok && q != nil {
		if _, isStr := q.(string); !isStr {
			return nil, errAt(f.line, f.col, "argumentLiteralsIncompatible", "Argument 'query' on Field '%s' must be a String", f.name)
		}
	}
	return out, nil
}

func checkVars(v value, declared map[string]bool, f *field) error {
	switch v.kind {
	case vVar:
		if !declared[v.raw] {
			return errAt(f.line, f.col, "variableNotDefined", "Variable $%s is used by anonymous query but not declared", v.raw)
		}
	case vList:
		for _, x := range v.list {
			if err := checkVars(x, declared, f); err != nil {
				return err
			}
		}
	case vObject:
		for _, x := range v.fields {
			if err := checkVars(x, declared, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// analyze validates sel against typ and returns its requested cost.
func (x *execCtx) analyze(typ string, sel []selection, declared map[string]bool, path []any) (int, error) {
	fields, err := x.collect(typ, sel, 0)
	if err != nil {
		return 0, err
	}
	cost := 0
	for _, f := range fields {
		if f.name == "__typename" {
			continue
		}
		def, ok := x.schema()[typ][f.name]
		if !ok {
			e := errAt(f.line, f.col, "undefinedField", "Field '%s' doesn't exist on type '%s'", f.name, typ)
			e.Path = append(append([]any{}, path...), f.name)
			e.Ext["typeName"], e.Ext["fieldName"] = typ, f.name
			return 0, e
		}
		a, err := x.args(f, def, typ, declared)
		if err != nil {
			return 0, err
		}
		p := append(append([]any{}, path...), f.key())
		switch def.kind {
		case fScalar:
			if f.sel != nil {
				return 0, errAt(f.line, f.col, "selectionMismatch", "Selections can't be made on scalars (field '%s' returns a scalar)", f.name)
			}
		case fObject, fObjList:
			if f.sel == nil {
				return 0, errAt(f.line, f.col, "selectionMismatch", "Field must have selections (field '%s' returns %s but has no selections)", f.name, def.typ)
			}
			c, err := x.analyze(def.typ, f.sel, declared, p)
			if err != nil {
				return 0, err
			}
			cost += 1 + c
		case fConn:
			if f.sel == nil {
				return 0, errAt(f.line, f.col, "selectionMismatch", "Field must have selections (field '%s' returns %sConnection but has no selections)", f.name, def.typ)
			}
			n, ok := intArg(a, "first")
			if !ok {
				n, _ = intArg(a, "last")
			}
			node, err := x.analyzeConn(def.typ, f.sel, declared, p)
			if err != nil {
				return 0, err
			}
			cost += 2 + n*node
		}
	}
	return cost, nil
}

// analyzeConn validates a connection selection and returns the cost of one node.
func (x *execCtx) analyzeConn(typ string, sel []selection, declared map[string]bool, path []any) (int, error) {
	fields, err := x.collect(typ+"Connection", sel, 0)
	if err != nil {
		return 0, err
	}
	node := 0
	for _, f := range fields {
		p := append(append([]any{}, path...), f.key())
		switch f.name {
		case "__typename":
		case "pageInfo":
			if _, err := x.analyze("PageInfo", f.sel, declared, p); err != nil {
				return 0, err
			}
		case "nodes":
			c, err := x.analyze(typ, f.sel, declared, p)
			if err != nil {
				return 0, err
			}
			node += 1 + c
		case "edges":
			efs, err := x.collect(typ+"Edge", f.sel, 0)
			if err != nil {
				return 0, err
			}
			for _, ef := range efs {
				switch ef.name {
				case "cursor", "__typename":
				case "node":
					c, err := x.analyze(typ, ef.sel, declared, append(p, "node"))
					if err != nil {
						return 0, err
					}
					node += 1 + c
				default:
					return 0, errAt(ef.line, ef.col, "undefinedField", "Field '%s' doesn't exist on type '%sEdge'", ef.name, typ)
				}
			}
		default:
			return 0, errAt(f.line, f.col, "undefinedField", "Field '%s' doesn't exist on type '%sConnection'", f.name, typ)
		}
	}
	return node, nil
}

// ---- execution (returns the value and its actual cost) ----

func (x *execCtx) schema() schemaDef { return x.shop.schema }

func (x *execCtx) exec(typ string, obj any, sel []selection, path []any) (omap, int) {
	fields, _ := x.collect(typ, sel, 0)
	out := omap{}
	cost := 0
	seen := map[string]int{}
	for _, f := range fields {
		if _, dup := seen[f.key()]; dup {
			continue
		}
		seen[f.key()] = len(out)
		if f.name == "__typename" {
			out = append(out, kv{f.key(), typ})
			continue
		}
		def := x.schema()[typ][f.name]
		p := append(append([]any{}, path...), f.key())
		if def.scope != "" && !x.scopes[def.scope] && !x.scopes["write_orders"] {
			x.errs = append(x.errs, &gqlError{Message: fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", f.name, def.scope),
				Locations: []location{{f.line, f.col}}, Path: p,
				Ext: map[string]any{"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes", "requiredAccess": "`" + def.scope + "` access scope."}})
			out = append(out, kv{f.key(), nil})
			continue
		}
		args := map[string]any{}
		for _, a := range f.args {
			args[a.name] = a.val.resolve(x.vars)
		}
		v, err := def.resolve(x, obj, args)
		if err != nil {
			x.errs = append(x.errs, &gqlError{Message: err.Error(), Locations: []location{{f.line, f.col}}, Path: p})
			out = append(out, kv{f.key(), nil})
			continue
		}
		switch def.kind {
		case fScalar:
			out = append(out, kv{f.key(), v})
		case fObject:
			if isNil(v) {
				out = append(out, kv{f.key(), nil})
				continue
			}
			m, c := x.exec(def.typ, v, f.sel, p)
			cost += 1 + c
			out = append(out, kv{f.key(), m})
		case fObjList:
			items := v.([]any)
			list := make([]any, 0, len(items))
			sub := 0
			for i, it := range items {
				m, c := x.exec(def.typ, it, f.sel, append(p, i))
				sub += c
				list = append(list, m)
			}
			cost += 1 + sub
			out = append(out, kv{f.key(), list})
		case fConn:
			m, c := x.execConn(def.typ, v.(*connResult), f.sel, p)
			cost += c
			out = append(out, kv{f.key(), m})
		}
	}
	return out, cost
}

func isNil(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case *Order:
		return t == nil
	}
	return false
}

func (x *execCtx) execConn(typ string, c *connResult, sel []selection, path []any) (omap, int) {
	fields, _ := x.collect(typ+"Connection", sel, 0)
	out := omap{}
	cost := 2
	for _, f := range fields {
		p := append(append([]any{}, path...), f.key())
		switch f.name {
		case "__typename":
			out = append(out, kv{f.key(), typ + "Connection"})
		case "pageInfo":
			m, _ := x.exec("PageInfo", c, f.sel, p)
			out = append(out, kv{f.key(), m})
		case "nodes":
			list := make([]any, 0, len(c.nodes))
			for i, n := range c.nodes {
				m, cc := x.exec(typ, n, f.sel, append(p, i))
				cost += 1 + cc
				list = append(list, m)
			}
			out = append(out, kv{f.key(), list})
		case "edges":
			efs, _ := x.collect(typ+"Edge", f.sel, 0)
			list := make([]any, 0, len(c.nodes))
			for i, n := range c.nodes {
				e := omap{}
				for _, ef := range efs {
					switch ef.name {
					case "__typename":
						e = append(e, kv{ef.key(), typ + "Edge"})
					case "cursor":
						e = append(e, kv{ef.key(), c.cursors[i]})
					case "node":
						m, cc := x.exec(typ, n, ef.sel, append(p, i, "node"))
						cost += 1 + cc
						e = append(e, kv{ef.key(), m})
					}
				}
				list = append(list, e)
			}
			out = append(out, kv{f.key(), list})
		}
	}
	return out, cost
}
