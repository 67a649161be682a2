package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// Queues. Syncs wait on vendor rate budgets; in their own queue they never
// starve event processing.
const QueueSync = "sync"

// SyncArgs runs one coalesced sync. Only one job per key is ever queued or
// running (River unique by args); changes that land while it runs are picked
// up by the same job (see Store.FinishSync).
type SyncArgs struct {
	InstallationID string `json:"installation_id" river:"unique"`
	SyncKind       string `json:"kind" river:"unique"`
	Key            string `json:"key" river:"unique"`
	// At delays the first run so a burst of changes coalesces (not part of
	// the job's identity).
	At time.Time `json:"-"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "sync" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSync,
		MaxAttempts: DefaultMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateScheduled, rivertype.JobStateRetryable,
		}},
	}
}

// ScheduledAt is read by the store when it inserts the job.
func (a SyncArgs) ScheduledAt() time.Time { return a.At }

// SyncKey returns the key the job syncs.
func (a SyncArgs) SyncKey() domain.SyncKey {
	return domain.SyncKey{InstallationID: a.InstallationID, Kind: a.SyncKind, Key: a.Key}
}

// NewSync returns the job for k, first run after delay.
func NewSync(k domain.SyncKey, now time.Time, delay time.Duration) SyncArgs {
	a := SyncArgs{InstallationID: k.InstallationID, SyncKind: k.Kind, Key: k.Key}
	if delay > 0 {
		a.At = now.Add(delay)
	}
	return a
}

// Syncer brings one kind of remote state up to date from the store.
type Syncer interface {
	// Sync writes the state of st's key as it is now in the store. st.State
	// is the sync's bookkeeping (st.Decode reads it into the syncer's typed
	// struct); the returned delta is merged into it (domain.StateOf; a null
	// field deletes) whether or not Sync fails. A syncer that re-reads
	// the sync state before reading what it writes may raise st.DirtySeq to
	// the value it read. Returning ErrContinue saves the state and runs the
	// sync again shortly, without spending an attempt (long work in slices).
	Sync(ctx context.Context, in *domain.Installation, st *domain.SyncState) (domain.StateDelta, error)
}

// ErrContinue tells SyncWorker that the sync made progress and has more to do.
var ErrContinue = errors.New("sync continues in the next slice")

// SyncWorker runs SyncArgs jobs.
type SyncWorker struct {
	river.WorkerDefaults[SyncArgs]
	Store   domain.Store
	Syncers map[string]Syncer
	Settler *Settler
	// Again is how long to wait before re-running a sync whose state changed
	// while it ran (default 100 ms).
	Again time.Duration
}

// Work implements river.Worker.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	k := job.Args.SyncKey()
	dl := domain.DeadLetter{InstallationID: k.InstallationID}
	in, err := w.Store.LookupInstallation(ctx, k.InstallationID)
	if err != nil {
		return w.Settler.Settle(ctx, job.JobRow, dl, err)
	}
	dl.MerchantID = in.MerchantID
	if !in.State.Processes() {
		return river.JobCancel(fmt.Errorf("installation %s is %s", in.ID, in.State))
	}
	s, ok := w.Syncers[k.Kind]
	if !ok {
		return w.Settler.Settle(ctx, job.JobRow, dl, domain.Errorf(domain.EINVALID, "no syncer for %q in this build", k.Kind))
	}
	st, err := w.Store.GetSync(ctx, k)
	if err != nil {
		return err
	}
	var state domain.StateDelta
	if st.DirtySeq == 0 || st.SyncedSeq < st.DirtySeq {
		wctx := outbound.WithMeta(ctx, outbound.Meta{MerchantID: in.MerchantID, InstallationID: in.ID, JobID: job.ID})
		state, err = s.Sync(wctx, in, st)
		if errors.Is(err, ErrContinue) {
			if len(state) > 0 {
				if err := w.Store.SaveSyncState(ctx, k, state); err != nil {
					return err
				}
			}
			return river.JobSnooze(w.again())
		}
		if err != nil {
			if len(state) > 0 {
				_ = w.Store.SaveSyncState(context.WithoutCancel(ctx), k, state)
			}
			return w.Settler.Settle(ctx, job.JobRow, dl, err)
		}
	}
	done, err := w.Store.FinishSync(ctx, k, st.DirtySeq, state, job.ID)
	if err != nil {
		return fmt.Errorf("error finishing sync: %w", err)
	}
	w.Settler.Succeeded(in.ID)
	if !done {
		return river.JobSnooze(w.again()) // the state moved on while we wrote: run again
	}
	return nil
}

func (w *SyncWorker) again() time.Duration {
	if w.Again > 0 {
		return w.Again
	}
	return 100 * time.Millisecond
}

// replaySync rebuilds a dead-lettered sync job.
func replaySync(dl *domain.DeadLetter) (domain.JobArgs, error) {
	var a SyncArgs
	if err := json.Unmarshal(dl.JobArgs, &a); err != nil || a.Key == "" {
		return nil, domain.Errorf(domain.EINVALID, "dead letter %d has unreadable sync args", dl.ID)
	}
	return a, nil
}
