package domain

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// Merchant is a tenant. Everything else belongs to exactly one merchant.
type Merchant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the merchant's fields.
func (m *Merchant) Validate() error {
	if strings.TrimSpace(m.Name) == "" {
		return Errorf(EINVALID, "merchant name is required")
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random identifier with the given prefix, e.g. "mer_3kq…".
// 80 random bits; URL-safe and lower case.
func NewID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("domain: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// CustomerKey is the identity of an end customer everywhere: the merchant and
// the lower-cased, trimmed email.
type CustomerKey struct {
	MerchantID string
	Email      string
}

// NormalizeEmail lower-cases and trims an email address.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// NewCustomerKey builds a CustomerKey, normalizing the email.
func NewCustomerKey(merchantID, email string) CustomerKey {
	return CustomerKey{MerchantID: merchantID, Email: NormalizeEmail(email)}
}

// Valid reports whether the key has a merchant and a plausible email.
func (k CustomerKey) Valid() bool {
	at := strings.IndexByte(k.Email, '@')
	return k.MerchantID != "" && at > 0 && at < len(k.Email)-1
}

func (k CustomerKey) String() string { return k.MerchantID + "/" + k.Email }
