package gorgias

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// stampLayout is how the emulator writes datetimes: ISO 8601 without an
// offset, microseconds, UTC — the shape of the vendor's doc examples.
const stampLayout = "2006-01-02T15:04:05.000000"

// stamp is a time written as stampLayout (null when zero).
type stamp time.Time

func (s stamp) MarshalJSON() ([]byte, error) {
	t := time.Time(s)
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(stampLayout) + `"`), nil
}

func fmtStamp(t time.Time) string { return t.UTC().Format(stampLayout) }

// stampPtr returns nil for a zero time (so it marshals as null).
func stampPtr(t time.Time) *stamp {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

// parseStamp reads the datetime shapes seen in the vendor's docs and
// clients: RFC 3339 with or without fraction, and naive ISO (taken as UTC).
func parseStamp(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02"} {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// flexID accepts an id written as a JSON number or string.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an id: %s", b)
	}
	*f = flexID(n)
	return nil
}

// flexString accepts a string, number, boolean or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch x := v.(type) {
	case map[string]any, []any:
		*f = flexString(b)
	default:
		*f = flexString(stringify(x))
	}
	return nil
}

// flexBool accepts true/false, 0/1 and their string forms.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(string(b)), `"`)) {
	case "true", "1", "yes", "on":
		*f = true
	case "false", "0", "no", "off", "", "null":
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// errorBody is the vendor's error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Msg  string `json:"msg"`
	Data any    `json:"data,omitempty"`
}

// writeError writes the error envelope; it matches emukit.ErrorWriter.
func writeError(w http.ResponseWriter, status int, msg string) {
	emukit.WriteJSON(w, status, errorBody{Error: errorDetail{Msg: msg}})
}

// writeErrorData writes the error envelope with per-field messages.
func writeErrorData(w http.ResponseWriter, status int, msg string, data any) {
	emukit.WriteJSON(w, status, errorBody{Error: errorDetail{Msg: msg, Data: data}})
}

func writeNotFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "Resource not found.") }

// missing is the per-field message for a required field.
var missingField = []string{"Missing data for required field."}

// maxRequestBody bounds API request bodies.
const maxRequestBody = 1 << 20

// readJSON decodes the request body into v, answering 400/413 itself when
// it cannot. An empty body decodes as {}.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxRequestBody)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "Request payload is too large.")
			return false
		}
		writeError(w, http.StatusBadRequest, "Could not read request body.")
		return false
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		buf.WriteString("{}")
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		writeErrorData(w, http.StatusBadRequest, "Invalid JSON body.", map[string][]string{"_schema": {err.Error()}})
		return false
	}
	return true
}

// pathID parses the {name} path value as an id.
// byPath returns the object the path's {id} names in m, or answers 404.
func byPath[T any](w http.ResponseWriter, r *http.Request, m map[int64]*T) *T {
	id, ok := pathID(r, "id")
	if v := m[id]; ok && v != nil {
		return v
	}
	writeNotFound(w)
	return nil
}

func pathID(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

func queryEscape(s string) string { return url.QueryEscape(s) }

func strPtr(s string) *string { return &s }

// rawOrNull returns b, or JSON null when b is empty.
func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// decodeAny decodes JSON with numbers kept as json.Number.
func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// toAny round-trips v through JSON into maps/slices/json.Number.
func toAny(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	out, err := decodeAny(b)
	if err != nil {
		return nil
	}
	return out
}
