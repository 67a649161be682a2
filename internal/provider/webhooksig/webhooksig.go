// Package webhooksig checks HMAC-SHA256 webhook signatures against several
// accepted secrets (rotation, or vendors that are unclear about which key
// signs), in constant time and without an early exit, so timing says
// nothing about which secret matched. Each vendor package decodes its own
// header (hex, base64, prefixes) and calls Check.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// Errors shared by the vendor verifiers.
var (
	ErrBadSignature = errors.New("signature does not match any configured secret")
	ErrNoSecret     = errors.New("no webhook secret configured")
)

// Sum returns HMAC-SHA256(secret, body).
func Sum(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// Check returns nil when got is the HMAC-SHA256 of body under one of the
// non-empty secrets.
func Check(got, body []byte, secrets []string) error {
	if len(got) != sha256.Size {
		return ErrBadSignature
	}
	ok, n := 0, 0
	for _, s := range secrets {
		if s == "" {
			continue
		}
		n++
		if hmac.Equal(Sum(s, body), got) {
			ok |= 1
		}
	}
	if n == 0 {
		return ErrNoSecret
	}
	if ok == 0 {
		return ErrBadSignature
	}
	return nil
}
