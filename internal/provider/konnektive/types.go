package konnektive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/jsonx"
)

// The lenient scalar types below decode what Konnektive sends: numbers and
// booleans usually as strings, sometimes as JSON numbers, empty strings and
// null for "no value". An unreadable value decodes to the zero value rather
// than failing the whole record (the reference marks the encodings
// UNCONFIRMED; a widget should still show what it can).

// String is a string that also accepts JSON numbers and booleans; null is "".
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			*s = ""
			return nil
		}
		*s = String(v)
	case b[0] == '{' || b[0] == '[':
		*s = ""
	default:
		*s = String(b) // number or true/false, verbatim
	}
	return nil
}

// String returns the value.
func (s String) String() string { return string(s) }

// unquote returns the text of a JSON string or the raw token of a number,
// boolean or null (null → ""). ok is false for objects and arrays.
func unquote(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return "", true
	}
	switch b[0] {
	case '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return "", false
		}
		return strings.TrimSpace(v), true
	case '{', '[':
		return "", false
	}
	return string(b), true
}

// Int is an integer sent as a number or a string ("3", "3.0", "", null).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
// Konnektive's loose fields never fail a whole record: unreadable is 0.
func (i *Int) UnmarshalJSON(b []byte) error {
	n, _ := jsonx.Int(b)
	*i = Int(n)
	return nil
}

// Int returns the value as an int.
func (i Int) Int() int { return int(i) }

// Money is an amount in cents. It decodes "49.95", 49.95, "$1,049.95",
// "-5.00", "" and null (0); it encodes as a decimal string like "49.95".
type Money int64

// moneyNoise strips currency symbols, thousands separators and spaces
// (built once: a Replacer per call was a hot spot of record decoding).
var moneyNoise = strings.NewReplacer("$", "", ",", "", " ", "")

// ParseMoney parses a decimal amount such as "12.5", "12.50", "$1,012.50".
// More than two decimals are rounded half away from zero.
func ParseMoney(s string) (Money, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = moneyNoise.Replace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(whole) > 15 || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("invalid amount %q", orig)
	}
	var w int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	cents := w * 100
	pad := frac + "000"
	c, _ := strconv.ParseInt(pad[:2], 10, 64)
	cents += c
	if pad[2] >= '5' {
		cents++
	}
	if neg {
		cents = -cents
	}
	return Money(cents), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *Money) UnmarshalJSON(b []byte) error {
	*m = 0
	s, ok := unquote(b)
	if !ok || s == "" {
		return nil
	}
	if v, err := ParseMoney(s); err == nil {
		*m = v
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && math.Abs(f) < 1e15 {
		*m = Money(math.Round(f * 100))
	}
	return nil
}

// MarshalJSON encodes the amount as a decimal string.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// String formats the amount as "49.95" (the format Konnektive expects).
func (m Money) String() string {
	c := int64(m)
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// Float returns the amount in currency units.
func (m Money) Float() float64 { return float64(m) / 100 }

// Bool decodes "1"/"0", "true"/"false", "yes"/"no", 1/0, true/false; ""
// and null are false.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s, _ := unquote(b)
	*v = Bool(truthy(s))
	return nil
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "y", "on", "t":
		return true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f != 0
	}
	return false
}

// ParseBool parses a macro flag: "0"/"1" (also true/false, yes/no; empty
// is false). Anything else is an error, so a mistyped flag is never guessed.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "false", "no", "n", "off":
		return false, nil
	case "1", "true", "yes", "y", "on":
		return true, nil
	}
	return false, fmt.Errorf("invalid flag %q: use 0 (false) or 1 (true)", s)
}

// Time is a timestamp in any of the forms seen: "2006-01-02 15:04:05"
// (CRM-local wall clock, zone UNCONFIRMED, kept as UTC), "m/d/Y",
// "Y-m-d", RFC 3339, unix seconds. Zero dates, "" and null are the zero
// time. Raw keeps the text as received, for display.
type Time struct {
	time.Time
	Raw string
}

// timeLayouts are tried in order.
var timeLayouts = [...]string{
	"2006-01-02 15:04:05",
	"2006-01-02",
	"1/2/2006",
	"1/2/2006 15:04:05",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 15:04",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.999999",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04",
}

// ParseTime parses s in one of the accepted forms.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") || s == "00/00/0000" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if allDigits(s) && len(s) >= 9 && len(s) <= 11 {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	s, ok := unquote(b)
	if !ok {
		return nil
	}
	t.Raw = s
	t.Time, _ = ParseTime(s)
	return nil
}

// MarshalJSON encodes the raw text when present, else RFC 3339 (or "").
func (t Time) MarshalJSON() ([]byte, error) {
	if t.Raw != "" {
		return json.Marshal(t.Raw)
	}
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.Format(time.RFC3339))
}

// FormatDate renders t as m/d/Y, the request date format.
func FormatDate(t time.Time) string { return t.Format("01/02/2006") }
