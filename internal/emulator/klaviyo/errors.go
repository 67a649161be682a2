package klaviyo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiErr is one JSON:API error object.
type apiErr struct {
	status    int
	code      string
	title     string
	detail    string
	pointer   string
	parameter string
	meta      map[string]any
}

func (a *apiErr) Error() string { return fmt.Sprintf("%d %s: %s", a.status, a.code, a.detail) }

// multiErr is several error objects answered together.
type multiErr struct{ errs []*apiErr }

func (m *multiErr) Error() string {
	parts := make([]string, len(m.errs))
	for i, e := range m.errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func invalid(pointer, format string, args ...any) *apiErr {
	return &apiErr{status: http.StatusBadRequest, code: "invalid", pointer: pointer, detail: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiErr {
	return &apiErr{status: http.StatusNotFound, code: "not_found", detail: fmt.Sprintf(format, args...)}
}

func duplicateProfile(id string) *apiErr {
	return &apiErr{
		status: http.StatusConflict, code: "duplicate_profile", title: "Conflict.",
		detail:  "A profile already exists with one of these identifiers.",
		pointer: "/data/attributes", meta: map[string]any{"duplicate_profile_id": id},
	}
}

var defaultTitles = map[int]string{
	http.StatusBadRequest:            "Invalid input.",
	http.StatusUnauthorized:          "Authentication credentials were not provided.",
	http.StatusForbidden:             "You do not have permission to perform this action.",
	http.StatusNotFound:              "Not found.",
	http.StatusMethodNotAllowed:      "Method not allowed.",
	http.StatusConflict:              "Conflict.",
	http.StatusRequestEntityTooLarge: "Request entity too large.",
	http.StatusUnsupportedMediaType:  "Unsupported media type.",
	http.StatusTooManyRequests:       "Request was throttled.",
	http.StatusInternalServerError:   "A server error occurred.",
	http.StatusServiceUnavailable:    "Service unavailable.",
}

var defaultCodes = map[int]string{
	http.StatusTooManyRequests:     "throttled",
	http.StatusInternalServerError: "error",
	http.StatusServiceUnavailable:  "service_unavailable",
}

// writeErr writes err (an *apiErr, *multiErr or anything else as a 500) in
// the JSON:API errors[] envelope.
func (e *Emulator) writeErr(w http.ResponseWriter, err error) {
	var list []*apiErr
	switch x := err.(type) {
	case *apiErr:
		list = []*apiErr{x}
	case *multiErr:
		list = x.errs
	default:
		list = []*apiErr{{status: http.StatusInternalServerError, code: "error", detail: err.Error()}}
	}
	status := list[0].status
	objs := make([]map[string]any, 0, len(list))
	for _, a := range list {
		title := a.title
		if title == "" {
			title = defaultTitles[a.status]
		}
		if title == "" {
			title = http.StatusText(a.status) + "."
		}
		o := map[string]any{
			"id": e.uuid(), "status": a.status, "code": a.code, "title": title, "detail": a.detail,
			"links": map[string]any{},
		}
		switch {
		case a.parameter != "":
			o["source"] = map[string]any{"parameter": a.parameter}
		case a.pointer != "":
			o["source"] = map[string]any{"pointer": a.pointer}
		}
		if a.meta != nil {
			o["meta"] = a.meta
		}
		objs = append(objs, o)
	}
	if status == http.StatusTooManyRequests || status == http.StatusUnauthorized {
		// 429 carries Retry-After instead of RateLimit-*; so does a 401
		// (answered before the limiter).
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			w.Header().Del(h)
		}
	}
	b, _ := json.Marshal(map[string]any{"errors": objs})
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeKitError adapts emukit's injected faults to the JSON:API envelope.
func (e *Emulator) writeKitError(w http.ResponseWriter, status int, msg string) {
	code := defaultCodes[status]
	if code == "" {
		code = "error"
	}
	if status == http.StatusTooManyRequests {
		e.mu.Lock()
		e.throttled++
		e.mu.Unlock()
		if ra := w.Header().Get("Retry-After"); ra != "" {
			msg = "Request was throttled. Expected available in " + ra + " second" + plural(ra) + "."
		}
	}
	e.writeErr(w, &apiErr{status: status, code: code, detail: msg})
}

func plural(n string) string {
	if i, err := strconv.Atoi(n); err == nil && i == 1 {
		return ""
	}
	return "s"
}

// uuid returns a deterministic (seeded) version-4-shaped UUID for error ids.
func (e *Emulator) uuid() string {
	e.idMu.Lock()
	a, b := e.idRng.Uint64(), e.idRng.Uint64()
	e.idMu.Unlock()
	a = (a &^ 0xf000) | 0x4000           // version 4
	b = (b &^ (0xc << 60)) | (0x8 << 60) // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
