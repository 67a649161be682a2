// Package oauthstore is the token persistence port shared by the vendor
// clients that use OAuth: the client saves every new token (exchange,
// refresh, rotation) so the caller keeps the latest refresh token.
package oauthstore

import (
	"context"
	"sync"

	"golang.org/x/oauth2"
)

// TokenStore persists one connection's OAuth token.
type TokenStore interface {
	Load(ctx context.Context) (*oauth2.Token, error)
	Save(ctx context.Context, tok *oauth2.Token) error
}

// Memory is a TokenStore in memory (tests, tools). It counts saves.
type Memory struct {
	mu    sync.Mutex
	tok   *oauth2.Token
	saves int
}

// NewMemory returns a store holding tok (may be nil).
func NewMemory(tok *oauth2.Token) *Memory { return &Memory{tok: tok} }

// Load implements TokenStore; it returns a copy (nil when empty).
func (m *Memory) Load(context.Context) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, nil
	}
	c := *m.tok
	return &c, nil
}

// Save implements TokenStore.
func (m *Memory) Save(_ context.Context, t *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *t
	m.tok = &c
	m.saves++
	return nil
}

// Saves returns how many times Save was called.
func (m *Memory) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
