package domain

import (
	"time"
)

// Connectors switchyard runs.
const (
	ConnectorWhiplashGorgias   = "whiplash-gorgias"
	ConnectorWhiplashKlaviyo   = "whiplash-klaviyo"
	ConnectorKonnektiveGorgias = "konnektive-gorgias"
	ConnectorYotpoGorgias      = "yotpo-gorgias"
	ConnectorTogetherGorgias   = "together-gorgias"
)

// Connectors lists every connector and the connection roles it needs.
var Connectors = map[string][]string{
	ConnectorWhiplashGorgias:   {VendorWhiplash, VendorGorgias},
	ConnectorWhiplashKlaviyo:   {VendorWhiplash, VendorKlaviyo},
	ConnectorKonnektiveGorgias: {VendorKonnektive, VendorGorgias},
	ConnectorYotpoGorgias:      {VendorYotpo, VendorGorgias},
	ConnectorTogetherGorgias:   {VendorShopify, VendorGorgias},
}

// InstallationState is the lifecycle state of an installation.
type InstallationState string

const (
	InstallationPending     InstallationState = "pending"
	InstallationActive      InstallationState = "active"
	InstallationDegraded    InstallationState = "degraded"
	InstallationUninstalled InstallationState = "uninstalled"
)

// Installation is one connector instance of a merchant: it links the
// connections the connector needs (by vendor role), carries settings, and
// records the ids of everything it created remotely.
type Installation struct {
	ID         string            `json:"id"`
	MerchantID string            `json:"merchant_id"`
	Connector  string            `json:"connector"`
	State      InstallationState `json:"state"`
	// Connections maps a vendor role ("whiplash", "gorgias", …) to a connection id.
	Connections map[string]string `json:"connections"`
	Settings    map[string]string `json:"settings,omitempty"`
	// RemoteIDs holds ids of objects created in vendor accounts (widget,
	// integration, macros, lists, …).
	RemoteIDs map[string]string `json:"remote_ids,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Validate checks the installation's fields.
func (i *Installation) Validate() error {
	if i.MerchantID == "" {
		return Errorf(EINVALID, "installation merchant_id is required")
	}
	roles, ok := Connectors[i.Connector]
	if !ok {
		return Errorf(EINVALID, "unknown connector %q", i.Connector)
	}
	for _, r := range roles {
		if i.Connections[r] == "" {
			return Errorf(EINVALID, "connector %s needs a %s connection", i.Connector, r)
		}
	}
	if err := i.ValidateSettings(); err != nil {
		return err
	}
	switch i.State {
	case InstallationPending, InstallationActive, InstallationDegraded, InstallationUninstalled:
	case "":
		i.State = InstallationPending
	default:
		return Errorf(EINVALID, "unknown installation state %q", i.State)
	}
	return nil
}

// ValidateSettings checks the settings every connector shares: launch_date
// is a date (YYYY-MM-DD).
func (i *Installation) ValidateSettings() error {
	if ld, ok := i.Settings["launch_date"]; ok {
		if _, err := time.Parse(time.DateOnly, ld); err != nil {
			return Errorf(EINVALID, "launch_date %q must be a date as YYYY-MM-DD", ld)
		}
	}
	return nil
}
