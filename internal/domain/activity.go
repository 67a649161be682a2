package domain

import "time"

// ActivityFilter selects the window of Store.Activity.
type ActivityFilter struct {
	// MerchantID scopes the counts to one merchant; required unless
	// AllMerchants is set.
	MerchantID string
	// AllMerchants counts every merchant's rows (the operator's overview).
	// It must be asked for explicitly so that a forgotten MerchantID is an
	// error, never another tenant's numbers.
	AllMerchants bool
	// Since and Until bound the window [Since, Until).
	Since, Until time.Time
}

// ActivityMinute is one minute of traffic: inbound events received and
// outbound deliveries attempted, with the failed and rate-limited ones.
type ActivityMinute struct {
	// Minute is the start of the minute (UTC).
	Minute      time.Time `json:"minute"`
	Events      int       `json:"events"`
	Deliveries  int       `json:"deliveries"`
	Errors      int       `json:"errors"`       // deliveries of class transient, auth or terminal
	RateLimited int       `json:"rate_limited"` // deliveries answered 429
}
