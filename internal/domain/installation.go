package domain

import (
	"strings"
	"time"
)

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
	// Which connectors exist and which roles each needs is the connector
	// registry's to check (connector.Set.CheckInstallation); here only the
	// shape: a connector name and connections keyed by vendor.
	if strings.TrimSpace(i.Connector) == "" {
		return Errorf(EINVALID, "installation connector is required")
	}
	for r, id := range i.Connections {
		if !IsVendor(r) {
			return Errorf(EINVALID, "connection role %q is not a vendor (want one of %s)", r, strings.Join(Vendors, ", "))
		}
		if id == "" {
			return Errorf(EINVALID, "connection for %s is empty", r)
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
