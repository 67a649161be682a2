package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// orphanBatch bounds one pass of releaseOrphans.
const orphanBatch = 1000

// OrphanError is the attempt error recorded on a job released at start-up.
const OrphanError = "orphaned by a previous process (crash); released at start-up"

// releaseOrphans makes every job left running by a previous process
// available again, in one transaction, before this process's workers start.
// Only one process ever owns the database file (the lock taken by Open), so
// at start-up nothing is running: whatever is marked running was held by a
// process that died. It uses River's own rescue statements (the ones its
// JobRescuer runs after RescueStuckJobsAfter), so the attempt the dead
// process started stays counted, its error is recorded ("orphaned…") and
// the rescue count in the metadata is raised; unlike the rescuer it makes the
// job available at once instead of after a backoff. A job that has used its
// last attempt is discarded, as River's rescuer does.
func (b *Backend) releaseOrphans(ctx context.Context) (int, error) {
	driver := riversqlite.New(b.db)
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("error beginning orphan release: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	exec := driver.UnwrapExecutor(tx)
	now := time.Now().UTC()
	// Everything running counts, whatever its attempted_at (a clock that
	// jumped back included).
	horizon := now.AddDate(100, 0, 0)
	released := 0
	var afterID int64
	for range 1_000_000 / orphanBatch { // bounded: a million orphans at most per start
		stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{AfterID: afterID, Max: orphanBatch, StuckHorizon: horizon})
		if err != nil {
			return 0, fmt.Errorf("error listing orphaned jobs: %w", err)
		}
		if len(stuck) == 0 {
			break
		}
		p := riverdriver.JobRescueManyParams{StuckHorizon: horizon}
		for _, job := range stuck {
			afterID = job.ID
			e, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(job.Attempt, 0), Error: OrphanError})
			if err != nil {
				return 0, fmt.Errorf("error encoding orphan error: %w", err)
			}
			state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
			if job.Attempt >= job.MaxAttempts {
				state, finalized = rivertype.JobStateDiscarded, &now
			}
			p.ID = append(p.ID, job.ID)
			p.Error = append(p.Error, e)
			p.FinalizedAt = append(p.FinalizedAt, finalized)
			p.ScheduledAt = append(p.ScheduledAt, now)
			p.State = append(p.State, string(state))
		}
		if _, err := exec.JobRescueMany(ctx, &p); err != nil {
			return 0, fmt.Errorf("error releasing orphaned jobs: %w", err)
		}
		released += len(stuck)
		if len(stuck) < orphanBatch {
			break
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("error committing orphan release: %w", err)
	}
	return released, nil
}
