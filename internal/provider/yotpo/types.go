// Package yotpo is switchyard's Yotpo adapter: a Loyalty & Referrals client
// (customer by email), a Reviews/UGC client (token exchange, store reviews,
// per-customer UGC summary, latest reviews with product details, product
// bottom lines, escalations, comments, webhooks), the Connect (install)
// helpers and the escalation webhook verifier. Unconfirmed contract points
// are recorded in docs/assumptions/yotpo.md; decoding is lenient.
package yotpo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"switchyard/internal/jsonx"
)

// Int decodes a JSON number, a numeric string or null.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	v, err := jsonx.Int(b)
	*n = Int(v)
	return err
}

// Float decodes a JSON number, a numeric string or null (null → nil).
type Float struct {
	V     float64
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	v, ok, err := jsonx.Float(b)
	*f = Float{V: v, Valid: ok}
	return err
}

// MarshalJSON writes null or the number.
func (f Float) MarshalJSON() ([]byte, error) {
	if !f.Valid {
		return []byte("null"), nil
	}
	return json.Marshal(f.V)
}

// Time decodes Yotpo timestamps (RFC 3339 with or without zone or
// fractional seconds, or a date); "" and null are zero.
type Time struct{ time.Time }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04:05.000", "2006-01-02 15:04:05", "2006-01-02"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		t.Time = time.Time{}
		return nil
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("unreadable time %q", s)
}

// MarshalJSON writes RFC 3339 or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// SentimentLabel turns a numeric sentiment (0–1) into positive, neutral or
// negative (thresholds 0.6 and 0.4, an assumption); "" when unknown.
func SentimentLabel(f Float) string {
	switch {
	case !f.Valid:
		return ""
	case f.V >= 0.6:
		return "positive"
	case f.V <= 0.4:
		return "negative"
	default:
		return "neutral"
	}
}
