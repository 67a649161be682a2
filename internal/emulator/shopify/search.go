package shopify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shopify search syntax, the subset for orders: terms `key:value`,
// `key:>value`, `key:>=value`, `key:<value`, `key:<=value`, negation with a
// leading `-`, values quoted with "…" or '…' (backslash escapes), implicit
// AND, explicit AND/OR (OR of AND groups) and bare words (matched against
// name and email). Supported keys: email, created_at, updated_at,
// processed_at, tag, tag_not, name, status, financial_status,
// fulfillment_status, id, customer_id. Unknown keys are ignored and
// reported as warnings, as Shopify does.

type term struct {
	neg   bool
	key   string // "" for a bare word
	op    string // ":", ">", ">=", "<", "<="
	value string
}

type search struct {
	groups   [][]term
	warnings []string
}

func tokenizeSearch(q string) ([]string, error) {
	var out []string
	var b strings.Builder
	inQuote := byte(0)
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case inQuote != 0:
			if c == '\\' && i+1 < len(q) {
				i++
				b.WriteByte(q[i])
			} else if c == inQuote {
				inQuote = 0
				b.WriteByte(0) // marks "was quoted" boundary; stripped later
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			inQuote = c
			b.WriteByte(0)
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		default:
			b.WriteByte(c)
		}
	}
	if inQuote != 0 {
		return nil, fmt.Errorf("unterminated quote in search query")
	}
	flush()
	return out, nil
}

var searchKeys = map[string]bool{"email": true, "created_at": true, "updated_at": true, "processed_at": true, "tag": true,
	"tag_not": true, "name": true, "status": true, "financial_status": true, "fulfillment_status": true, "id": true, "customer_id": true}

func parseSearch(q string) (*search, error) {
	toks, err := tokenizeSearch(q)
	if err != nil {
		return nil, err
	}
	s := &search{groups: [][]term{{}}}
	for _, tk := range toks {
		plain := strings.ReplaceAll(tk, "\x00", "")
		if tk == "AND" {
			continue
		}
		if tk == "OR" {
			s.groups = append(s.groups, []term{})
			continue
		}
		t := term{}
		if strings.HasPrefix(tk, "-") {
			t.neg = true
			tk = tk[1:]
			plain = plain[1:]
		}
		// A key is an unquoted prefix before ':'.
		colon := strings.IndexByte(tk, ':')
		quote := strings.IndexByte(tk, 0)
		if colon > 0 && (quote < 0 || colon < quote) {
			t.key = strings.ToLower(tk[:colon])
			rest := tk[colon+1:]
			t.op = ":"
			for _, op := range []string{">=", "<=", ">", "<", "="} {
				if strings.HasPrefix(rest, op) {
					t.op = op
					if op == "=" {
						t.op = ":"
					}
					rest = rest[len(op):]
					break
				}
			}
			t.value = strings.ReplaceAll(rest, "\x00", "")
			if !searchKeys[t.key] {
				s.warnings = append(s.warnings, fmt.Sprintf("Invalid search field for this query: %s", t.key))
				continue
			}
		} else {
			t.value = plain
		}
		g := &s.groups[len(s.groups)-1]
		*g = append(*g, t)
	}
	return s, nil
}

func parseSearchTime(v string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", v)
}

func cmpTime(t time.Time, op, v string) (bool, error) {
	ref, err := parseSearchTime(v)
	if err != nil {
		return false, err
	}
	switch op {
	case ">":
		return t.After(ref), nil
	case ">=":
		return !t.Before(ref), nil
	case "<":
		return t.Before(ref), nil
	case "<=":
		return !t.After(ref), nil
	default:
		// Equality on a date means the whole day (UTC).
		if len(v) == 10 {
			return !t.Before(ref) && t.Before(ref.Add(24*time.Hour)), nil
		}
		return t.Equal(ref), nil
	}
}

func (s *search) match(o *Order) (bool, error) {
	for _, g := range s.groups {
		ok := true
		for _, t := range g {
			m, err := t.match(o)
			if err != nil {
				return false, err
			}
			if m == t.neg {
				ok = false
				break
			}
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (t term) match(o *Order) (bool, error) {
	v := t.value
	switch t.key {
	case "":
		lv := strings.ToLower(v)
		return strings.Contains(strings.ToLower(o.Email), lv) || strings.Contains(strings.ToLower(o.Name()), lv), nil
	case "email":
		if strings.HasSuffix(v, "*") {
			return strings.HasPrefix(strings.ToLower(o.Email), strings.ToLower(strings.TrimSuffix(v, "*"))), nil
		}
		return strings.EqualFold(o.Email, v), nil
	case "created_at":
		return cmpTime(o.CreatedAt, t.op, v)
	case "updated_at":
		return cmpTime(o.UpdatedAt, t.op, v)
	case "processed_at":
		return cmpTime(o.ProcessedAt, t.op, v)
	case "tag":
		return hasTag(o.Tags, v), nil
	case "tag_not":
		return !hasTag(o.Tags, v), nil
	case "name":
		return strings.EqualFold(strings.TrimPrefix(o.Name(), "#"), strings.TrimPrefix(v, "#")), nil
	case "status":
		switch strings.ToLower(v) {
		case "any":
			return true, nil
		case "open":
			return o.CancelledAt == nil && o.ClosedAt == nil, nil
		case "closed":
			return o.ClosedAt != nil, nil
		case "cancelled":
			return o.CancelledAt != nil, nil
		}
		return false, nil
	case "financial_status":
		return strings.EqualFold(o.FinancialStatus, v) || strings.EqualFold(v, "any"), nil
	case "fulfillment_status":
		fs := o.FulfillmentStatus
		if strings.EqualFold(v, "unshipped") {
			v = "unfulfilled"
		}
		if strings.EqualFold(v, "shipped") {
			v = "fulfilled"
		}
		return strings.EqualFold(fs, v) || strings.EqualFold(v, "any"), nil
	case "id":
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "gid://shopify/Order/"), 10, 64)
		if err != nil {
			return false, nil
		}
		switch t.op {
		case ">":
			return o.ID > n, nil
		case ">=":
			return o.ID >= n, nil
		case "<":
			return o.ID < n, nil
		case "<=":
			return o.ID <= n, nil
		}
		return o.ID == n, nil
	case "customer_id":
		n, _ := strconv.ParseInt(strings.TrimPrefix(v, "gid://shopify/Customer/"), 10, 64)
		return o.Customer.ID == n, nil
	}
	return true, nil
}
