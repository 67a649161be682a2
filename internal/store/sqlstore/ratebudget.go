package sqlstore

import (
	"context"
	"fmt"
	"time"

	"switchyard/internal/domain"
)

// Rate budget times are stored as Unix nanoseconds (0: never), so both
// dialects do the bucket arithmetic on plain integers.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

const rateBudgetReturning = ` RETURNING budget_key, tat, paused_until, updated_at`

func scanRateBudget(r Row) (domain.RateBudget, error) {
	var (
		b                domain.RateBudget
		tat, paused, upd int64
	)
	if err := r.Scan(&b.Key, &tat, &paused, &upd); err != nil {
		return b, err
	}
	b.TAT, b.PausedUntil, b.UpdatedAt = fromNanos(tat), fromNanos(paused), fromNanos(upd)
	return b, nil
}

// TakeRateBudget implements domain.Store: one upsert moves the TAT to
// max(TAT, now) + interval, atomically on both databases (a row lock on
// Postgres, the single writer on SQLite).
func (s *Store) TakeRateBudget(ctx context.Context, key string, interval time.Duration, fresh, now time.Time) (domain.RateBudget, error) {
	if key == "" || interval <= 0 {
		return domain.RateBudget{}, domain.Errorf(domain.EINVALID, "a rate budget needs a key and a positive interval")
	}
	if fresh.Before(now) {
		fresh = now
	}
	var out domain.RateBudget
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		out, err = scanRateBudget(tx.QueryRow(ctx, `INSERT INTO rate_budgets (budget_key, tat, paused_until, updated_at) VALUES (?, ?, 0, ?)
ON CONFLICT (budget_key) DO UPDATE SET tat = (CASE WHEN rate_budgets.tat > excluded.updated_at THEN rate_budgets.tat ELSE excluded.updated_at END) + ?, updated_at = excluded.updated_at`+rateBudgetReturning,
			key, nanos(fresh)+int64(interval), nanos(now), int64(interval)))
		return err
	})
	if err != nil {
		return domain.RateBudget{}, fmt.Errorf("error charging rate budget %q: %w", key, err)
	}
	return out, nil
}

// HoldRateBudget implements domain.Store.
func (s *Store) HoldRateBudget(ctx context.Context, key string, tat, pausedUntil, now time.Time) (domain.RateBudget, error) {
	if key == "" {
		return domain.RateBudget{}, domain.Errorf(domain.EINVALID, "a rate budget needs a key")
	}
	var out domain.RateBudget
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		out, err = scanRateBudget(tx.QueryRow(ctx, `INSERT INTO rate_budgets (budget_key, tat, paused_until, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (budget_key) DO UPDATE SET
  tat = CASE WHEN rate_budgets.tat > excluded.tat THEN rate_budgets.tat ELSE excluded.tat END,
  paused_until = CASE WHEN rate_budgets.paused_until > excluded.paused_until THEN rate_budgets.paused_until ELSE excluded.paused_until END,
  updated_at = excluded.updated_at`+rateBudgetReturning,
			key, nanos(tat), nanos(pausedUntil), nanos(now)))
		return err
	})
	if err != nil {
		return domain.RateBudget{}, fmt.Errorf("error holding rate budget %q: %w", key, err)
	}
	return out, nil
}

// ListRateBudgets implements domain.Store.
func (s *Store) ListRateBudgets(ctx context.Context) ([]domain.RateBudget, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT budget_key, tat, paused_until, updated_at FROM rate_budgets ORDER BY budget_key`)
	if err != nil {
		return nil, fmt.Errorf("error listing rate budgets: %w", err)
	}
	defer rows.Close()
	var out []domain.RateBudget
	for rows.Next() {
		b, err := scanRateBudget(rows)
		if err != nil {
			return nil, fmt.Errorf("error reading rate budget: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing rate budgets: %w", err)
	}
	return out, nil
}
