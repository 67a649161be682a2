package connector

import (
	"errors"
	"fmt"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// CallerError maps the error of a connector operation run for an admin
// caller (install, repair, backfill start, settings check) to what that
// caller should see. A vendor's answer is about the merchant's vendor
// account, never about the caller's own request: a Gorgias 401 or 404 must
// not read as "your token is wrong" or "no such installation". So a vendor
// failure becomes EINVALID (the vendor said no: fix the connection or the
// vendor account) or EUNAVAILABLE (throttled, down or unreachable: try again),
// with a message naming the vendor, its HTTP status and our class, and no
// remote body or transport detail. The hub's own errors pass through.
func CallerError(err error) error {
	var oe *outbound.Error
	if err == nil || !errors.As(err, &oe) {
		return err
	}
	what := oe.Vendor
	if what == "" {
		what = "the vendor"
	}
	status := outbound.PublicSummary(oe.Class, oe.Status) // "auth (HTTP 401)"
	cause := summarized{err}
	switch oe.Class {
	case domain.ClassRateLimited, domain.ClassTransient, domain.ClassCanceled:
		return domain.WrapError(domain.EUNAVAILABLE, fmt.Sprintf("%s is not available now: %s; try again later", what, status), cause)
	case domain.ClassAuth:
		return domain.WrapError(domain.EINVALID, fmt.Sprintf("%s did not accept the connection's credentials: %s; update the %s connection", what, status, what), cause)
	case domain.ClassTerminal:
		if oe.Status == 0 { // the call never left (a refused address): nothing the vendor said
			return domain.WrapError(domain.EINVALID, fmt.Sprintf("%s could not be called: %s; check its base URL", what, status), cause)
		}
		fallthrough
	default:
		return domain.WrapError(domain.EINVALID, fmt.Sprintf("%s did not accept the request: %s", what, status), cause)
	}
}

// summarized keeps a vendor failure's text for logs but ends its chain: the
// message CallerError wrote from the vendor, status and class alone is
// already what any caller may see, so nothing downstream rewrites it from
// the remote answer (outbound.PublicMessage finds no call in it).
type summarized struct{ err error }

func (s summarized) Error() string { return s.err.Error() }
