// Package sqlstore implements domain.Store once, over a small Backend
// interface that the SQLite (sqlitestore) and Postgres (pgstore) packages
// provide. The SQL here is written in the common subset of both dialects with
// "?" placeholders that the Postgres backend rebinds to "$n". Each backend
// owns its connection handling, migrations and River client, and inserts
// jobs inside the caller's transaction.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"switchyard/internal/domain"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing.
var ErrNoRows = errors.New("sqlstore: no rows")

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs SQL.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Tx is a write transaction that can also insert River jobs.
type Tx interface {
	Querier
	// InsertJobs enqueues jobs inside this transaction.
	InsertJobs(ctx context.Context, jobs []domain.JobArgs) error
	// InsertUniqueJobs enqueues jobs that declare unique options inside
	// this transaction and returns, for each, the job that holds its unique
	// key: the one inserted, or the one already there.
	InsertUniqueJobs(ctx context.Context, jobs []domain.JobArgs) ([]JobRef, error)
	// CompleteJob marks the running job completed inside this transaction.
	// ctx must be the job's work context.
	CompleteJob(ctx context.Context, jobID int64) error
}

// JobRef names a job row: its id and unique key.
type JobRef struct {
	ID        int64
	UniqueKey []byte
}

// Backend is what a database implementation provides.
type Backend interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// TimeArg converts a time into the column representation.
	TimeArg(t time.Time) any
	// Write runs fn in one write transaction, committing when fn returns nil.
	Write(ctx context.Context, fn func(tx Tx) error) error
	// WriteRedone is Write for a transaction that River redoes if a database
	// crash loses it: it runs inside a job, and everything that depends on it
	// commits after it (the job's completion by River, the next sync's
	// FinishSync). A later synchronous commit flushes every earlier one, so
	// if the job's completion is durable this transaction is too; if the
	// database crashes first, the job is still running and River's stuck-job
	// rescue runs it again from the stored event. Postgres commits it
	// without waiting for its WAL flush (synchronous_commit = off for this
	// transaction only); SQLite commits it as Write does. Ingest never uses
	// it: a 202 means the event and its job are on disk.
	WriteRedone(ctx context.Context, fn func(tx Tx) error) error
	// ForUpdate is the clause that makes a SELECT inside Write lock the rows
	// it reads until the transaction ends: " FOR UPDATE" on Postgres (READ
	// COMMITTED lets transactions run side by side, so a read-then-write must
	// lock what it read), "" on SQLite (a write transaction is already the
	// only writer: immediate transactions, one connection).
	ForUpdate() string
	// Read returns a querier for reads outside a transaction.
	Read() Querier
	// Enqueue inserts a job outside any transaction.
	Enqueue(ctx context.Context, job domain.JobArgs) error
	// Ready checks connectivity and that all migrations are applied.
	Ready(ctx context.Context) error
	StartJobs(ctx context.Context, rc *river.Config) error
	StopJobs(ctx context.Context) error
	Close() error
}

// Sealer encrypts and decrypts secrets at rest.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(ciphertext []byte) ([]byte, error)
}

// Timestamp scans a time column: int64 unix microseconds (SQLite) or
// time.Time (Postgres). NULL leaves Valid false.
type Timestamp struct {
	Time  time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (t *Timestamp) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time, t.Valid = time.Time{}, false
	case int64:
		t.Time, t.Valid = time.UnixMicro(x).UTC(), true
	case time.Time:
		t.Time, t.Valid = x.UTC(), true
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a timestamp", v)
	}
	return nil
}

// Ptr returns a pointer to the time, or nil when NULL.
func (t Timestamp) Ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	tt := t.Time
	return &tt
}

// scheduled is implemented by job args that carry their first run time.
type scheduled interface {
	ScheduledAt() time.Time
}

// InsertParams turns job args into River insert parameters, honouring a
// ScheduledAt method.
func InsertParams(j domain.JobArgs) river.InsertManyParams {
	p := river.InsertManyParams{Args: j}
	if s, ok := j.(scheduled); ok {
		if at := s.ScheduledAt(); !at.IsZero() {
			p.InsertOpts = &river.InsertOpts{ScheduledAt: at}
		}
	}
	return p
}

type urgentKey struct{}

// Urgent marks ctx's database work as urgent: a backend whose one
// connection is queued for serves it before work already waiting (ingest's
// group commit, on which webhook answers wait).
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

// IsUrgent reports whether ctx was marked Urgent.
func IsUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }
