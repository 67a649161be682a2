// Package pgstore is the Postgres store for scale-out: pgx/v5 with a pool,
// goose migrations and River's migrations applied under one advisory lock (so
// several replicas can start at once), and a River client on riverpgxv5 whose
// inserts share the caller's pgx transaction.
package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"switchyard/internal/domain"
	"switchyard/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// migrationLockKey is the advisory lock taken while migrating.
const migrationLockKey = 0x73777964 // "swyd"

// DefaultMaxConns sizes the pool when neither Config.MaxConns nor the URL's
// pool_max_conns does. A job worker holds a connection only while it reads
// or writes (never across a vendor call), so the pool is sized for what the
// database can run side by side, not for --workers: the ingest writers (4),
// River's listener, producers and completer, and the workers' short
// transactions. See docs/development.md ("Postgres").
const DefaultMaxConns = 20

// Config configures the Postgres backend.
type Config struct {
	// URL is a postgres:// connection string.
	URL string
	// MaxConns sizes the pool. Default: pool_max_conns from the URL when it
	// is there, else DefaultMaxConns.
	MaxConns int32
	// Logger is River's logger.
	Logger *slog.Logger
}

// Backend implements sqlstore.Backend on Postgres.
type Backend struct {
	pool   *pgxpool.Pool
	sqldb  *sql.DB
	jobs   *sqlstore.Jobs[*riverpgxv5.Driver, pgx.Tx]
	logger *slog.Logger
}

// Open connects and creates the River client. It does not migrate.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("error parsing postgres URL: %w", err)
	}
	switch {
	case cfg.MaxConns > 0:
		pcfg.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns="):
		pcfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("error connecting to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("error connecting to postgres: %w", err)
	}
	b := &Backend{pool: pool, sqldb: stdlib.OpenDBFromPool(pool), logger: cfg.Logger}
	sub, _ := fs.Sub(migrationsFS, "migrations")
	schema, err := goose.NewProvider(goose.DialectPostgres, b.sqldb, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("error preparing migrations: %w", err)
	}
	if b.jobs, err = sqlstore.NewJobs(riverpgxv5.New(pool), schema, cfg.Logger); err != nil {
		_ = schema.Close()
		b.Close()
		return nil, err
	}
	return b, nil
}

// Pool exposes the pool (tests).
func (b *Backend) Pool() *pgxpool.Pool { return b.pool }

// River exposes the River client (tests).
func (b *Backend) River() *river.Client[pgx.Tx] { return b.jobs.Client }

// Migrate applies the schema and River migrations under an advisory lock.
func (b *Backend) Migrate(ctx context.Context) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("error acquiring connection for migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("error taking migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}()
	return b.jobs.Migrate(ctx)
}

// Name implements sqlstore.Backend.
func (b *Backend) Name() string { return "postgres" }

// TimeArg implements sqlstore.Backend.
func (b *Backend) TimeArg(t time.Time) any { return t.UTC() }

// ForUpdate implements sqlstore.Backend.
func (b *Backend) ForUpdate() string { return " FOR UPDATE" }

// Write implements sqlstore.Backend.
func (b *Backend) Write(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	return b.write(ctx, pgx.TxOptions{}, fn)
}

// redoneBegin begins a transaction whose commit does not wait for the WAL
// flush (sent with BEGIN: no extra round trip).
const redoneBegin = "BEGIN; SET LOCAL synchronous_commit = off"

// WriteRedone implements sqlstore.Backend: synchronous_commit is off for
// this transaction only; what that means for durability is in
// sqlstore.Backend.WriteRedone and docs/development.md ("Postgres").
func (b *Backend) WriteRedone(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	return b.write(ctx, pgx.TxOptions{BeginQuery: redoneBegin}, fn)
}

func (b *Backend) write(ctx context.Context, opts pgx.TxOptions, fn func(tx sqlstore.Tx) error) error {
	tx, err := b.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	if err := fn(&txn{q: querier{tx}, tx: tx, jobs: b.jobs}); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("error committing transaction: %w", err)
	}
	return nil
}

// Read implements sqlstore.Backend.
func (b *Backend) Read() sqlstore.Querier { return querier{b.pool} }

// Enqueue implements sqlstore.Backend.
func (b *Backend) Enqueue(ctx context.Context, job domain.JobArgs) error {
	return b.jobs.Enqueue(ctx, job)
}

// Ready implements sqlstore.Backend.
func (b *Backend) Ready(ctx context.Context) error { return b.jobs.ReadyWith(ctx, b.pool.Ping) }

// StartJobs implements sqlstore.Backend.
func (b *Backend) StartJobs(ctx context.Context, rc *river.Config) error {
	return b.jobs.StartJobs(ctx, rc)
}

// StopJobs implements sqlstore.Backend.
func (b *Backend) StopJobs(ctx context.Context) error { return b.jobs.StopJobs(ctx) }

// Close implements sqlstore.Backend.
func (b *Backend) Close() error {
	if b.jobs != nil {
		b.jobs.CloseSchema()
	}
	if b.sqldb != nil {
		_ = b.sqldb.Close()
	}
	b.pool.Close()
	return nil
}

// rebind turns "?" placeholders into "$1", "$2", ….
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var sb strings.Builder
	sb.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(q[i])
	}
	return sb.String()
}

type execer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type querier struct{ e execer }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	rows, err := q.e.Query(ctx, rebind(query), args...)
	if err != nil {
		return 0, err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return rows.CommandTag().RowsAffected(), nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{q.e.QueryRow(ctx, rebind(query), args...)}
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := q.e.Query(ctx, rebind(query), args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}

type txn struct {
	q    querier
	tx   pgx.Tx
	jobs *sqlstore.Jobs[*riverpgxv5.Driver, pgx.Tx]
}

func (t *txn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return t.q.Exec(ctx, q, args...)
}
func (t *txn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return t.q.QueryRow(ctx, q, args...)
}
func (t *txn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return t.q.Query(ctx, q, args...)
}

func (t *txn) InsertJobs(ctx context.Context, jobs []domain.JobArgs) error {
	return t.jobs.InsertJobs(ctx, t.tx, jobs)
}

// InsertUniqueJobs implements sqlstore.Tx.
func (t *txn) InsertUniqueJobs(ctx context.Context, jobs []domain.JobArgs) ([]sqlstore.JobRef, error) {
	return t.jobs.InsertUniqueJobs(ctx, t.tx, jobs)
}

// CompleteJob implements sqlstore.Tx.
func (t *txn) CompleteJob(ctx context.Context, jobID int64) error {
	return t.jobs.CompleteJob(ctx, t.tx, jobID)
}
