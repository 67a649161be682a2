package klaviyo

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/emulator/klaviyo/contract"
)

// window is one fixed rate window's counter.
type window struct {
	start time.Time
	count int
}

type windowSpec struct {
	kind  string
	limit int
	dur   time.Duration
}

func (e *Emulator) windowSpecs(l contract.RateLimit) []windowSpec {
	scale := func(d time.Duration) time.Duration {
		s := time.Duration(float64(d) * e.cfg.RateLimitScale)
		if s < time.Millisecond {
			s = time.Millisecond
		}
		return s
	}
	return []windowSpec{
		{"burst", l.Burst, scale(time.Second)},
		{"steady", l.Steady, scale(time.Minute)},
		{"daily", l.Daily, scale(24 * time.Hour)},
	}
}

// rateLimit counts one call of op under quotaKey. It sets the RateLimit-*
// headers (steady window) when the call is allowed, and returns a 429 error
// with Retry-After set when any window is full. Refused calls do not count.
func (e *Emulator) rateLimit(w http.ResponseWriter, quotaKey string, op *contract.Operation, now time.Time) error {
	specs := e.windowSpecs(op.Limit)
	e.mu.Lock()
	defer e.mu.Unlock()
	var (
		wait    time.Duration
		blocked string
		ws      = make([]*window, len(specs))
	)
	for i, s := range specs {
		if s.limit <= 0 {
			continue
		}
		key := quotaKey + "|" + op.Label() + "|" + s.kind
		start := now.Truncate(s.dur)
		win := e.windows[key]
		if win == nil || !win.start.Equal(start) {
			win = &window{start: start}
			e.windows[key] = win
		}
		ws[i] = win
		if win.count >= s.limit {
			if d := start.Add(s.dur).Sub(now); d > wait {
				wait, blocked = d, s.kind
			}
		}
	}
	if blocked != "" {
		e.throttled++
		ra := e.formatSeconds(wait)
		w.Header().Set("Retry-After", ra)
		return &apiErr{status: http.StatusTooManyRequests, code: "throttled",
			detail: fmt.Sprintf("Request was throttled (%s limit of %s). Expected available in %s second%s.", blocked, op.Label(), ra, plural(ra))}
	}
	for i, s := range specs {
		if ws[i] != nil {
			ws[i].count++
		}
		if s.kind == "steady" && s.limit > 0 {
			w.Header().Set("RateLimit-Limit", strconv.Itoa(s.limit))
			w.Header().Set("RateLimit-Remaining", strconv.Itoa(max(0, s.limit-ws[i].count)))
			w.Header().Set("RateLimit-Reset", e.formatSeconds(ws[i].start.Add(s.dur).Sub(now)))
		}
	}
	return nil
}

// formatSeconds renders a wait as whole seconds (rounded up, at least 1) at
// the real scale, and as fractional seconds when windows are scaled down so
// clients do not wait a full second for a 10 ms window.
func (e *Emulator) formatSeconds(d time.Duration) string {
	if e.cfg.RateLimitScale == 1 {
		return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
	}
	s := math.Ceil(d.Seconds()*1000) / 1000
	if s < 0.001 {
		s = 0.001
	}
	return strconv.FormatFloat(s, 'f', -1, 64)
}
