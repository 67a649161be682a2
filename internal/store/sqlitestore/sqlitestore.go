// Package sqlitestore is the embedded default store: SQLite through
// modernc.org/sqlite (no cgo) with WAL, a busy timeout, immediate
// transactions and ONE open connection (the SQLite/River recommendation),
// goose migrations and a River client on riversqlite.
//
// With one connection, a database call made while a transaction is open
// waits forever. Everything inside Write uses only the transaction.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite"

	"switchyard/internal/domain"
	"switchyard/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Config configures the SQLite backend.
type Config struct {
	// Path is the database file.
	Path string
	// Logger is River's logger.
	Logger *slog.Logger
	// StmtCache bounds the prepared statements the connection keeps for
	// reuse (default DefaultStmtCache; negative: none).
	StmtCache int
}

// Backend implements sqlstore.Backend on SQLite.
type Backend struct {
	db     *sql.DB
	jobs   *sqlstore.Jobs[*riversqlite.Driver, *sql.Tx]
	logger *slog.Logger
	lock   *os.File // held while open: one process owns the file
	gate   connGate // the store's turns on the connection
}

// ParseURL returns the file path of a sqlite:// URL: "sqlite://./x.db",
// "sqlite:///abs/x.db" or "sqlite:x.db".
func ParseURL(raw string) (string, error) {
	rest, ok := strings.CutPrefix(raw, "sqlite:")
	if !ok {
		return "", fmt.Errorf("not a sqlite URL: %q", raw)
	}
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return "", fmt.Errorf("sqlite URL %q has no file path", raw)
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("sqlite URL %q: %w", raw, err)
	}
	return p, nil
}

// Open opens (creating if needed) the database file and its River client.
// It does not migrate; call Migrate. It takes an exclusive lock on the file
// (path+".lock") and fails with ErrLocked while another process holds it.
func Open(ctx context.Context, cfg Config) (b *Backend, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("error creating database directory: %w", err)
		}
	}
	lock, err := lockFile(cfg.Path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && lock != nil {
			lock.Close()
		}
	}()
	if _, err := os.Stat(cfg.Path); errors.Is(err, os.ErrNotExist) {
		// page_size only takes effect before the file has pages and before WAL.
		if err := initFile(ctx, cfg.Path); err != nil {
			return nil, err
		}
	}
	dsn := "file:" + cfg.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("error opening sqlite database: %w", err)
	}
	cacheSize := cfg.StmtCache
	if cacheSize == 0 {
		cacheSize = DefaultStmtCache
	}
	db := sql.OpenDB(stmtCacheConnector{Connector: base, max: cacheSize})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("error opening sqlite database %s: %w", cfg.Path, err)
	}
	b = &Backend{db: db, logger: cfg.Logger, lock: lock}
	sub, _ := fs.Sub(migrationsFS, "migrations")
	schema, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("error preparing migrations: %w", err)
	}
	if b.jobs, err = sqlstore.NewJobs(riversqlite.New(db), schema, cfg.Logger); err != nil {
		_ = schema.Close()
		db.Close()
		return nil, err
	}
	return b, nil
}

func initFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("error creating sqlite database: %w", err)
	}
	defer db.Close()
	for _, p := range []string{"PRAGMA page_size = 16384", "PRAGMA journal_mode = WAL"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("error initialising sqlite database (%s): %w", p, err)
		}
	}
	return nil
}

// DB exposes the pool (tests, benchmarks).
func (b *Backend) DB() *sql.DB { return b.db }

// River exposes the River client (tests).
func (b *Backend) River() *river.Client[*sql.Tx] { return b.jobs.Client }

// Migrate applies the app schema and River's migrations.
func (b *Backend) Migrate(ctx context.Context) error { return b.jobs.Migrate(ctx) }

// Name implements sqlstore.Backend.
func (b *Backend) Name() string { return "sqlite" }

// TimeArg stores times as unix microseconds.
func (b *Backend) TimeArg(t time.Time) any { return t.UnixMicro() }

// ForUpdate implements sqlstore.Backend: a write transaction is the only
// writer (immediate transactions on one connection), so reads need no lock.
func (b *Backend) ForUpdate() string { return "" }

// Write implements sqlstore.Backend.
func (b *Backend) Write(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	if err := b.gate.acquire(ctx); err != nil {
		return fmt.Errorf("error waiting for the connection: %w", err)
	}
	defer b.gate.release()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	if err := fn(&txn{q: querier{tx}, tx: tx, jobs: b.jobs}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("error committing transaction: %w", err)
	}
	return nil
}

// WriteRedone implements sqlstore.Backend: as Write (synchronous=FULL).
func (b *Backend) WriteRedone(ctx context.Context, fn func(tx sqlstore.Tx) error) error {
	return b.Write(ctx, fn)
}

// Read implements sqlstore.Backend.
func (b *Backend) Read() sqlstore.Querier { return gatedQuerier{b.db, &b.gate} }

// Enqueue implements sqlstore.Backend.
func (b *Backend) Enqueue(ctx context.Context, job domain.JobArgs) error {
	return b.jobs.Enqueue(ctx, job)
}

// Ready implements sqlstore.Backend.
func (b *Backend) Ready(ctx context.Context) error { return b.jobs.ReadyWith(ctx, b.db.PingContext) }

// StartJobs implements sqlstore.Backend. Jobs a dead process left running
// are released first (releaseOrphans), so they run now rather than after
// River's RescueStuckJobsAfter.
func (b *Backend) StartJobs(ctx context.Context, rc *river.Config) error {
	n, err := b.releaseOrphans(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		b.logger.WarnContext(ctx, "released jobs left running by a previous process", slog.Int("jobs", n))
	}
	return b.jobs.StartJobs(ctx, rc)
}

// StopJobs implements sqlstore.Backend.
func (b *Backend) StopJobs(ctx context.Context) error { return b.jobs.StopJobs(ctx) }

// Close implements sqlstore.Backend.
func (b *Backend) Close() error {
	if b.jobs != nil {
		b.jobs.CloseSchema()
	}
	err := b.db.Close()
	if b.lock != nil {
		b.lock.Close()
	}
	return err
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type querier struct{ e execer }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.e.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{q.e.QueryRowContext(ctx, query, args...)}
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	r, err := q.e.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	return err
}

type rows struct{ *sql.Rows }

func (r rows) Close() { _ = r.Rows.Close() }

type txn struct {
	q    querier
	tx   *sql.Tx
	jobs *sqlstore.Jobs[*riversqlite.Driver, *sql.Tx]
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
