package klaviyo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"switchyard/internal/domain"
	"switchyard/internal/jsonx"
	"switchyard/internal/outbound"
)

// ErrorObject is one entry of a JSON:API errors[] body. Decoding is
// tolerant: status may be an integer or a string, and everything but code
// may be missing.
type ErrorObject struct {
	ID     string         `json:"id"`
	Status flexInt        `json:"status"`
	Code   string         `json:"code"`
	Title  string         `json:"title"`
	Detail string         `json:"detail"`
	Source ErrorSource    `json:"source"`
	Meta   map[string]any `json:"meta"`
}

// ErrorSource points at what was wrong in the request.
type ErrorSource struct {
	Pointer   string `json:"pointer"`
	Parameter string `json:"parameter"`
}

// APIError is a Klaviyo answer outside 2xx: the outbound failure (status,
// class, Retry-After) plus the decoded error objects.
type APIError struct {
	Status int
	Errors []ErrorObject
	Err    *outbound.Error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("klaviyo %s: HTTP %d", e.Err.Endpoint, e.Status)
	if e.Status == 0 {
		return e.Err.Error()
	}
	if len(e.Errors) > 0 {
		o := e.Errors[0]
		msg += ": " + o.Code
		if o.Detail != "" {
			msg += ": " + o.Detail
		}
		if p := o.Source.Pointer + o.Source.Parameter; p != "" {
			msg += " (" + p + ")"
		}
	}
	return msg
}

// Unwrap returns the *outbound.Error.
func (e *APIError) Unwrap() error { return e.Err }

// Code returns the first error code, or "".
func (e *APIError) Code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// DuplicateProfileError is a 409 duplicate_profile: ProfileID is the
// existing profile (errors[0].meta.duplicate_profile_id).
type DuplicateProfileError struct {
	ProfileID string
	Err       error
}

func (e *DuplicateProfileError) Error() string {
	return fmt.Sprintf("klaviyo: duplicate profile %s: %v", e.ProfileID, e.Err)
}

// Unwrap returns the underlying *APIError.
func (e *DuplicateProfileError) Unwrap() error { return e.Err }

// authCodes are error codes that mean the credentials are wrong even when
// Klaviyo answers 400 (reference A1).
var authCodes = map[string]bool{"not_authenticated": true, "authentication_failed": true, "invalid_api_key": true}

var (
	codeRE = regexp.MustCompile(`"code"\s*:\s*"([^"]+)"`)
	dupRE  = regexp.MustCompile(`"duplicate_profile_id"\s*:\s*"([^"]+)"`)
)

// wrapError turns an outbound failure into an *APIError (and a
// *DuplicateProfileError or a not-found domain error where they apply).
func wrapError(err error) error {
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Status == 0 {
		return err
	}
	ae := &APIError{Status: oe.Status, Err: oe}
	var body struct {
		Errors []ErrorObject `json:"errors"`
	}
	if json.Unmarshal([]byte(oe.Body), &body) == nil {
		ae.Errors = body.Errors
	} else if m := codeRE.FindStringSubmatch(oe.Body); m != nil {
		// outbound keeps only the start of the body; salvage the code.
		ae.Errors = []ErrorObject{{Code: m[1]}}
		if d := dupRE.FindStringSubmatch(oe.Body); d != nil {
			ae.Errors[0].Meta = map[string]any{"duplicate_profile_id": d[1]}
		}
	}
	if oe.Status == http.StatusBadRequest && authCodes[ae.Code()] {
		oe.Class = domain.ClassAuth
	}
	switch {
	case oe.Status == http.StatusConflict && ae.Code() == "duplicate_profile":
		id, _ := ae.Errors[0].Meta["duplicate_profile_id"].(string)
		return &DuplicateProfileError{ProfileID: id, Err: ae}
	case oe.Status == http.StatusNotFound:
		return domain.WrapError(domain.ENOTFOUND, "Klaviyo: not found", ae)
	}
	return ae
}

// flexInt decodes an integer sent as a number or a string; anything else
// is 0.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	n, _ := jsonx.Int(b) // an unreadable count is 0, never a failed decode
	*f = flexInt(n)
	return nil
}
