package secret

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	key, err := ParseKey(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"api_key":"gorgias-key"}`)
	c1, err := box.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := box.Seal(plain)
	if bytes.Equal(c1, c2) {
		t.Fatal("two seals of the same plaintext must differ (random nonce)")
	}
	if bytes.Contains(c1, []byte("gorgias-key")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := box.Open(c1)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	c1[len(c1)-1] ^= 1
	if _, err := box.Open(c1); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	other, _ := New(bytes.Repeat([]byte{1}, 32))
	if _, err := other.Open(c2); err == nil {
		t.Fatal("opened with the wrong key")
	}
}

func TestLoadKey(t *testing.T) {
	t.Parallel()
	if _, err := LoadKey("", ""); err == nil || !strings.Contains(err.Error(), "keygen") {
		t.Fatalf("missing key error should say how to make one, got %v", err)
	}
	gen, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(f, []byte(gen+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey("", f)
	if err != nil || len(k) != KeySize {
		t.Fatalf("LoadKey(file) = %d bytes, %v", len(k), err)
	}
	k2, err := LoadKey(hex.EncodeToString(k), "")
	if err != nil || !bytes.Equal(k, k2) {
		t.Fatalf("hex key differs: %v", err)
	}
	if _, err := LoadKey("too-short", ""); err == nil {
		t.Fatal("short key accepted")
	}
}
