package domain

import "time"

// RateBudget is the persisted state of one outbound rate budget (a vendor
// account's call budget), shared by every replica on one database and kept
// across restarts.
//
// The budget is a GCRA token bucket: TAT (theoretical arrival time) is when
// the bucket would be full again if no more calls were made. A bucket of
// burst B refilled every interval T holds B - (TAT-now)/T tokens; a call
// charged at now moves TAT to max(TAT, now)+T and may leave at TAT - B·T.
type RateBudget struct {
	Key         string
	TAT         time.Time
	PausedUntil time.Time // a vendor's Retry-After (zero: never paused)
	UpdatedAt   time.Time
}
