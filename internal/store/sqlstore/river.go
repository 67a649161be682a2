package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
)

// Jobs is what both backends do with goose and River in the same way; only
// the River driver and its transaction type differ. The store inserts jobs
// through an insert-only client from the start; the workers get a client of
// their own when StartJobs is given them, so the hub is built in order:
// store, then the connectors over it, then the workers that call them.
type Jobs[TDriver riverdriver.Driver[TTx], TTx any] struct {
	// Client inserts jobs (and lists them); it runs nothing.
	Client   *river.Client[TTx]
	driver   TDriver
	schema   *goose.Provider
	migrator *rivermigrate.Migrator[TTx]
	worker   *river.Client[TTx]
}

// NewJobs prepares the schema migrations, River's migrator and the
// insert-only client.
func NewJobs[TDriver riverdriver.Driver[TTx], TTx any](driver TDriver, schema *goose.Provider, logger *slog.Logger) (*Jobs[TDriver, TTx], error) {
	mig, err := rivermigrate.New[TTx](driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("error preparing river migrations: %w", err)
	}
	client, err := river.NewClient[TTx](driver, &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("error creating river client: %w", err)
	}
	return &Jobs[TDriver, TTx]{Client: client, driver: driver, schema: schema, migrator: mig}, nil
}

// Migrate applies the schema migrations, then River's.
func (j *Jobs[TDriver, TTx]) Migrate(ctx context.Context) error {
	if _, err := j.schema.Up(ctx); err != nil {
		return fmt.Errorf("error applying schema migrations: %w", err)
	}
	if _, err := j.migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("error applying river migrations: %w", err)
	}
	return nil
}

// ReadyWith is Backend.Ready given the database's ping.
func (j *Jobs[TDriver, TTx]) ReadyWith(ctx context.Context, ping func(context.Context) error) error {
	return CheckReady(ctx, ping, j.schema, func(ctx context.Context) (bool, []string, error) {
		res, err := j.migrator.Validate(ctx, nil)
		if err != nil {
			return false, nil, err
		}
		return res.OK, res.Messages, nil
	})
}

// Enqueue implements Backend.
func (j *Jobs[TDriver, TTx]) Enqueue(ctx context.Context, job domain.JobArgs) error {
	_, err := j.Client.Insert(ctx, job, nil)
	return err
}

// StartJobs implements Backend: a River client with rc's workers and queues
// starts working.
func (j *Jobs[TDriver, TTx]) StartJobs(ctx context.Context, rc *river.Config) error {
	if j.worker != nil {
		return errors.New("job workers already started")
	}
	if rc == nil || rc.Workers == nil {
		return errors.New("job workers need a river config with workers")
	}
	w, err := river.NewClient[TTx](j.driver, rc)
	if err != nil {
		return fmt.Errorf("error creating river worker client: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("error starting river workers: %w", err)
	}
	j.worker = w
	return nil
}

// StopJobs implements Backend: in-flight jobs finish or are released.
func (j *Jobs[TDriver, TTx]) StopJobs(ctx context.Context) error {
	if j.worker == nil {
		return nil
	}
	return j.worker.Stop(ctx)
}

// CloseSchema releases the migration provider.
func (j *Jobs[TDriver, TTx]) CloseSchema() { _ = j.schema.Close() }

// InsertJobs enqueues jobs inside tx (Tx.InsertJobs of both backends).
//
// Jobs whose args declare unique options (the coalesced syncs) go through
// InsertManyTx, which skips a job whose unique key is already held by a job
// in one of its unique states, on every driver. River's fast bulk path
// (InsertManyFastTx) does not: on riverpgxv5 it is a COPY, and a unique
// conflict fails the statement and with it the caller's transaction (River
// documents this on InsertManyFastTx; only riversqlite's fast path happens to
// skip duplicates with ON CONFLICT DO NOTHING). Other jobs (one per inbound
// event) keep the fast path.
func (j *Jobs[TDriver, TTx]) InsertJobs(ctx context.Context, tx TTx, jobs []domain.JobArgs) error {
	var fast, unique []river.InsertManyParams
	for _, a := range jobs {
		if declaresUnique(a) {
			unique = append(unique, InsertParams(a))
		} else {
			fast = append(fast, InsertParams(a))
		}
	}
	if len(unique) > 0 {
		if _, err := j.Client.InsertManyTx(ctx, tx, unique); err != nil {
			return fmt.Errorf("error inserting unique jobs: %w", err)
		}
	}
	if len(fast) > 0 {
		if _, err := j.Client.InsertManyFastTx(ctx, tx, fast); err != nil {
			return fmt.Errorf("error inserting jobs: %w", err)
		}
	}
	return nil
}

// InsertUniqueJobs inserts jobs that all declare unique options inside tx
// (Tx.InsertUniqueJobs of both backends).
func (j *Jobs[TDriver, TTx]) InsertUniqueJobs(ctx context.Context, tx TTx, jobs []domain.JobArgs) ([]JobRef, error) {
	params := make([]river.InsertManyParams, len(jobs))
	for i, a := range jobs {
		if !declaresUnique(a) {
			return nil, fmt.Errorf("job %s declares no unique options", a.Kind())
		}
		params[i] = InsertParams(a)
	}
	res, err := j.Client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("error inserting unique jobs: %w", err)
	}
	refs := make([]JobRef, len(res))
	for i, r := range res {
		refs[i] = JobRef{ID: r.Job.ID, UniqueKey: r.Job.UniqueKey}
	}
	return refs, nil
}

// declaresUnique reports whether a job's args carry River unique options.
func declaresUnique(a domain.JobArgs) bool {
	wo, ok := a.(river.JobArgsWithInsertOpts)
	if !ok {
		return false
	}
	u := wo.InsertOpts().UniqueOpts
	return u.ByArgs || u.ByPeriod != 0 || u.ByQueue || u.ByState != nil || u.ExcludeKind
}

// rawArgs stands in for a job's args where only its row matters.
type rawArgs struct{}

func (rawArgs) Kind() string { return "" }

// CompleteJob marks the running job completed inside tx (Tx.CompleteJob of
// both backends). ctx must be the job's work context.
func (j *Jobs[TDriver, TTx]) CompleteJob(ctx context.Context, tx TTx, jobID int64) error {
	_, err := river.JobCompleteTx[TDriver](ctx, tx, &river.Job[rawArgs]{JobRow: &rivertype.JobRow{ID: jobID, State: rivertype.JobStateRunning}})
	return err
}
