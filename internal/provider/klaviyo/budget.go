package klaviyo

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/outbound"
)

// RateLimit is an endpoint's published limit: Burst per second, Steady per
// minute, Daily per day (0: none).
type RateLimit struct {
	Burst  int
	Steady int
	Daily  int
}

// Tier names the limit's published tier (XS, S, M, L, XL); a daily cap is
// appended ("M/d150") so a 429 from a capped endpoint does not pause the
// whole tier for hours.
func (l RateLimit) Tier() string {
	var t string
	switch [2]int{l.Burst, l.Steady} {
	case [2]int{1, 15}:
		t = "XS"
	case [2]int{3, 60}:
		t = "S"
	case [2]int{10, 150}:
		t = "M"
	case [2]int{75, 700}, [2]int{75, 750}:
		t = "L"
	case [2]int{350, 3500}:
		t = "XL"
	default:
		t = fmt.Sprintf("b%ds%d", l.Burst, l.Steady)
	}
	if l.Daily > 0 {
		t += "/d" + strconv.Itoa(l.Daily)
	}
	return t
}

// Budget sizes a token bucket under both fixed windows: the refill is share
// of the steady rate and the bucket share of the burst, so a full bucket
// plus a minute of refill stays below the steady limit.
func (l RateLimit) Budget(prefix string, share float64) outbound.Budget {
	return outbound.Budget{
		Key:   prefix + ":" + l.Tier(),
		Rate:  float64(l.Steady) / 60 * share,
		Burst: max(1, int(math.Floor(float64(l.Burst)*share))),
	}
}

// DefaultLimits returns x-klaviyo-ratelimit of every operation the client
// uses, keyed by endpoint label (revision 2026-07-15; a test checks them
// against the contract files).
func DefaultLimits() map[string]RateLimit {
	l := RateLimit{Burst: 75, Steady: 750}
	m := RateLimit{Burst: 10, Steady: 150}
	return map[string]RateLimit{
		"POST /api/profile-import":                             l,
		"POST /api/profiles":                                   l,
		"GET /api/profiles":                                    l,
		"PATCH /api/profiles/{id}":                             l,
		"POST /api/events":                                     {Burst: 350, Steady: 3500},
		"POST /api/event-bulk-create-jobs":                     m,
		"POST /api/lists":                                      {Burst: 10, Steady: 150, Daily: 150},
		"GET /api/lists":                                       l,
		"GET /api/lists/{id}":                                  l,
		"POST /api/lists/{id}/relationships/profiles":          m,
		"POST /api/profile-bulk-import-jobs":                   m,
		"GET /api/profile-bulk-import-jobs/{job_id}":           m,
		"GET /api/profile-bulk-import-jobs/{id}/import-errors": m,
	}
}

// ParseQuota reads Klaviyo's RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (seconds) headers. It tolerates the structured forms of
// the IETF draft ("150, 150;w=60") by reading the first number of each.
func ParseQuota(h http.Header) (outbound.Quota, bool) {
	limit, ok1 := firstNumber(h.Get("RateLimit-Limit"))
	remaining, ok2 := firstNumber(h.Get("RateLimit-Remaining"))
	if !ok1 || !ok2 || limit <= 0 {
		return outbound.Quota{}, false
	}
	q := outbound.Quota{Limit: int(limit), Remaining: int(math.Max(0, remaining))}
	if reset, ok := firstNumber(h.Get("RateLimit-Reset")); ok && reset > 0 {
		q.Reset = time.Duration(reset * float64(time.Second))
	}
	return q, true
}

func firstNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	// NaN, ±Inf and absurd sizes are no quota: int(NaN) or int(1e300) would
	// be a negative limit.
	return f, err == nil && !math.IsNaN(f) && math.Abs(f) <= maxQuotaNumber
}

// maxQuotaNumber bounds the numbers a quota header may carry.
const maxQuotaNumber = 1 << 30
