package whiplashgorgias

import (
	"switchyard/internal/connector"
	"switchyard/internal/domain"
	"switchyard/internal/ingest"
)

// Name is the connector's name.
const Name = "whiplash-gorgias"

// Roles implements connector.Connector.
func (c *Connector) Roles() []string { return []string{domain.VendorWhiplash, domain.VendorGorgias} }

// Sources implements connector.WebhookReceiver.
func (c *Connector) Sources() map[string]ingest.Source { return connector.WhiplashSources() }
