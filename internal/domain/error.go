package domain

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes: the application's one error vocabulary. HTTPStatus maps each
// to an HTTP status in one place.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	EUNAVAILABLE  = "unavailable"
)

// Error is an application error with a machine code and a human message that
// is safe to show to callers. Wrapped causes stay out of Message.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an application error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an application error with the given code and message that
// wraps err.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first application error in err's chain,
// EINTERNAL for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of the first application error in
// err's chain, or "internal error" for anything else, so internal details never
// leak to callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsNotFound reports whether err carries ENOTFOUND.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }

// IsConflict reports whether err carries ECONFLICT.
func IsConflict(err error) bool { return ErrorCode(err) == ECONFLICT }

var codeStatus = map[string]int{
	ECONFLICT:     http.StatusConflict,
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus maps an error's code to an HTTP status.
func HTTPStatus(err error) int {
	if s, ok := codeStatus[ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}
