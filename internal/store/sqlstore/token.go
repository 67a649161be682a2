package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"

	"switchyard/internal/domain"
)

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// CreateAPIToken implements domain.Store.
func (s *Store) CreateAPIToken(ctx context.Context, merchantID, name string) (string, *domain.APIToken, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("error generating token: %w", err)
	}
	plain := domain.TokenPrefix + tokenEncoding.EncodeToString(raw[:])
	t := &domain.APIToken{ID: domain.NewID("tok"), MerchantID: merchantID, Name: name, CreatedAt: s.ts()}
	err := s.b.Write(ctx, func(tx Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM merchants WHERE id = ?`, merchantID).Scan(&one); err != nil {
			if errors.Is(err, ErrNoRows) {
				return notFound("merchant", merchantID)
			}
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, merchant_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.MerchantID, t.Name, domain.HashToken(plain), s.b.TimeArg(t.CreatedAt))
		return err
	})
	if err != nil {
		if domain.ErrorCode(err) != domain.EINTERNAL {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("error creating token: %w", err)
	}
	return plain, t, nil
}

func scanToken(r Row) (*domain.APIToken, error) {
	var t domain.APIToken
	var created Timestamp
	if err := r.Scan(&t.ID, &t.MerchantID, &t.Name, &created); err != nil {
		return nil, err
	}
	t.CreatedAt = created.Time
	return &t, nil
}

// LookupAPIToken implements domain.Store.
func (s *Store) LookupAPIToken(ctx context.Context, plaintext string) (*domain.APIToken, error) {
	t, err := scanToken(s.b.Read().QueryRow(ctx, `SELECT id, merchant_id, name, created_at FROM api_tokens WHERE token_hash = ?`, domain.HashToken(plaintext)))
	if errors.Is(err, ErrNoRows) {
		return nil, domain.Errorf(domain.ENOTFOUND, "unknown token")
	}
	if err != nil {
		return nil, fmt.Errorf("error reading token: %w", err)
	}
	return t, nil
}

// ListAPITokens implements domain.Store.
func (s *Store) ListAPITokens(ctx context.Context, merchantID string) ([]*domain.APIToken, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT id, merchant_id, name, created_at FROM api_tokens WHERE merchant_id = ? ORDER BY created_at, id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("error listing tokens: %w", err)
	}
	defer rows.Close()
	var out []*domain.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning token: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken implements domain.Store.
func (s *Store) DeleteAPIToken(ctx context.Context, merchantID, id string) error {
	var n int64
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM api_tokens WHERE id = ? AND merchant_id = ?`, id, merchantID)
		return err
	})
	if err != nil {
		return fmt.Errorf("error deleting token: %w", err)
	}
	if n == 0 {
		return notFound("token", id)
	}
	return nil
}
