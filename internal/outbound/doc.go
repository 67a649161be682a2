// Package outbound is the HTTP framework every vendor client uses: a base
// client with timeouts, a rate limiter per vendor account, early slow-down from
// quota headers, error classification (429 → rate limited with Retry-After,
// 5xx/timeout/network → transient, 401 → one credential refresh then auth,
// other 4xx → terminal) and a Delivery row for every attempt.
//
// Do makes one attempt; retrying is the job system's business (see
// internal/jobs), so a retry survives a restart.
package outbound
