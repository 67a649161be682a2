package domain

import (
	"encoding/json"
	"time"
)

// ActionStatus is where an agent action (a macro run on a vendor) stands.
type ActionStatus string

// An action is claimed pending, then ends succeeded (the vendor did it),
// failed (the vendor refused or could not be reached) or rejected (bad
// arguments: nothing was sent).
const (
	ActionPending   ActionStatus = "pending"
	ActionSucceeded ActionStatus = "succeeded"
	ActionFailed    ActionStatus = "failed"
	ActionRejected  ActionStatus = "rejected"
)

// ActionAudit records one agent action run through a connector: who asked
// (installation, ticket, agent), what (action, arguments with secrets
// removed), what was sent to the vendor and what came back. IdemKey makes
// retried deliveries of the same action run once.
type ActionAudit struct {
	ID             string `json:"id"`
	MerchantID     string `json:"merchant_id"`
	InstallationID string `json:"installation_id"`
	TicketID       string `json:"ticket_id"`
	// CustomerEmail is the ticket's customer (normalized), when Gorgias
	// sent it: the customer timeline finds the actions by it.
	CustomerEmail string            `json:"customer_email,omitempty"`
	Agent         string            `json:"agent,omitempty"`
	Action        string            `json:"action"`
	Arguments     map[string]string `json:"arguments"`
	// IdemKey is a hash of (installation, ticket, action, arguments).
	IdemKey string       `json:"-"`
	Status  ActionStatus `json:"status"`
	// Request is what was sent to the vendor (credentials never included);
	// empty when nothing was sent.
	Request json.RawMessage `json:"request,omitempty"`
	// Result is the vendor's answer or the error, as shown to the agent.
	Result  json.RawMessage `json:"result,omitempty"`
	Message string          `json:"message"`
	// HTTPStatus is the status the action endpoint answered.
	HTTPStatus int `json:"http_status"`
	// ReleaseKey makes FinishAction drop the idempotency claim, so the same
	// action may run again at once (its outcome was unknown: the vendor
	// could not be reached). Not stored.
	ReleaseKey bool       `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// ActionAuditFilter selects audit rows of one merchant (MerchantID is
// required).
type ActionAuditFilter struct {
	MerchantID     string
	InstallationID string
	TicketID       string
	CustomerEmail  string
	Limit          int
}
