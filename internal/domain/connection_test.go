package domain_test

import (
	"net/url"
	"strings"
	"testing"

	"switchyard/internal/domain"
)

// allowHosts is a HostAllower over exact host:port strings.
type allowHosts []string

func (a allowHosts) AllowsURL(u *url.URL) bool {
	for _, h := range a {
		if u.Host == h {
			return true
		}
	}
	return false
}
func (a allowHosts) String() string { return strings.Join(a, ",") }

func TestConnectionAccountForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vendor, account string
		ok              bool
	}{
		{domain.VendorGorgias, "acme", true},
		{domain.VendorGorgias, "acme-shop-2", true},
		{domain.VendorGorgias, "Acme", true},
		{domain.VendorGorgias, "127.0.0.1:8080/x#", false},
		{domain.VendorGorgias, "evil.com/x", false},
		{domain.VendorGorgias, "acme.evil", false},
		{domain.VendorGorgias, "-acme", false},
		{domain.VendorGorgias, "a@b", false},
		{domain.VendorGorgias, strings.Repeat("a", 64), false},
		{domain.VendorShopify, "demo-store.myshopify.com", true},
		{domain.VendorShopify, "demo-store", false},
		{domain.VendorShopify, "x.evil.com#.myshopify.com", false},
		{domain.VendorShopify, "127.0.0.1:1/.myshopify.com", false},
		{domain.VendorKlaviyo, "demo", true},
		{domain.VendorWhiplash, "1", true},
		{domain.VendorKlaviyo, "a:b", false},
		{domain.VendorYotpo, "a b", false},
		{domain.VendorKonnektive, "x/../y", false},
	} {
		c := &domain.Connection{MerchantID: "m", Vendor: tc.vendor, Account: tc.account}
		c.Config = map[string]string{"base_url": ""} // empty: the vendor's own
		err := c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s account %q: err = %v, want ok=%v", tc.vendor, tc.account, err, tc.ok)
		}
		if err != nil && domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("%s account %q: code %s", tc.vendor, tc.account, domain.ErrorCode(err))
		}
	}
}

func TestConnectionBaseURL(t *testing.T) {
	t.Parallel()
	allow := allowHosts{"127.0.0.1:9090"}
	for _, tc := range []struct {
		vendor, account, base string
		ok, canonical         bool
	}{
		{domain.VendorGorgias, "acme", "", true, true},
		{domain.VendorGorgias, "acme", "https://acme.gorgias.com", true, true},
		{domain.VendorGorgias, "acme", "https://ACME.gorgias.com:443/", true, true},
		{domain.VendorGorgias, "acme", "https://other.gorgias.com", false, false},
		{domain.VendorGorgias, "acme", "http://acme.gorgias.com", false, false},
		{domain.VendorGorgias, "acme", "https://acme.gorgias.com:8443", false, false},
		{domain.VendorKlaviyo, "demo", "", true, true},
		{domain.VendorKlaviyo, "demo", "https://a.klaviyo.com", true, true},
		{domain.VendorWhiplash, "1", "https://sandbox.getwhiplash.com", true, true},
		{domain.VendorKonnektive, "k", "https://api.konnektive.com", true, true},
		{domain.VendorYotpo, "y", "https://loyalty.yotpo.com", true, true},
		{domain.VendorShopify, "demo.myshopify.com", "", true, true},
		{domain.VendorShopify, "demo.myshopify.com", "https://other.myshopify.com", false, false},
		{domain.VendorKlaviyo, "demo", "http://127.0.0.1:9090", true, false},
		{domain.VendorKlaviyo, "demo", "http://127.0.0.1:9091", false, false},
		{domain.VendorKlaviyo, "demo", "http://169.254.169.254/", false, false},
		{domain.VendorKlaviyo, "demo", "http://[::1]:22/", false, false},
		{domain.VendorKlaviyo, "demo", "http://localhost:6379/", false, false},
		{domain.VendorKlaviyo, "demo", "file:///etc/passwd", false, false},
		{domain.VendorKlaviyo, "demo", "gopher://x/", false, false},
		{domain.VendorKlaviyo, "demo", "https://user:pw@a.klaviyo.com", false, false},
		{domain.VendorKlaviyo, "demo", "https://a.klaviyo.com#@127.0.0.1", false, false},
		{domain.VendorKlaviyo, "demo", "https://a.klaviyo.com.evil.com", false, false},
	} {
		c := &domain.Connection{MerchantID: "m", Vendor: tc.vendor, Account: tc.account, Config: map[string]string{}}
		if tc.base != "" {
			c.Config["base_url"] = tc.base
		}
		_, canonical, err := c.ValidateBaseURL(allow)
		if (err == nil) != tc.ok || canonical != tc.canonical {
			t.Errorf("%s %q: canonical=%v err=%v, want ok=%v canonical=%v", tc.vendor, tc.base, canonical, err, tc.ok, tc.canonical)
			continue
		}
		if err != nil && (domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "base_url")) {
			t.Errorf("%s %q: message %q does not name base_url", tc.vendor, tc.base, domain.ErrorMessage(err))
		}
	}
	// Without an allow-list only the vendors' own hosts pass.
	c := &domain.Connection{MerchantID: "m", Vendor: domain.VendorKlaviyo, Account: "demo", Config: map[string]string{"base_url": "http://127.0.0.1:9090"}}
	if _, _, err := c.ValidateBaseURL(nil); err == nil || !strings.Contains(domain.ErrorMessage(err), "--allow-vendor-hosts") {
		t.Fatalf("nil allow-list: %v", err)
	}
}
