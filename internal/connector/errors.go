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
// failure becomes EINVALID (the vendor refused: fix the connection or the
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
	status := "no answer"
	if oe.Status != 0 {
		status = fmt.Sprintf("HTTP %d", oe.Status)
	}
	switch oe.Class {
	case domain.ClassRateLimited, domain.ClassTransient, domain.ClassCanceled:
		return domain.WrapError(domain.EUNAVAILABLE, fmt.Sprintf("%s is not available now (%s, %s): try again later", what, status, oe.Class), err)
	case domain.ClassAuth:
		return domain.WrapError(domain.EINVALID, fmt.Sprintf("%s refused the connection's credentials (%s): update the %s connection", what, status, what), err)
	default:
		return domain.WrapError(domain.EINVALID, fmt.Sprintf("%s refused the request (%s, %s)", what, status, oe.Class), err)
	}
}
