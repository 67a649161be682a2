package domain

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strconv"
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

// Validate checks the connection's fields: the vendor, the account in the
// vendor's form (a Gorgias account is a DNS label, a Shopify account a
// <store>.myshopify.com domain, any other account a short token without
// spaces, slashes or colons) and, when set, the form of config base_url
// (an absolute http or https URL without credentials, query or fragment).
// Which hosts a base URL may name is ValidateBaseURL's business.
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
	if err := validAccount(c.Vendor, c.Account); err != nil {
		return err
	}
	if raw := c.Config["base_url"]; raw != "" {
		if _, err := parseBaseURL(raw); err != nil {
			return err
		}
	}
	return nil
}

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	accountTokenRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)
)

// validAccount checks an account in its vendor's form. The account names
// hosts (Gorgias, Shopify) and rate budgets, so nothing that could change a
// URL's authority or path gets through.
func validAccount(vendor, account string) error {
	switch vendor {
	case VendorGorgias:
		if !dnsLabelRE.MatchString(strings.ToLower(account)) {
			return Errorf(EINVALID, "gorgias account %q is not a subdomain: use the <account> of <account>.gorgias.com (letters, digits and inner hyphens, at most 63)", account)
		}
	case VendorShopify:
		store, ok := strings.CutSuffix(strings.ToLower(account), ".myshopify.com")
		if !ok || !dnsLabelRE.MatchString(store) {
			return Errorf(EINVALID, "shopify account %q is not a <store>.myshopify.com domain", account)
		}
	default:
		if !accountTokenRE.MatchString(account) {
			return Errorf(EINVALID, "%s account %q must be 1 to 128 letters, digits or . _ @ + - (no spaces, slashes or colons)", vendor, account)
		}
	}
	return nil
}

// VendorHosts returns the hosts of a vendor's own API for an account, from
// the vendors' contracts: the only hosts a connection may name without the
// operator's allow-list. Calls to them use https on the default port.
func VendorHosts(vendor, account string) []string {
	account = strings.ToLower(account)
	switch vendor {
	case VendorGorgias:
		return []string{account + ".gorgias.com"}
	case VendorKlaviyo:
		return []string{"a.klaviyo.com"}
	case VendorWhiplash:
		return []string{"www.getwhiplash.com", "sandbox.getwhiplash.com", "sandbox.whiplash.app"}
	case VendorKonnektive:
		return []string{"api.konnektive.com", "api2.konnektive.com"}
	case VendorYotpo:
		return []string{"loyalty.yotpo.com", "api.yotpo.com", "api-cdn.yotpo.com"}
	case VendorShopify:
		return []string{account}
	}
	return nil
}

// CanonicalBaseURL returns the default base URL of a vendor account (the
// first of VendorHosts, over https).
func CanonicalBaseURL(vendor, account string) string {
	hosts := VendorHosts(vendor, account)
	if len(hosts) == 0 {
		return ""
	}
	return "https://" + hosts[0]
}

// HostAllower is the operator's allow-list of extra vendor hosts.
type HostAllower interface {
	// AllowsURL reports whether calls may go to u's host and port.
	AllowsURL(u *url.URL) bool
	// String lists the allowed hosts for error messages.
	String() string
}

// BaseURL returns where the connection's calls go: config base_url when set,
// else the vendor's canonical base URL.
func (c *Connection) BaseURL() string {
	if b := c.Config["base_url"]; b != "" {
		return b
	}
	return CanonicalBaseURL(c.Vendor, c.Account)
}

// IsCanonicalHost reports whether base names one of the vendor's own hosts
// for the account, over https on the default port.
func IsCanonicalHost(vendor, account string, base *url.URL) bool {
	if base.Scheme != "https" || (base.Port() != "" && base.Port() != "443") {
		return false
	}
	host := strings.ToLower(base.Hostname())
	for _, h := range VendorHosts(vendor, account) {
		if host == h {
			return true
		}
	}
	return false
}

// ValidateBaseURL checks that the connection's calls go to one of its
// vendor's own hosts, or to a host the operator allowed (allow may be nil:
// nothing beyond the vendors' hosts). It returns the parsed base URL and
// whether its host is the vendor's own.
func (c *Connection) ValidateBaseURL(allow HostAllower) (base *url.URL, canonical bool, err error) {
	raw := c.BaseURL()
	base, err = parseBaseURL(raw)
	if err != nil {
		return nil, false, err
	}
	if IsCanonicalHost(c.Vendor, c.Account, base) {
		return base, true, nil
	}
	if allow != nil && allow.AllowsURL(base) {
		return base, false, nil
	}
	listed := "none"
	if allow != nil && allow.String() != "" {
		listed = allow.String()
	}
	return nil, false, Errorf(EINVALID, "%s base_url %q is not allowed: calls go only to %s's own hosts (https://%s) or to hosts the operator allow-lists with serve --allow-vendor-hosts (allowed now: %s)",
		c.Vendor, raw, c.Vendor, strings.Join(VendorHosts(c.Vendor, c.Account), ", https://"), listed)
}

// parseBaseURL checks a base URL's form.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Errorf(EINVALID, "base_url %q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, Errorf(EINVALID, "base_url %q: only http and https URLs are allowed", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, Errorf(EINVALID, "base_url %q has no host", raw)
	case u.User != nil:
		return nil, Errorf(EINVALID, "base_url %q must not carry credentials", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, Errorf(EINVALID, "base_url %q must not have a query or fragment", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, Errorf(EINVALID, "base_url %q has an invalid port", raw)
		}
	}
	return u, nil
}
