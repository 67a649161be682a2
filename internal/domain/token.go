package domain

import (
	"crypto/sha256"
	"time"
)

// APIToken is a merchant-scoped admin API token. Only its SHA-256 is
// stored; the plaintext is shown once, at creation.
type APIToken struct {
	ID         string    `json:"id"`
	MerchantID string    `json:"merchant_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

// TokenPrefix starts every merchant token.
const TokenPrefix = "sy_"

// HashToken is how tokens are stored and looked up.
func HashToken(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}
