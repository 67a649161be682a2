package sqlstore

import (
	"context"
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
// the River driver and its transaction type differ.
type Jobs[TDriver riverdriver.Driver[TTx], TTx any] struct {
	Client   *river.Client[TTx]
	schema   *goose.Provider
	migrator *rivermigrate.Migrator[TTx]
}

// NewJobs prepares the schema migrations and River's client and migrator.
// rc nil makes an insert-only client.
func NewJobs[TDriver riverdriver.Driver[TTx], TTx any](driver TDriver, schema *goose.Provider, rc *river.Config, logger *slog.Logger) (*Jobs[TDriver, TTx], error) {
	mig, err := rivermigrate.New[TTx](driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("error preparing river migrations: %w", err)
	}
	if rc == nil {
		rc = &river.Config{Logger: logger}
	}
	client, err := river.NewClient[TTx](driver, rc)
	if err != nil {
		return nil, fmt.Errorf("error creating river client: %w", err)
	}
	return &Jobs[TDriver, TTx]{Client: client, schema: schema, migrator: mig}, nil
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

// StartJobs implements Backend.
func (j *Jobs[TDriver, TTx]) StartJobs(ctx context.Context) error { return j.Client.Start(ctx) }

// StopJobs implements Backend.
func (j *Jobs[TDriver, TTx]) StopJobs(ctx context.Context) error { return j.Client.Stop(ctx) }

// CloseSchema releases the migration provider.
func (j *Jobs[TDriver, TTx]) CloseSchema() { _ = j.schema.Close() }

// InsertJobs enqueues jobs inside tx (Tx.InsertJobs of both backends).
func (j *Jobs[TDriver, TTx]) InsertJobs(ctx context.Context, tx TTx, jobs []domain.JobArgs) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, a := range jobs {
		params[i] = InsertParams(a)
	}
	_, err := j.Client.InsertManyFastTx(ctx, tx, params)
	return err
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
