package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"switchyard/internal/domain"
)

// minuteOf is the SQL expression of a time column's minute since the epoch
// (SQLite stores unix microseconds, Postgres timestamptz).
func (s *Store) minuteOf(col string) string {
	if s.b.Name() == "postgres" {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM " + col + ") / 60) AS BIGINT)"
	}
	return "(" + col + " / 60000000)"
}

// Activity implements domain.Store: two grouped range scans over the
// received_at and created_at indexes (migration 00008).
func (s *Store) Activity(ctx context.Context, f domain.ActivityFilter) ([]domain.ActivityMinute, error) {
	if f.MerchantID == "" && !f.AllMerchants {
		return nil, errNoMerchant("activity")
	}
	if !f.Until.After(f.Since) {
		return nil, domain.Errorf(domain.EINVALID, "activity window is empty")
	}
	byMinute := map[int64]*domain.ActivityMinute{}
	at := func(m int64) *domain.ActivityMinute {
		a, ok := byMinute[m]
		if !ok {
			a = &domain.ActivityMinute{Minute: time.Unix(m*60, 0).UTC()}
			byMinute[m] = a
		}
		return a
	}
	since, until := s.b.TimeArg(f.Since.UTC()), s.b.TimeArg(f.Until.UTC())

	args := []any{since, until}
	scope := ""
	if f.MerchantID != "" {
		// The time range is what narrows: SQLite (no statistics) would
		// otherwise pick the (merchant_id, id) index and read all of the
		// merchant's rows; "+" keeps it on the time index.
		scope = " AND merchant_id = ?"
		if s.b.Name() != "postgres" {
			scope = " AND +merchant_id = ?"
		}
		args = append(args, f.MerchantID)
	}
	rows, err := s.b.Read().Query(ctx, `SELECT `+s.minuteOf("received_at")+`, COUNT(*) FROM inbound_events WHERE received_at >= ? AND received_at < ?`+scope+` GROUP BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("error counting events per minute: %w", err)
	}
	for rows.Next() {
		var m int64
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error scanning event counts: %w", err)
		}
		at(m).Events += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error counting events per minute: %w", err)
	}

	rows, err = s.b.Read().Query(ctx, `SELECT `+s.minuteOf("created_at")+`, class, COUNT(*) FROM deliveries WHERE created_at >= ? AND created_at < ?`+scope+` GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("error counting deliveries per minute: %w", err)
	}
	for rows.Next() {
		var m int64
		var class string
		var n int
		if err := rows.Scan(&m, &class, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error scanning delivery counts: %w", err)
		}
		a := at(m)
		a.Deliveries += n
		switch domain.ErrorClass(class) {
		case domain.ClassRateLimited:
			a.RateLimited += n
		case domain.ClassTransient, domain.ClassAuth, domain.ClassTerminal:
			a.Errors += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error counting deliveries per minute: %w", err)
	}

	out := make([]domain.ActivityMinute, 0, len(byMinute))
	for _, a := range byMinute {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Minute.Before(out[j].Minute) })
	return out, nil
}
