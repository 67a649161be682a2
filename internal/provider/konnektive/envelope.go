package konnektive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Result values of the envelope.
const (
	ResultSuccess = "SUCCESS"
	ResultError   = "ERROR"
)

// Envelope is a decoded Konnektive answer:
// {"result":"SUCCESS"|"ERROR","message":<string, object or array>}.
type Envelope struct {
	// Result is upper-cased ("SUCCESS", "ERROR" or whatever else was sent).
	Result string
	// Message is the raw message value (null when absent).
	Message json.RawMessage
}

// ErrNotEnvelope is returned by DecodeEnvelope for a body that is not a
// Konnektive envelope (HTML error pages, empty bodies, other JSON).
var ErrNotEnvelope = errors.New("response is not a Konnektive envelope")

// DecodeEnvelope decodes a response body. It never panics; a body that is
// not a JSON object with a string "result" yields ErrNotEnvelope.
func DecodeEnvelope(body []byte) (Envelope, error) {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	var raw struct {
		Result  json.RawMessage `json:"result"`
		Message json.RawMessage `json:"message"`
	}
	if len(body) == 0 || body[0] != '{' {
		return Envelope{}, ErrNotEnvelope
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrNotEnvelope, err)
	}
	var result string
	if len(raw.Result) == 0 || json.Unmarshal(raw.Result, &result) != nil || strings.TrimSpace(result) == "" {
		return Envelope{}, fmt.Errorf("%w: missing result", ErrNotEnvelope)
	}
	env := Envelope{Result: strings.ToUpper(strings.TrimSpace(result)), Message: raw.Message}
	if len(env.Message) == 0 {
		env.Message = json.RawMessage("null")
	}
	return env, nil
}

// OK reports whether Result is SUCCESS.
func (e Envelope) OK() bool { return e.Result == ResultSuccess }

// Text renders the message for people: a string as is, an array of strings
// joined with "; ", an object's "message"/"error"/"errorMessage" field
// when it has one, otherwise the compact JSON.
func (e Envelope) Text() string {
	return messageText(e.Message, 0)
}

func messageText(m json.RawMessage, depth int) string {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || string(m) == "null" {
		return ""
	}
	if s, ok := unquote(m); ok {
		return s
	}
	if depth < 4 {
		switch m[0] {
		case '[':
			var parts []json.RawMessage
			if json.Unmarshal(m, &parts) == nil {
				out := make([]string, 0, len(parts))
				for _, p := range parts {
					if t := messageText(p, depth+1); t != "" {
						out = append(out, t)
					}
				}
				return strings.Join(out, "; ")
			}
		case '{':
			var obj map[string]json.RawMessage
			if json.Unmarshal(m, &obj) == nil {
				for _, k := range []string{"message", "error", "errorMessage", "msg"} {
					if v, ok := obj[k]; ok {
						if t := messageText(v, depth+1); t != "" {
							return t
						}
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, m) == nil {
		return buf.String()
	}
	return string(m)
}

// notFoundRE matches the "No orders matching those parameters could be
// found" family of ERROR messages that mean an empty query result.
var notFoundRE = regexp.MustCompile(`(?i)^\s*no\s+[a-z ]+?\s+(matching .*)?could\s+(not\s+)?be\s+found`)

// IsNoResults reports whether an ERROR message means "empty result".
func IsNoResults(msg string) bool { return notFoundRE.MatchString(msg) }

// authRE matches ERROR messages about the API credentials (UNCONFIRMED
// wording; see docs/assumptions/konnektive.md).
var authRE = regexp.MustCompile(`(?i)(invalid|incorrect|bad|wrong|missing)\s+(login|credential|password|api user)|login\s*id|not\s+authori[sz]ed|unauthori[sz]ed|authentication failed|access denied|ip .*not (allowed|whitelisted)`)

// IsAuthMessage reports whether an ERROR message is a credentials failure.
func IsAuthMessage(msg string) bool { return authRE.MatchString(msg) }

// Page is one page of a query result (message of a SUCCESS envelope).
type Page[T any] struct {
	TotalResults   Int `json:"totalResults"`
	ResultsPerPage Int `json:"resultsPerPage"`
	Page           Int `json:"page"`
	Data           []T `json:"-"`
}

// DecodePage decodes a query's message. data may be an array or an object
// keyed by record id (ordered by key); a record that fails to decode fails
// the page.
func DecodePage[T any](msg json.RawMessage) (Page[T], error) {
	var p Page[T]
	var raw struct {
		TotalResults   Int             `json:"totalResults"`
		ResultsPerPage Int             `json:"resultsPerPage"`
		Page           Int             `json:"page"`
		Data           json.RawMessage `json:"data"`
	}
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || msg[0] != '{' {
		return p, fmt.Errorf("query message is not an object")
	}
	if err := json.Unmarshal(msg, &raw); err != nil {
		return p, fmt.Errorf("error decoding query page: %w", err)
	}
	p.TotalResults, p.ResultsPerPage, p.Page = raw.TotalResults, raw.ResultsPerPage, raw.Page
	data, err := decodeList[T](raw.Data)
	if err != nil {
		return p, fmt.Errorf("error decoding query data: %w", err)
	}
	p.Data = data
	return p, nil
}

// decodeList decodes an array, an object keyed by id (ordered by numeric
// then lexical key) or null.
func decodeList[T any](b json.RawMessage) ([]T, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return nil, nil
	}
	switch b[0] {
	case '[':
		var out []T
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		return out, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sortKeys(keys)
		out := make([]T, 0, len(keys))
		for _, k := range keys {
			var v T
			if err := json.Unmarshal(m[k], &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list, got %.20q", string(b))
}

func sortKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, ea := strconv.ParseInt(keys[i], 10, 64)
		b, eb := strconv.ParseInt(keys[j], 10, 64)
		if ea == nil && eb == nil {
			return a < b
		}
		if (ea == nil) != (eb == nil) {
			return ea == nil
		}
		return keys[i] < keys[j]
	})
}
