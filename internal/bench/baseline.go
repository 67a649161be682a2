package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	_ "modernc.org/sqlite" // the hub's SQLite driver
)

// baselineRow is one event as the bare insert loop stores it.
type baselineRow struct {
	dedup, email string
	payload      []byte
}

// baselineSQLite inserts rows into a fresh SQLite file with the hub's
// pragmas (page_size 16384 set before WAL; WAL, busy_timeout, foreign_keys,
// synchronous FULL, temp_store MEMORY, immediate transactions, one
// connection) and a unique (installation_id, dedup_key) index, batch rows
// per multi-row INSERT … ON CONFLICT DO NOTHING and one transaction per
// batch: the physical limit of this design. It returns rows per second.
func baselineSQLite(ctx context.Context, dir string, rows []baselineRow, batch int) (float64, error) {
	path := filepath.Join(dir, "baseline.db")
	init, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return 0, fmt.Errorf("error creating the baseline database: %w", err)
	}
	for _, p := range []string{"PRAGMA page_size = 16384", "PRAGMA journal_mode = WAL"} {
		if _, err := init.ExecContext(ctx, p); err != nil {
			init.Close()
			return 0, fmt.Errorf("error initialising the baseline database (%s): %w", p, err)
		}
	}
	init.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return 0, fmt.Errorf("error opening the baseline database: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE inbound_events (
		id INTEGER PRIMARY KEY, merchant_id TEXT NOT NULL, installation_id TEXT NOT NULL, vendor TEXT NOT NULL, event_type TEXT NOT NULL,
		dedup_key TEXT NOT NULL, customer_email TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, received_at INTEGER NOT NULL, processed_at INTEGER,
		UNIQUE (installation_id, dedup_key))`); err != nil {
		return 0, fmt.Errorf("error creating the baseline table: %w", err)
	}
	const cols = 8
	stmtFor := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO inbound_events (merchant_id, installation_id, vendor, event_type, dedup_key, customer_email, payload, received_at) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?,?,?)")
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		return b.String()
	}
	full, err := db.PrepareContext(ctx, stmtFor(batch)) // prepared before BeginTx: one connection
	if err != nil {
		return 0, fmt.Errorf("error preparing the baseline insert: %w", err)
	}
	defer full.Close()
	start := time.Now()
	args := make([]any, 0, batch*cols)
	for off := 0; off < len(rows); off += batch {
		chunk := rows[off:min(off+batch, len(rows))]
		args = args[:0]
		now := time.Now().UnixMicro()
		for _, r := range chunk {
			args = append(args, "mer_bench", "ins_bench", "whiplash", "order.status_changed", r.dedup, r.email, r.payload, now)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("error beginning a baseline batch: %w", err)
		}
		if len(chunk) == batch {
			_, err = tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, stmtFor(len(chunk)), args...)
		}
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("error inserting a baseline batch: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("error committing a baseline batch: %w", err)
		}
	}
	return float64(len(rows)) / time.Since(start).Seconds(), nil
}

// baselinePostgres does the same into a fresh table of a fresh database on
// the given Postgres server (one connection, one transaction per batch).
func baselinePostgres(ctx context.Context, admin string, rows []baselineRow, batch int) (float64, error) {
	db, err := freshPostgres(ctx, admin)
	if err != nil {
		return 0, err
	}
	defer db.drop()
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return 0, fmt.Errorf("error connecting to the baseline database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE TABLE inbound_events (
		id BIGSERIAL PRIMARY KEY, merchant_id TEXT NOT NULL, installation_id TEXT NOT NULL, vendor TEXT NOT NULL, event_type TEXT NOT NULL,
		dedup_key TEXT NOT NULL, customer_email TEXT NOT NULL DEFAULT '', payload BYTEA NOT NULL, received_at TIMESTAMPTZ NOT NULL, processed_at TIMESTAMPTZ,
		UNIQUE (installation_id, dedup_key))`); err != nil {
		return 0, fmt.Errorf("error creating the baseline table: %w", err)
	}
	start := time.Now()
	for off := 0; off < len(rows); off += batch {
		chunk := rows[off:min(off+batch, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO inbound_events (merchant_id, installation_id, vendor, event_type, dedup_key, customer_email, payload, received_at) VALUES ")
		args := make([]any, 0, len(chunk)*8)
		now := time.Now()
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			n := i * 8
			fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
			args = append(args, "mer_bench", "ins_bench", "whiplash", "order.status_changed", r.dedup, r.email, r.payload, now)
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, fmt.Errorf("error beginning a baseline batch: %w", err)
		}
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			_ = tx.Rollback(ctx)
			return 0, fmt.Errorf("error inserting a baseline batch: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, fmt.Errorf("error committing a baseline batch: %w", err)
		}
	}
	return float64(len(rows)) / time.Since(start).Seconds(), nil
}
