package domain

import (
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Vendors switchyard talks to.
const (
	VendorGorgias    = "gorgias"
	VendorKlaviyo    = "klaviyo"
	VendorWhiplash   = "whiplash"
	VendorKonnektive = "konnektive"
	VendorYotpo      = "yotpo"
	VendorShopify    = "shopify"
)

// Vendors lists every supported vendor.
var Vendors = []string{VendorGorgias, VendorKlaviyo, VendorWhiplash, VendorKonnektive, VendorYotpo, VendorShopify}

// IsVendor reports whether v names a supported vendor.
func IsVendor(v string) bool {
	for _, x := range Vendors {
		if x == v {
			return true
		}
	}
	return false
}

// Connection holds the credentials of one vendor account of a merchant.
// Config holds non-secret settings (base URL, subdomain, account id);
// Secrets holds API keys, passwords, tokens and signing secrets. Secrets are
// encrypted at rest by the store and never logged or returned by the API.
type Connection struct {
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	Vendor     string `json:"vendor"`
	// Account identifies the vendor account (Gorgias subdomain, Shopify shop
	// domain, Whiplash customer id, …). Rate limits are kept per account.
	Account   string            `json:"account"`
	Config    map[string]string `json:"config,omitempty"`
	Secrets   Secrets           `json:"-"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Secrets is a bag of named secret values. Its String and LogValue never
// reveal the values.
type Secrets map[string]string

func (s Secrets) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer: a logged Secrets shows only its
// names, with any handler (text or JSON).
func (s Secrets) LogValue() slog.Value {
	names := s.Names()
	sort.Strings(names)
	return slog.StringValue("[redacted: " + strings.Join(names, ",") + "]")
}

// MarshalJSON never writes the values: a Secrets that ends up in a JSON
// document (a log line, a debug dump) carries only its names.
func (s Secrets) MarshalJSON() ([]byte, error) {
	names := s.Names()
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, n := range names {
		out[n] = "[redacted]"
	}
	return json.Marshal(out)
}

// Names returns the secret names, never the values.
func (s Secrets) Names() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	return out
}

// Validate checks the connection's fields.
func (c *Connection) Validate() error {
	if c.MerchantID == "" {
		return Errorf(EINVALID, "connection merchant_id is required")
	}
	if !IsVendor(c.Vendor) {
		return Errorf(EINVALID, "unknown vendor %q (want one of %s)", c.Vendor, strings.Join(Vendors, ", "))
	}
	if strings.TrimSpace(c.Account) == "" {
		return Errorf(EINVALID, "connection account is required")
	}
	return nil
}
