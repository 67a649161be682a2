package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"switchyard/internal/domain"
)

// Error is the outcome of a failed outbound attempt.
type Error struct {
	Vendor   string
	Endpoint string
	Status   int // 0 when no response was received
	Class    domain.ErrorClass
	// RetryAfter is the vendor's requested wait (429/503), zero when absent.
	RetryAfter time.Duration
	// Body is the start of the response body (for diagnostics; never contains
	// our secrets, but may contain the vendor's error message).
	Body string
	// Budget is the key of the rate budget the call was charged to.
	Budget string
	Err    error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Vendor, e.Endpoint, e.Class)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of an outbound error in err's chain, ClassOK for
// nil and ClassTransient for any other error (unknown failures are retried).
func ClassOf(err error) domain.ErrorClass {
	if err == nil {
		return domain.ClassOK
	}
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Class
	}
	if errors.Is(err, context.Canceled) {
		return domain.ClassCanceled
	}
	return domain.ClassTransient
}

// StatusOf returns the HTTP status of an outbound error in err's chain, or 0.
func StatusOf(err error) int {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Status
	}
	return 0
}

// Classify maps an HTTP status (or a transport error when status is 0) to an
// error class.
func Classify(status int, transportErr error) domain.ErrorClass {
	if transportErr != nil {
		if errors.Is(transportErr, context.Canceled) {
			return domain.ClassCanceled
		}
		if errors.Is(transportErr, ErrDialRefused) {
			return domain.ClassTerminal // retrying will not make the address public
		}
		return domain.ClassTransient // timeouts, resets, refused connections
	}
	switch {
	case status >= 200 && status < 300:
		return domain.ClassOK
	case status >= 300 && status < 400:
		// Redirects are never followed (credentials stay with the vendor's
		// host); one the caller did not say it handles (Request.Handle3xx)
		// is an answer that no retry changes.
		return domain.ClassTerminal
	case status == http.StatusTooManyRequests:
		return domain.ClassRateLimited
	case status == http.StatusUnauthorized:
		return domain.ClassAuth
	case status == http.StatusRequestTimeout:
		return domain.ClassTransient
	case status >= 500:
		return domain.ClassTransient
	default:
		return domain.ClassTerminal
	}
}

// IsTimeout reports whether err is a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ParseRetryAfter reads a Retry-After value: delay-seconds (fractions
// tolerated) or an HTTP-date. It returns 0 when absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return 0
		}
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// PublicMessage describes a failed vendor call the way a merchant may see
// it: our classification and the vendor's HTTP status, never the remote
// body or the transport error (which would tell an open port from a closed
// one on a host the merchant chose). ok is false when err holds no vendor
// call or transport failure.
func PublicMessage(err error) (msg string, ok bool) {
	var oe *Error
	if errors.As(err, &oe) {
		return fmt.Sprintf("%s %s failed: %s", oe.Vendor, oe.Endpoint, PublicSummary(oe.Class, oe.Status)), true
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return "vendor token call failed: " + PublicSummary(Classify(status, nil), status), true
	}
	var ue *url.Error
	var ne *net.OpError
	var de *net.DNSError
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &de) || errors.Is(err, ErrDialRefused) {
		return "vendor call failed: " + PublicSummary(Classify(0, err), 0), true
	}
	return "", false
}

// PublicSummary is "<class> (HTTP <status>)", or "<class> (no response)"
// when no answer was received; "" for ClassOK.
func PublicSummary(class domain.ErrorClass, status int) string {
	if class == domain.ClassOK {
		return ""
	}
	if status == 0 {
		return string(class) + " (no response)"
	}
	return fmt.Sprintf("%s (HTTP %d)", class, status)
}

// classMarker finds where Error.Error() states the class (and status);
// what follows it is the remote body and the transport error.
var classMarker = regexp.MustCompile(`: (rate_limited|transient|auth|terminal|canceled)( \(HTTP \d{3}\))?`)

// PublicText cuts a stored error text (a dead letter's) after the first
// vendor call's class and status, dropping the remote body and transport
// error that follow; an OAuth token error keeps only its first line. Text
// of our own passes unchanged.
func PublicText(s string) string {
	if loc := classMarker.FindStringIndex(s); loc != nil {
		return s[:loc[1]]
	}
	if i := strings.Index(s, "oauth2: "); i >= 0 {
		if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
			return s[:i+j]
		}
	}
	return s
}
