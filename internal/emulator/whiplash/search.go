package whiplash

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// attribute kinds
const (
	kindInt = iota
	kindString
	kindTime
)

type attribute struct {
	kind int
	get  func(o *Order) any // int64, string or time.Time
}

// searchable lists the order attributes the emulator's ransack-style search
// and sort understand.
var searchable = map[string]attribute{
	"id":              {kindInt, func(o *Order) any { return int64(o.ID) }},
	"status":          {kindInt, func(o *Order) any { return int64(o.Status) }},
	"previous_status": {kindInt, func(o *Order) any { return int64(o.PreviousStatus) }},
	"shop_id":         {kindInt, func(o *Order) any { return int64(o.ShopID) }},
	"customer_id":     {kindInt, func(o *Order) any { return int64(o.CustomerID) }},
	"email":           {kindString, func(o *Order) any { return o.Email }},
	"order_orig":      {kindString, func(o *Order) any { return o.OrderOrig }},
	"originator_original_id": {kindString, func(o *Order) any {
		if o.Originator == nil {
			return ""
		}
		return o.Originator.OriginalID
	}},
	"created_at": {kindTime, func(o *Order) any { return o.CreatedAt.Time }},
	"updated_at": {kindTime, func(o *Order) any { return o.UpdatedAt.Time }},
	"shipped_on": {kindTime, func(o *Order) any { return o.ShippedOn.Time }},
}

// predicates, longest suffix first so "_not_eq" wins over "_eq".
var predicates = []string{"not_eq", "not_in", "lteq", "gteq", "eq", "in", "lt", "gt"}

type cond struct {
	attr string
	a    attribute
	op   string
	vals []any // int64, lower-cased string or time.Time
}

type timeBounds struct {
	hasLo, loIncl bool
	lo            time.Time
	hasHi, hiIncl bool
	hi            time.Time
}

// query is a parsed list request.
type query struct {
	conds   []cond
	updated timeBounds // from updated_at range predicates, for the index
	sort    []sortKey
}

type sortKey struct {
	attr string
	a    attribute
	desc bool
}

// searchError is a 422.
type searchError struct{ msg string }

func (e *searchError) Error() string { return e.msg }

func badSearch(format string, args ...any) error { return &searchError{fmt.Sprintf(format, args...)} }

// parseSearch reads the search JSON. Blank values are ignored (ransack
// does). Unknown attributes or predicates are an error when strict.
func parseSearch(raw string, loc *time.Location, strict bool) ([]cond, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, badSearch("search must be a JSON object: %v", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []cond
	for _, k := range keys {
		c, ok := splitPredicate(k)
		if !ok {
			if strict {
				return nil, badSearch("unsupported search predicate %q", k)
			}
			continue
		}
		v := bytes.TrimSpace(m[k])
		if bytes.Equal(v, []byte("null")) || bytes.Equal(v, []byte(`""`)) || bytes.Equal(v, []byte("[]")) {
			continue
		}
		var items []json.RawMessage
		if c.op == "in" || c.op == "not_in" {
			if v[0] == '[' {
				if err := json.Unmarshal(v, &items); err != nil {
					return nil, badSearch("%s: %v", k, err)
				}
			} else {
				items = []json.RawMessage{v}
			}
		} else {
			if v[0] == '[' || v[0] == '{' {
				return nil, badSearch("%s takes a single value", k)
			}
			items = []json.RawMessage{v}
		}
		for _, it := range items {
			val, err := parseValue(c.a.kind, it, loc)
			if err != nil {
				return nil, badSearch("%s: %v", k, err)
			}
			c.vals = append(c.vals, val)
		}
		out = append(out, c)
	}
	return out, nil
}

func splitPredicate(k string) (cond, bool) {
	for _, p := range predicates {
		if attr, ok := strings.CutSuffix(k, "_"+p); ok {
			a, known := searchable[attr]
			if !known {
				return cond{}, false
			}
			return cond{attr: attr, a: a, op: p}, true
		}
	}
	return cond{}, false
}

// searchTimeLayouts are accepted in search values; those without an offset
// are read in the emulator's search zone.
var searchTimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.000-07:00", "2006-01-02T15:04:05-0700", "2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
}
var searchLocalLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"}

func parseValue(kind int, raw json.RawMessage, loc *time.Location) (any, error) {
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	} else {
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	switch kind {
	case kindInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			i = int64(f)
		}
		return i, nil
	case kindTime:
		for _, l := range searchTimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, nil
			}
		}
		for _, l := range searchLocalLayouts {
			if loc != nil {
				if t, err := time.ParseInLocation(l, s, loc); err == nil {
					return t, nil
				}
				continue
			}
			if t, err := time.Parse(l, s); err == nil { // wall clock in US Eastern
				_, off := inEastern(t.Add(5 * time.Hour)).Zone()
				return t.Add(-time.Duration(off) * time.Second), nil
			}
		}
		return nil, fmt.Errorf("%q is not a date/time", s)
	default:
		return strings.ToLower(s), nil
	}
}

func compareValues(kind int, a, b any) int {
	switch kind {
	case kindInt:
		return cmp.Compare(a.(int64), b.(int64))
	case kindTime:
		return a.(time.Time).Compare(b.(time.Time))
	default:
		return strings.Compare(strings.ToLower(a.(string)), b.(string))
	}
}

func (c *cond) match(o *Order) bool {
	v := c.a.get(o)
	if c.a.kind == kindTime && v.(time.Time).IsZero() {
		return c.op == "not_eq" || c.op == "not_in" // NULL matches no comparison
	}
	switch c.op {
	case "eq":
		return compareValues(c.a.kind, v, c.vals[0]) == 0
	case "not_eq":
		return compareValues(c.a.kind, v, c.vals[0]) != 0
	case "lt":
		return compareValues(c.a.kind, v, c.vals[0]) < 0
	case "lteq":
		return compareValues(c.a.kind, v, c.vals[0]) <= 0
	case "gt":
		return compareValues(c.a.kind, v, c.vals[0]) > 0
	case "gteq":
		return compareValues(c.a.kind, v, c.vals[0]) >= 0
	case "in", "not_in":
		in := false
		for _, x := range c.vals {
			if compareValues(c.a.kind, v, x) == 0 {
				in = true
				break
			}
		}
		return in == (c.op == "in")
	}
	return false
}

// boundsOf folds updated_at range predicates into index bounds. The
// predicates are still checked row by row, so the bounds only need to be
// no narrower than the truth.
func boundsOf(conds []cond) timeBounds {
	var b timeBounds
	setLo := func(t time.Time, incl bool) {
		if !b.hasLo || t.After(b.lo) || (t.Equal(b.lo) && !incl) {
			b.hasLo, b.lo, b.loIncl = true, t, incl
		}
	}
	setHi := func(t time.Time, incl bool) {
		if !b.hasHi || t.Before(b.hi) || (t.Equal(b.hi) && !incl) {
			b.hasHi, b.hi, b.hiIncl = true, t, incl
		}
	}
	for _, c := range conds {
		if c.attr != "updated_at" {
			continue
		}
		t := c.vals[0].(time.Time)
		switch c.op {
		case "gt":
			setLo(t, false)
		case "gteq":
			setLo(t, true)
		case "lt":
			setHi(t, false)
		case "lteq":
			setHi(t, true)
		case "eq":
			setLo(t, true)
			setHi(t, true)
		}
	}
	return b
}

// boundsOnly says whether every predicate is an updated_at range folded
// into q.updated (so the index range is exactly the result).
func (q *query) boundsOnly() bool {
	for _, c := range q.conds {
		if c.attr != "updated_at" || c.op == "not_eq" || c.op == "in" || c.op == "not_in" {
			return false
		}
	}
	return true
}

// parseSort reads "field asc|desc[, field asc|desc…]".
func parseSort(raw string) ([]sortKey, error) {
	var out []sortKey
	for part := range strings.SplitSeq(raw, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		a, ok := searchable[f[0]]
		if !ok {
			return nil, badSearch("unsupported sort field %q", f[0])
		}
		k := sortKey{attr: f[0], a: a}
		if len(f) > 1 {
			switch strings.ToLower(f[1]) {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, badSearch("sort direction must be asc or desc, got %q", f[1])
			}
		}
		if len(f) > 2 {
			return nil, badSearch("unreadable sort %q", part)
		}
		out = append(out, k)
	}
	return out, nil
}

func (q *query) less(a, b *Order) int {
	for _, k := range q.sort {
		c := compareSortValues(k.a.kind, k.a.get(a), k.a.get(b))
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	c := cmp.Compare(a.ID, b.ID)
	if len(q.sort) > 0 && q.sort[0].desc {
		c = -c
	}
	return c
}

func compareSortValues(kind int, a, b any) int {
	if kind == kindString {
		return strings.Compare(strings.ToLower(a.(string)), strings.ToLower(b.(string)))
	}
	return compareValues(kind, a, b)
}

// nativeOrder says whether the sort is the order of one of the store's
// views: "byID"/"byUpdated", and whether reversed.
func (q *query) nativeOrder() (view string, reverse bool) {
	ks := q.sort
	if len(ks) == 0 {
		return "byID", false
	}
	if len(ks) > 2 {
		return "", false
	}
	d := ks[0].desc
	switch {
	case ks[0].attr == "id" && len(ks) == 1:
		return "byID", d
	case ks[0].attr == "updated_at" && (len(ks) == 1 || (ks[1].attr == "id" && ks[1].desc == d)):
		return "byUpdated", d
	}
	return "", false
}
