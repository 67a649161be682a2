package whiplashklaviyo

import (
	"context"

	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/ingest"
)

// Name is the connector's name.
const Name = "whiplash-klaviyo"

// Roles implements connector.Connector.
func (c *Connector) Roles() []string { return []string{domain.VendorWhiplash, domain.VendorKlaviyo} }

// Sources implements connector.WebhookReceiver.
func (c *Connector) Sources() map[string]ingest.Source { return connector.WhiplashSources() }

// BackfillStatus implements connector.Backfiller.
func (c *Connector) BackfillStatus(ctx context.Context, in *domain.Installation) (any, error) {
	return BackfillStatus(ctx, c.d.Store, in.ID)
}
