package yotpogorgias

import (
	"context"

	"switchyard/internal/domain"
	"switchyard/internal/ingest"
	"switchyard/internal/jobs"
)

// Name is the connector's name.
const Name = "yotpo-gorgias"

// Sync kinds.
const (
	// KindCustomer writes one Gorgias customer's Yotpo data (key: email).
	KindCustomer = "yotpo_customer"
	// KindEscalation turns one escalated review or question into a ticket
	// (key: "review:<id>" or "question:<id>").
	KindEscalation = "yotpo_escalation"
	// KindReply posts an escalation ticket's public agent replies back to
	// Yotpo (key: the Gorgias ticket id).
	KindReply = "yotpo_reply"
)

// Event types of the inbound events this connector stores.
const (
	EventMessage    = "gorgias.message"
	EventEscalation = "yotpo.escalation"
)

// Name implements connector.Connector.
func (c *Connector) Name() string { return Name }

// Roles implements connector.Connector.
func (c *Connector) Roles() []string { return []string{domain.VendorGorgias, domain.VendorYotpo} }

// BuildsClients implements connector.ClientBuilder: only this connector
// talks to Yotpo.
func (c *Connector) BuildsClients() []string { return []string{domain.VendorYotpo} }

// Sources implements connector.WebhookReceiver: signed Yotpo deliveries to
// POST /hooks/yotpo/{installation} are taken when the Yotpo connection
// holds a webhook_secret (optional; Yotpo documents no signature). The
// default is the token URL served by Routes.
func (c *Connector) Sources() map[string]ingest.Source {
	return map[string]ingest.Source{domain.VendorYotpo: yotpoSource{}}
}

// Syncers implements connector.SyncRunner.
func (c *Connector) Syncers() map[string]jobs.Syncer {
	return map[string]jobs.Syncer{
		KindCustomer:   syncerFunc(c.syncCustomer),
		KindEscalation: syncerFunc(c.syncEscalation),
		KindReply:      syncerFunc(c.syncReply),
	}
}

// syncerFunc adapts a method to jobs.Syncer.
type syncerFunc func(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error)

func (f syncerFunc) Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error) {
	return f(ctx, in, st)
}
