package domain

import (
	"strings"
	"time"
)

// InstallationState is the lifecycle state of an installation.
type InstallationState string

// The lifecycle: created pending; active once an install succeeds; degraded
// (with a reason) when the vendor rejects the credentials or jobs keep
// dead-lettering, and active again after a successful install (repair);
// uninstalled at the end. Only active and degraded installations take
// webhooks and process events.
const (
	InstallationPending     InstallationState = "pending"
	InstallationActive      InstallationState = "active"
	InstallationDegraded    InstallationState = "degraded"
	InstallationUninstalled InstallationState = "uninstalled"
)

// Processes reports whether events of an installation in state s are taken
// and processed (active and degraded ones).
func (s InstallationState) Processes() bool {
	return s == InstallationActive || s == InstallationDegraded
}

// Installation is one connector instance of a merchant: it links the
// connections the connector needs (by vendor role), carries settings, and
// records the ids of everything it created remotely.
type Installation struct {
	ID         string            `json:"id"`
	MerchantID string            `json:"merchant_id"`
	Connector  string            `json:"connector"`
	State      InstallationState `json:"state"`
	// StateReason says why the installation is degraded, or why its last
	// install failed while pending; empty when active.
	StateReason string `json:"state_reason,omitempty"`
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
