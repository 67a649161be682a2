package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"switchyard/internal/domain"
)

const eventCols = `id, merchant_id, installation_id, vendor, event_type, dedup_key, customer_email, payload, received_at, processed_at`

func scanEvent(r Row) (*domain.InboundEvent, error) {
	var ev domain.InboundEvent
	var payload []byte
	var received, processed Timestamp
	if err := r.Scan(&ev.ID, &ev.MerchantID, &ev.InstallationID, &ev.Vendor, &ev.EventType, &ev.DedupKey, &ev.CustomerEmail, &payload, &received, &processed); err != nil {
		return nil, err
	}
	ev.Payload = payload
	ev.ReceivedAt = received.Time
	ev.ProcessedAt = processed.Ptr()
	return &ev, nil
}

type eventKey struct{ inst, dedup string }

// IngestEvents implements domain.Store.
func (s *Store) IngestEvents(ctx context.Context, events []*domain.InboundEvent, job domain.JobBuilder) ([]domain.IngestResult, []error, error) {
	results := make([]domain.IngestResult, len(events))
	errs := make([]error, len(events))
	if len(events) == 0 {
		return results, errs, nil
	}
	for _, ev := range events {
		if ev.InstallationID == "" || ev.DedupKey == "" || ev.MerchantID == "" {
			return nil, nil, domain.Errorf(domain.EINVALID, "event needs merchant, installation and dedup key")
		}
	}
	now := s.ts()
	s.prepareApply(events, now)
	ctx = Urgent(ctx) // webhook answers wait on this commit
	var queued []queuedJob
	err := s.b.Write(ctx, func(tx Tx) error {
		queued = queued[:0]
		return s.ingestTx(ctx, tx, events, job, now, results, &queued)
	})
	if err == nil {
		s.pending.remember(queued)
		return results, errs, nil
	}
	if ctx.Err() != nil || (len(events) == 1 && events[0].Apply == nil) {
		return nil, nil, fmt.Errorf("error ingesting events: %w", err)
	}
	// One bad row fails a multi-row insert: retry row by row so the others
	// land. An event whose apply fails is stored with its job instead.
	for i, ev := range events {
		one := make([]domain.IngestResult, 1)
		write := func() error {
			return s.b.Write(ctx, func(tx Tx) error {
				queued = queued[:0]
				return s.ingestTx(ctx, tx, []*domain.InboundEvent{ev}, job, now, one, &queued)
			})
		}
		errs[i] = write()
		if errs[i] != nil && ev.Apply != nil && ctx.Err() == nil {
			ev.Apply = nil
			errs[i] = write()
		}
		if errs[i] == nil {
			s.pending.remember(queued)
		}
		results[i] = one[0]
	}
	return results, errs, nil
}

func (s *Store) ingestTx(ctx context.Context, tx Tx, events []*domain.InboundEvent, job domain.JobBuilder, now time.Time, results []domain.IngestResult, queued *[]queuedJob) error {
	// Collapse duplicates inside the batch: the first occurrence is stored.
	first := map[eventKey]int{}
	var fresh []int
	for i, ev := range events {
		k := eventKey{ev.InstallationID, ev.DedupKey}
		if _, ok := first[k]; !ok {
			first[k] = i
			fresh = append(fresh, i)
		}
	}
	var sb strings.Builder
	sb.WriteString(`INSERT INTO inbound_events (merchant_id, installation_id, vendor, event_type, dedup_key, customer_email, payload, received_at, processed_at) VALUES `)
	args := make([]any, 0, len(fresh)*9)
	for n, i := range fresh {
		ev := events[i]
		if n > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		ev.ReceivedAt = now
		var processed any // an applied event is processed by this transaction
		if ev.Apply != nil {
			processed = s.b.TimeArg(now)
		}
		args = append(args, ev.MerchantID, ev.InstallationID, ev.Vendor, ev.EventType, ev.DedupKey, ev.CustomerEmail, []byte(ev.Payload), s.b.TimeArg(now), processed)
	}
	sb.WriteString(` ON CONFLICT (installation_id, dedup_key) DO NOTHING RETURNING id, installation_id, dedup_key`)
	rows, err := tx.Query(ctx, sb.String(), args...)
	if err != nil {
		return err
	}
	inserted := map[eventKey]int64{}
	for rows.Next() {
		var id int64
		var k eventKey
		if err := rows.Scan(&id, &k.inst, &k.dedup); err != nil {
			rows.Close()
			return err
		}
		inserted[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var jobs []domain.JobArgs
	var applied []*domain.InboundEvent
	for i, ev := range events {
		k := eventKey{ev.InstallationID, ev.DedupKey}
		if id, ok := inserted[k]; ok && first[k] == i {
			ev.ID = id
			results[i] = domain.IngestResult{EventID: id}
			switch {
			case ev.Apply != nil:
				applied = append(applied, ev)
			case job != nil:
				jobs = append(jobs, job(ev))
			}
			continue
		}
		results[i].Duplicate = true
		if id, ok := inserted[k]; ok {
			results[i].EventID = id
			ev.ID = id
			continue
		}
		var received Timestamp
		if err := tx.QueryRow(ctx, `SELECT id, received_at FROM inbound_events WHERE installation_id = ? AND dedup_key = ?`, k.inst, k.dedup).Scan(&results[i].EventID, &received); err != nil {
			return fmt.Errorf("error reading duplicate event: %w", err)
		}
		ev.ID, ev.ReceivedAt = results[i].EventID, received.Time
	}
	if len(applied) > 0 {
		more, err := s.applyInlineTx(ctx, tx, applied, now)
		if err != nil {
			return fmt.Errorf("error applying events: %w", err)
		}
		jobs = append(jobs, more...)
	}
	if err := s.enqueueTx(ctx, tx, jobs, queued); err != nil {
		return fmt.Errorf("error enqueuing jobs: %w", err)
	}
	return nil
}

func (s *Store) GetEvent(ctx context.Context, merchantID string, id int64) (*domain.InboundEvent, error) {
	ev, err := scanEvent(s.b.Read().QueryRow(ctx, `SELECT `+eventCols+` FROM inbound_events WHERE id = ? AND merchant_id = ?`, id, merchantID))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("event", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading event: %w", err)
	}
	return ev, nil
}

func limitOf(n int) int {
	if n <= 0 || n > 1000 {
		return 100
	}
	return n
}

func (s *Store) ListEvents(ctx context.Context, f domain.EventFilter) ([]*domain.InboundEvent, error) {
	if f.MerchantID == "" {
		return nil, errNoMerchant("events")
	}
	var w where
	w.eq("merchant_id", f.MerchantID)
	w.eq("installation_id", f.InstallationID)
	w.eq("customer_email", domain.NormalizeEmail(f.CustomerEmail))
	w.before(f.BeforeID)
	q := `SELECT ` + eventCols + ` FROM inbound_events` + w.sql() + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limitOf(f.Limit))
	rows, err := s.b.Read().Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("error listing events: %w", err)
	}
	defer rows.Close()
	var out []*domain.InboundEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning event: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func (s *Store) MarkEventProcessed(ctx context.Context, id int64, at time.Time) error {
	var n int64
	err := s.b.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE inbound_events SET processed_at = ? WHERE id = ?`, s.b.TimeArg(at.UTC()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("error marking event processed: %w", err)
	}
	if n == 0 {
		return notFound("event", id)
	}
	return nil
}

func (s *Store) ReplayEvent(ctx context.Context, merchantID string, id int64, job domain.JobBuilder) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		ev, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventCols+` FROM inbound_events WHERE id = ? AND merchant_id = ?`, id, merchantID))
		if errors.Is(err, ErrNoRows) {
			return notFound("event", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE inbound_events SET processed_at = NULL WHERE id = ?`, id); err != nil {
			return err
		}
		return tx.InsertJobs(ctx, []domain.JobArgs{job(ev)})
	})
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error replaying event: %w", err)
	}
	return err
}
