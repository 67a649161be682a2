package domain

import (
	"encoding/json"
	"time"
)

// ErrorClass classifies an outbound attempt's outcome.
type ErrorClass string

const (
	ClassOK          ErrorClass = "ok"
	ClassRateLimited ErrorClass = "rate_limited" // 429: wait Retry-After, no attempt spent
	ClassTransient   ErrorClass = "transient"    // 5xx, timeout, network: back off and retry
	ClassAuth        ErrorClass = "auth"         // 401 after one refresh: terminal
	ClassTerminal    ErrorClass = "terminal"     // other 4xx: dead letter
	ClassCanceled    ErrorClass = "canceled"     // our context ended
)

// Delivery is the log row of one outbound attempt.
type Delivery struct {
	ID             int64         `json:"id"`
	MerchantID     string        `json:"merchant_id"`
	InstallationID string        `json:"installation_id,omitempty"`
	Vendor         string        `json:"vendor"`
	Account        string        `json:"account"`
	Method         string        `json:"method"`
	Endpoint       string        `json:"endpoint"`
	Status         int           `json:"status"`
	Latency        time.Duration `json:"latency_ns"`
	Class          ErrorClass    `json:"class"`
	Error          string        `json:"error,omitempty"`
	JobID          int64         `json:"job_id,omitempty"`
	EventID        int64         `json:"event_id,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
}

// DeliveryFilter selects deliveries.
type DeliveryFilter struct {
	MerchantID     string
	InstallationID string
	Vendor         string
	EventID        int64
	// BeforeID pages backwards: only deliveries with a smaller id.
	BeforeID int64
	Limit    int
}

// DeadLetter is a job that exhausted its retries or hit a terminal error,
// with what is needed to replay it.
type DeadLetter struct {
	ID             int64           `json:"id"`
	MerchantID     string          `json:"merchant_id"`
	InstallationID string          `json:"installation_id,omitempty"`
	EventID        int64           `json:"event_id,omitempty"`
	JobKind        string          `json:"job_kind"`
	JobArgs        json.RawMessage `json:"job_args"`
	Attempts       int             `json:"attempts"`
	Class          ErrorClass      `json:"class"`
	Error          string          `json:"error"`
	CreatedAt      time.Time       `json:"created_at"`
	ReplayedAt     *time.Time      `json:"replayed_at,omitempty"`
}

// DeadLetterFilter selects dead letters.
type DeadLetterFilter struct {
	MerchantID     string
	InstallationID string
	// Pending limits the result to letters not yet replayed.
	Pending bool
	// BeforeID pages backwards: only letters with a smaller id.
	BeforeID int64
	Limit    int
}
