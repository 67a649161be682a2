package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/store/sqlitestore"
)

type orphanArgs struct{ N int }

func (orphanArgs) Kind() string { return "orphan_test" }

type orphanWorker struct {
	river.WorkerDefaults[orphanArgs]
	ran chan *rivertype.JobRow
}

func (w *orphanWorker) Work(_ context.Context, job *river.Job[orphanArgs]) error {
	w.ran <- job.JobRow
	return nil
}

// TestOpenLocksTheFile: a second Open of the same file fails while the first
// holds it, and succeeds once it is closed.
func TestOpenLocksTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if b2, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path}); !errors.Is(err, sqlitestore.ErrLocked) {
		if b2 != nil {
			b2.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	b.Close()
	b, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	b.Close()
}

// TestStartJobsReleasesOrphans: jobs a dead process left running run as soon
// as the next process starts its workers, with River's default (1 h) rescue
// interval, and the dead attempt stays counted with its error recorded.
func TestStartJobsReleasesOrphans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "orphans.db")
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if err := b.Enqueue(ctx, orphanArgs{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	// What a process killed mid-attempt leaves behind: running, attempt 1.
	if _, err := b.DB().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ? WHERE kind = 'orphan_test'`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z")); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := &orphanWorker{ran: make(chan *rivertype.JobRow, n)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	if err := b.StartJobs(ctx, &river.Config{Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	defer b.StopJobs(ctx)
	deadline := time.After(60 * time.Second) // liveness bound; River's own rescue would take an hour
	for i := range n {
		select {
		case job := <-w.ran:
			if job.Attempt != 2 {
				t.Errorf("job %d runs as attempt %d, want 2 (the orphaned attempt counts)", job.ID, job.Attempt)
			}
			if len(job.Errors) != 1 || job.Errors[0].Error != sqlitestore.OrphanError {
				t.Errorf("job %d errors %+v, want the orphan error", job.ID, job.Errors)
			}
		case <-deadline:
			t.Fatalf("%d of %d orphaned jobs ran", i, n)
		}
	}
}
