package gorgias

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// This file holds the emulator's small Jinja-like template language, used
// for HTTP-integration url/headers/form, macro arguments and widget titles:
//
//	{{ path | filter(arg, …) | … }}
//
// A path is a dotted/bracketed walk over JSON-shaped data:
// ticket.customer.email, ticket.messages[-1].body_text,
// ticket.customer.integrations["42"].order.id, ticket.customer.integrations.shopify
// (a map key that is missing is also looked up by the values'
// "__integration_type__"). A missing value renders as "". Filters: default,
// lower, upper, trim, title, urlencode/url_encode, tojson/json/to_json,
// length/count, first, last, join, datetime_format (format argument
// ignored, RFC 3339 output). Unknown filters leave the value unchanged.
// Nothing in here may panic on any input (see FuzzRenderTemplate).

// maxRendered bounds one rendered template (1 MiB).
const maxRendered = 1 << 20

// renderTemplate replaces every {{ expr }} in s with the string form of the
// expression evaluated over vars. escape, when not nil, is applied to every
// substituted value (not to the literal text).
func renderTemplate(s string, vars any, escape func(string) string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		v, _ := evalExpr(s[i+2:i+2+j], vars)
		str := stringify(v)
		if escape != nil {
			str = escape(str)
		}
		b.WriteString(str)
		s = s[i+2+j+2:]
		if b.Len() > maxRendered {
			break
		}
	}
	out := b.String()
	if len(out) > maxRendered {
		out = out[:maxRendered]
	}
	return out
}

// renderValue is renderTemplate for JSON bodies: when s is exactly one
// placeholder whose value is an object or array, that value is returned as
// is (so "{{ticket}}" embeds the ticket object); otherwise the rendered
// string.
func renderValue(s string, vars any) any {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") && strings.Count(t, "{{") == 1 {
		if v, ok := evalExpr(t[2:len(t)-2], vars); ok {
			switch v.(type) {
			case map[string]any, []any:
				return v
			}
		}
	}
	return renderTemplate(s, vars, nil)
}

// stripBraces turns "{{ a.b }}" into "a.b" (widget paths may be written
// either way).
func stripBraces(p string) string {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, "{{") && strings.HasSuffix(p, "}}") && len(p) >= 4 {
		p = strings.TrimSpace(p[2 : len(p)-2])
	}
	return p
}

// stringify renders a JSON-shaped value as text.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// isEmpty reports whether v has nothing to show.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// evalExpr evaluates "path | filter(args) | …" over vars.
func evalExpr(expr string, vars any) (any, bool) {
	parts := splitTop(expr, '|')
	if len(parts) == 0 {
		return nil, false
	}
	v, ok := operand(strings.TrimSpace(parts[0]), vars)
	for _, f := range parts[1:] {
		v, ok = applyFilter(strings.TrimSpace(f), v, ok, vars)
	}
	return v, ok
}

// operand evaluates a literal ('x', "x", 12) or a path.
func operand(s string, vars any) (any, bool) {
	if s == "" {
		return nil, false
	}
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	if s[0] == '-' || (s[0] >= '0' && s[0] <= '9') {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s), true
		}
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	case "none", "None", "null":
		return nil, true
	}
	return lookupPath(vars, s)
}

// splitTop splits s on sep outside quotes, parentheses and brackets.
func splitTop(s string, sep byte) []string {
	var out []string
	depth := 0
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			if depth > 0 {
				depth--
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

type pathSeg struct {
	key   string
	idx   int
	isIdx bool
}

// parsePath splits a.b[0]["c d"].e into segments. ok is false on syntax
// errors.
func parsePath(p string) ([]pathSeg, bool) {
	var segs []pathSeg
	i := 0
	for i < len(p) {
		c := p[i]
		switch {
		case c == '.':
			i++
		case c == '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, false
			}
			inner := strings.TrimSpace(p[i+1 : i+end])
			i += end + 1
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				segs = append(segs, pathSeg{key: inner[1 : len(inner)-1]})
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil {
				return nil, false
			}
			segs = append(segs, pathSeg{key: inner, idx: n, isIdx: true})
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			key := strings.TrimSpace(p[i:j])
			i = j
			if key == "" {
				return nil, false
			}
			seg := pathSeg{key: key}
			if n, err := strconv.Atoi(key); err == nil {
				seg.idx, seg.isIdx = n, true
			}
			segs = append(segs, seg)
		}
	}
	return segs, len(segs) > 0
}

// lookupPath walks path over data.
func lookupPath(data any, path string) (any, bool) {
	segs, ok := parsePath(path)
	if !ok {
		return nil, false
	}
	cur := data
	for _, s := range segs {
		cur, ok = step(cur, s)
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func step(cur any, s pathSeg) (any, bool) {
	switch x := cur.(type) {
	case map[string]any:
		if v, ok := x[s.key]; ok {
			return v, true
		}
		// ticket.customer.integrations.shopify → the value whose
		// __integration_type__ is "shopify".
		for _, v := range x {
			if m, ok := v.(map[string]any); ok {
				if t, _ := m["__integration_type__"].(string); t != "" && t == s.key {
					return m, true
				}
			}
		}
		return nil, false
	case []any:
		if !s.isIdx {
			return nil, false
		}
		i := s.idx
		if i < 0 {
			i += len(x)
		}
		if i < 0 || i >= len(x) {
			return nil, false
		}
		return x[i], true
	}
	return nil, false
}

// applyFilter applies one "name(args)" filter.
func applyFilter(f string, v any, ok bool, vars any) (any, bool) {
	name, argStr := f, ""
	if i := strings.IndexByte(f, '('); i >= 0 {
		name = strings.TrimSpace(f[:i])
		argStr = f[i+1:]
		if j := strings.LastIndexByte(argStr, ')'); j >= 0 {
			argStr = argStr[:j]
		}
	}
	var args []any
	if strings.TrimSpace(argStr) != "" {
		for _, a := range splitTop(argStr, ',') {
			av, _ := operand(strings.TrimSpace(a), vars)
			args = append(args, av)
		}
	}
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch strings.ToLower(name) {
	case "default", "d":
		if !ok || isEmpty(v) {
			return arg(0), true
		}
	case "lower":
		return strings.ToLower(stringify(v)), ok
	case "upper":
		return strings.ToUpper(stringify(v)), ok
	case "trim":
		return strings.TrimSpace(stringify(v)), ok
	case "title", "capitalize":
		s := stringify(v)
		words := strings.Fields(s)
		for i, w := range words {
			if w != "" {
				r := []rune(strings.ToLower(w))
				r[0] = []rune(strings.ToUpper(string(r[0])))[0]
				words[i] = string(r)
			}
		}
		return strings.Join(words, " "), ok
	case "urlencode", "url_encode":
		return queryEscape(stringify(v)), ok
	case "tojson", "json", "to_json":
		b, err := json.Marshal(v)
		if err != nil {
			return "", ok
		}
		return string(b), ok
	case "length", "count":
		switch x := v.(type) {
		case []any:
			return len(x), ok
		case map[string]any:
			return len(x), ok
		case string:
			return len([]rune(x)), ok
		}
		return 0, ok
	case "first", "last":
		if a, isArr := v.([]any); isArr {
			if len(a) == 0 {
				return nil, false
			}
			if strings.EqualFold(name, "first") {
				return a[0], true
			}
			return a[len(a)-1], true
		}
	case "join":
		if a, isArr := v.([]any); isArr {
			sep := stringify(arg(0))
			ss := make([]string, 0, len(a))
			for _, e := range a {
				ss = append(ss, stringify(e))
			}
			return strings.Join(ss, sep), ok
		}
	case "datetime_format":
		if t, good := parseStamp(stringify(v)); good {
			return t.UTC().Format(time.RFC3339), ok
		}
	}
	return v, ok
}
