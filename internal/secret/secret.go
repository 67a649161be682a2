// Package secret encrypts connection secrets at rest with AES-256-GCM.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// version prefixes every ciphertext so the format can change later.
const version byte = 1

// HowToMakeKey tells an operator how to create a key.
const HowToMakeKey = "create one with `switchyard keygen > switchyard.key` (or `head -c 32 /dev/urandom | base64 > switchyard.key`) and pass --secret-key-file switchyard.key (env SWITCHYARD_SECRET_KEY_FILE)"

// Box seals and opens secrets. Safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("error creating cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("error creating GCM: %w", err)
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a key written as base64 (std or URL, padded or not) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secret key is empty")
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret key must be %d bytes as base64 or hex", KeySize)
}

// LoadKey reads the key from a value or a file (the file wins when both are
// set). It returns an error that says how to make a key when neither is set.
func LoadKey(value, file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("error reading secret key file: %w", err)
		}
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret key file %s: %w", file, err)
		}
		return k, nil
	}
	if value != "" {
		return ParseKey(value)
	}
	return nil, errors.New("no secret key: " + HowToMakeKey)
}

// GenerateKey returns a new random key, base64-encoded.
func GenerateKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("error generating key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Seal encrypts plaintext: version byte, 12-byte nonce, ciphertext+tag.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("error generating nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte{version}), nil
}

// Open decrypts what Seal produced.
func (b *Box) Open(ciphertext []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(ciphertext) < 1+ns+b.aead.Overhead() || ciphertext[0] != version {
		return nil, errors.New("ciphertext is malformed or of an unknown version")
	}
	plain, err := b.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], []byte{version})
	if err != nil {
		return nil, fmt.Errorf("error decrypting secret (wrong key?): %w", err)
	}
	return plain, nil
}
