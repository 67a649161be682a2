// Package jsonx holds the tolerant JSON readings that vendor APIs need:
// numbers that arrive as numbers or strings. Vendor packages keep their own
// named types (with their own methods) and decode through these functions,
// so the parsing rule is written once.
package jsonx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Int reads an integer sent as a JSON number (3, 3.0, 3e2), a numeric
// string ("3", " 3 ", "3.0") or nothing ("", null → 0). Fractions are
// truncated toward zero. Anything else is an error; callers that must never
// fail on a field may ignore it and keep the 0.
func Int(b []byte) (int64, error) {
	s, ok := scalar(b)
	if !ok {
		return 0, fmt.Errorf("not a number: %.40s", b)
	}
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1<<63 {
		return 0, fmt.Errorf("not a number: %.40s", b)
	}
	return int64(f), nil
}

// Float reads a number sent as a JSON number or a numeric string; valid is
// false for "" and null.
func Float(b []byte) (v float64, valid bool, err error) {
	s, ok := scalar(b)
	if !ok {
		return 0, false, fmt.Errorf("not a number: %.40s", b)
	}
	if s == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("not a number: %.40s", b)
	}
	return f, true, nil
}

// scalar returns the text of a JSON number or string (unquoted, trimmed);
// null is "". Objects, arrays and booleans are not scalars here.
func scalar(b []byte) (string, bool) {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "null":
		return "", true
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", false
		}
		return strings.TrimSpace(u), true
	case s == "", s[0] == '{', s[0] == '[', s == "true", s == "false":
		return "", false
	}
	return s, true
}
