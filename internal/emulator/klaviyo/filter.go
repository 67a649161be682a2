package klaviyo

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// filterExpr is a parsed Klaviyo filter
// (https://developers.klaviyo.com/en/reference/api-overview#filtering):
// equals, any, greater-than, less-than, greater-or-equal, less-or-equal,
// combined with and/or/not or top-level commas (and).
type filterExpr interface {
	eval(get func(field string) (any, bool)) bool
}

type andExpr []filterExpr
type orExpr []filterExpr
type notExpr struct{ x filterExpr }

type cmpExpr struct {
	op, field string
	values    []string // one value, or the list
	list      bool
	isTime    bool
	times     []time.Time
}

func (a andExpr) eval(get func(string) (any, bool)) bool {
	for _, x := range a {
		if !x.eval(get) {
			return false
		}
	}
	return true
}

func (o orExpr) eval(get func(string) (any, bool)) bool {
	for _, x := range o {
		if x.eval(get) {
			return true
		}
	}
	return false
}

func (n notExpr) eval(get func(string) (any, bool)) bool { return !n.x.eval(get) }

func (c *cmpExpr) eval(get func(string) (any, bool)) bool {
	v, ok := get(c.field)
	if !ok || v == nil {
		return false
	}
	switch x := v.(type) {
	case time.Time:
		if !c.isTime || len(c.times) == 0 {
			return false
		}
		ref := c.times[0]
		switch c.op {
		case "greater-than":
			return x.After(ref)
		case "less-than":
			return x.Before(ref)
		case "greater-or-equal":
			return !x.Before(ref)
		case "less-or-equal":
			return !x.After(ref)
		case "equals":
			return x.Equal(ref)
		}
	case string:
		for _, want := range c.values {
			if c.field == "email" && strings.EqualFold(x, want) || x == want {
				return true
			}
		}
	}
	return false
}

// parseFilter parses s and checks every field and operator against the
// operation's x-klaviyo-filters.
func parseFilter(s string, op *contract.Operation) (filterExpr, error) {
	p := &filterParser{s: s}
	exprs, err := p.exprList()
	if err == nil && p.pos < len(p.s) {
		err = fmt.Errorf("unexpected %q at position %d", p.s[p.pos:], p.pos)
	}
	if err != nil {
		return nil, filterErr("Invalid filter: %v.", err)
	}
	if err := checkFilter(andExpr(exprs), op); err != nil {
		return nil, err
	}
	if len(exprs) == 1 {
		return exprs[0], nil
	}
	return andExpr(exprs), nil
}

func filterErr(format string, args ...any) *apiErr {
	return &apiErr{status: http.StatusBadRequest, code: "invalid", parameter: "filter", detail: fmt.Sprintf(format, args...)}
}

func checkFilter(x filterExpr, op *contract.Operation) error {
	switch v := x.(type) {
	case andExpr:
		for _, y := range v {
			if err := checkFilter(y, op); err != nil {
				return err
			}
		}
	case orExpr:
		for _, y := range v {
			if err := checkFilter(y, op); err != nil {
				return err
			}
		}
	case notExpr:
		return checkFilter(v.x, op)
	case *cmpExpr:
		if op == nil || op.Filters == nil {
			return nil
		}
		ff, ok := op.Filters[v.field]
		if !ok {
			return filterErr("'%s' is not a valid field for the resource.", v.field)
		}
		if !ff.Allows(v.op, v.list) {
			kind := "a single value"
			if v.list {
				kind = "a list value"
			}
			return filterErr("'%s' operator for field '%s' is not supported with %s.", v.op, v.field, kind)
		}
		if ff.Format == "date-time" {
			v.isTime = true
			for _, s := range v.values {
				t, err := parseFilterTime(s)
				if err != nil {
					return filterErr("'%s' is not a valid date-time for field '%s'.", s, v.field)
				}
				v.times = append(v.times, t)
			}
		}
	}
	return nil
}

func parseFilterTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) skip() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *filterParser) exprList() ([]filterExpr, error) {
	var out []filterExpr
	for {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		p.skip()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		return out, nil
	}
}

func (p *filterParser) ident() string {
	p.skip()
	start := p.pos
	for p.pos < len(p.s) {
		ch := p.s[p.pos]
		if ch == '(' || ch == ')' || ch == ',' || ch == ' ' {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *filterParser) expect(ch byte) error {
	p.skip()
	if p.pos >= len(p.s) || p.s[p.pos] != ch {
		return fmt.Errorf("expected %q at position %d", ch, p.pos)
	}
	p.pos++
	return nil
}

func (p *filterParser) expr() (filterExpr, error) {
	name := p.ident()
	if name == "" {
		return nil, fmt.Errorf("expected an operator at position %d", p.pos)
	}
	if err := p.expect('('); err != nil {
		return nil, err
	}
	switch name {
	case "and", "or", "not":
		xs, err := p.exprList()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		switch name {
		case "and":
			return andExpr(xs), nil
		case "or":
			return orExpr(xs), nil
		}
		if len(xs) != 1 {
			return nil, fmt.Errorf("not() takes one expression")
		}
		return notExpr{xs[0]}, nil
	case "equals", "any", "greater-than", "less-than", "greater-or-equal", "less-or-equal":
	default:
		return nil, fmt.Errorf("unknown operator %q", name)
	}
	field := p.ident()
	if field == "" {
		return nil, fmt.Errorf("expected a field at position %d", p.pos)
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	c := &cmpExpr{op: name, field: field}
	p.skip()
	if p.pos < len(p.s) && p.s[p.pos] == '[' {
		p.pos++
		c.list = true
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			c.values = append(c.values, v)
			p.skip()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			break
		}
	} else {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.values = []string{v}
	}
	if err := p.expect(')'); err != nil {
		return nil, err
	}
	return c, nil
}

// value reads a quoted string ('…' or "…", backslash escapes) or a bare
// token (date-times, numbers, booleans).
func (p *filterParser) value() (string, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return "", fmt.Errorf("expected a value at the end")
	}
	q := p.s[p.pos]
	if q == '"' || q == '\'' {
		p.pos++
		var b strings.Builder
		for p.pos < len(p.s) {
			ch := p.s[p.pos]
			switch {
			case ch == '\\' && p.pos+1 < len(p.s):
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
			case ch == q:
				p.pos++
				return b.String(), nil
			default:
				b.WriteByte(ch)
				p.pos++
			}
		}
		return "", fmt.Errorf("unterminated string")
	}
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ',' && p.s[p.pos] != ')' && p.s[p.pos] != ']' {
		p.pos++
	}
	v := strings.TrimSpace(p.s[start:p.pos])
	if v == "" {
		return "", fmt.Errorf("expected a value at position %d", start)
	}
	return v, nil
}

// paginate cuts one page out of rows. The cursor is opaque to clients
// (base64 of the offset).
func paginate[T any](rows []T, q url.Values, def, maxSize int) ([]T, string, error) {
	size := def
	if s := q.Get("page[size]"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSize {
			return nil, "", &apiErr{status: http.StatusBadRequest, code: "invalid", parameter: "page[size]", detail: fmt.Sprintf("page[size] must be an integer between 1 and %d.", maxSize)}
		}
		size = n
	}
	off := 0
	if cur := q.Get("page[cursor]"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o") || n < 0 {
			return nil, "", &apiErr{status: http.StatusBadRequest, code: "invalid", parameter: "page[cursor]", detail: "Invalid page cursor."}
		}
		off = n
	}
	if off > len(rows) {
		off = len(rows)
	}
	end := min(off+size, len(rows))
	next := ""
	if end < len(rows) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(end)))
	}
	return rows[off:end], next, nil
}
