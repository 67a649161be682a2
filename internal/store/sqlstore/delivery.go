package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"switchyard/internal/domain"
)

// RecordDeliveries implements domain.Store with one multi-row insert.
func (s *Store) RecordDeliveries(ctx context.Context, ds []*domain.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString(`INSERT INTO deliveries (merchant_id, installation_id, vendor, account, method, endpoint, status, latency_us, class, error, job_id, event_id, created_at) VALUES `)
	args := make([]any, 0, len(ds)*13)
	for i, d := range ds {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if d.CreatedAt.IsZero() {
			d.CreatedAt = s.ts()
		}
		args = append(args, d.MerchantID, d.InstallationID, d.Vendor, d.Account, d.Method, d.Endpoint, d.Status,
			d.Latency.Microseconds(), string(d.Class), d.Error, d.JobID, d.EventID, s.b.TimeArg(d.CreatedAt.UTC()))
	}
	err := s.b.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, sb.String(), args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("error recording deliveries: %w", err)
	}
	return nil
}

func (s *Store) ListDeliveries(ctx context.Context, f domain.DeliveryFilter) ([]*domain.Delivery, error) {
	if f.MerchantID == "" {
		return nil, errNoMerchant("deliveries")
	}
	var w where
	w.eq("merchant_id", f.MerchantID)
	w.eq("installation_id", f.InstallationID)
	w.eq("vendor", f.Vendor)
	w.eq("event_id", f.EventID)
	w.before(f.BeforeID)
	q := `SELECT id, merchant_id, installation_id, vendor, account, method, endpoint, status, latency_us, class, error, job_id, event_id, created_at FROM deliveries` +
		w.sql() + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limitOf(f.Limit))
	rows, err := s.b.Read().Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("error listing deliveries: %w", err)
	}
	defer rows.Close()
	var out []*domain.Delivery
	for rows.Next() {
		var d domain.Delivery
		var lat int64
		var class string
		var created Timestamp
		if err := rows.Scan(&d.ID, &d.MerchantID, &d.InstallationID, &d.Vendor, &d.Account, &d.Method, &d.Endpoint, &d.Status, &lat, &class, &d.Error, &d.JobID, &d.EventID, &created); err != nil {
			return nil, fmt.Errorf("error scanning delivery: %w", err)
		}
		d.Latency = time.Duration(lat) * time.Microsecond
		d.Class = domain.ErrorClass(class)
		d.CreatedAt = created.Time
		out = append(out, &d)
	}
	return out, rows.Err()
}

// ---- dead letters

const deadLetterCols = `id, merchant_id, installation_id, event_id, job_kind, job_args, attempts, class, error, created_at, replayed_at`

func scanDeadLetter(r Row) (*domain.DeadLetter, error) {
	var dl domain.DeadLetter
	var args []byte
	var class string
	var created, replayed Timestamp
	if err := r.Scan(&dl.ID, &dl.MerchantID, &dl.InstallationID, &dl.EventID, &dl.JobKind, &args, &dl.Attempts, &class, &dl.Error, &created, &replayed); err != nil {
		return nil, err
	}
	dl.JobArgs = args
	dl.Class = domain.ErrorClass(class)
	dl.CreatedAt = created.Time
	dl.ReplayedAt = replayed.Ptr()
	return &dl, nil
}

func (s *Store) CreateDeadLetter(ctx context.Context, dl *domain.DeadLetter) error {
	if dl.JobKind == "" {
		return domain.Errorf(domain.EINVALID, "dead letter needs a job kind")
	}
	dl.CreatedAt = s.ts()
	if len(dl.JobArgs) == 0 {
		dl.JobArgs = []byte("{}")
	}
	err := s.b.Write(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO dead_letters (merchant_id, installation_id, event_id, job_kind, job_args, attempts, class, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			dl.MerchantID, dl.InstallationID, dl.EventID, dl.JobKind, string(dl.JobArgs), dl.Attempts, string(dl.Class), dl.Error, s.b.TimeArg(dl.CreatedAt)).Scan(&dl.ID)
	})
	if err != nil {
		return fmt.Errorf("error creating dead letter: %w", err)
	}
	return nil
}

func (s *Store) GetDeadLetter(ctx context.Context, merchantID string, id int64) (*domain.DeadLetter, error) {
	dl, err := scanDeadLetter(s.b.Read().QueryRow(ctx, `SELECT `+deadLetterCols+` FROM dead_letters WHERE id = ? AND merchant_id = ?`, id, merchantID))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("dead letter", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading dead letter: %w", err)
	}
	return dl, nil
}

func (s *Store) ListDeadLetters(ctx context.Context, f domain.DeadLetterFilter) ([]*domain.DeadLetter, error) {
	if f.MerchantID == "" {
		return nil, errNoMerchant("dead letters")
	}
	var w where
	w.eq("merchant_id", f.MerchantID)
	w.eq("installation_id", f.InstallationID)
	if f.Pending {
		w.raw("replayed_at IS NULL")
	}
	w.before(f.BeforeID)
	q := `SELECT ` + deadLetterCols + ` FROM dead_letters` + w.sql() + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limitOf(f.Limit))
	rows, err := s.b.Read().Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("error listing dead letters: %w", err)
	}
	defer rows.Close()
	var out []*domain.DeadLetter
	for rows.Next() {
		dl, err := scanDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning dead letter: %w", err)
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}

func (s *Store) ReplayDeadLetter(ctx context.Context, merchantID string, id int64, job func(dl *domain.DeadLetter) (domain.JobArgs, error)) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		// Locked: two replays of one letter at once must not both pass the
		// replayed_at check (Postgres, READ COMMITTED).
		dl, err := scanDeadLetter(tx.QueryRow(ctx, `SELECT `+deadLetterCols+` FROM dead_letters WHERE id = ? AND merchant_id = ?`+s.b.ForUpdate(), id, merchantID))
		if errors.Is(err, ErrNoRows) {
			return notFound("dead letter", id)
		}
		if err != nil {
			return err
		}
		if dl.ReplayedAt != nil {
			return domain.Errorf(domain.ECONFLICT, "dead letter %d was already replayed at %s", id, dl.ReplayedAt.Format(time.RFC3339))
		}
		args, err := job(dl)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dead_letters SET replayed_at = ? WHERE id = ?`, s.b.TimeArg(s.ts()), id); err != nil {
			return err
		}
		if dl.EventID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE inbound_events SET processed_at = NULL WHERE id = ?`, dl.EventID); err != nil {
				return err
			}
		}
		return tx.InsertJobs(ctx, []domain.JobArgs{args})
	})
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error replaying dead letter: %w", err)
	}
	return err
}

// ---- jobs and lifecycle

func (s *Store) Enqueue(ctx context.Context, job domain.JobArgs) error {
	if err := s.b.Enqueue(ctx, job); err != nil {
		return fmt.Errorf("error enqueuing %s job: %w", job.Kind(), err)
	}
	return nil
}

func (s *Store) JobCounts(ctx context.Context) ([]domain.JobCount, error) {
	rows, err := s.b.Read().Query(ctx, `SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("error counting jobs: %w", err)
	}
	defer rows.Close()
	var out []domain.JobCount
	for rows.Next() {
		var c domain.JobCount
		if err := rows.Scan(&c.Kind, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("error scanning job count: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) Ready(ctx context.Context) error { return s.b.Ready(ctx) }

// StartJobs starts River workers configured by rc (its Workers call back
// into the connectors built over this store).
func (s *Store) StartJobs(ctx context.Context, rc *river.Config) error { return s.b.StartJobs(ctx, rc) }

// StopJobs finishes or releases in-flight jobs and stops the workers.
func (s *Store) StopJobs(ctx context.Context) error { return s.b.StopJobs(ctx) }
func (s *Store) Close() error                       { return s.b.Close() }
