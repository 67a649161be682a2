package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"switchyard/internal/domain"
)

const orderCols = `installation_id, store_id, order_id, merchant_id, customer_email, status, source_updated_at, data, updated_at`

func scanOrder(r Row) (*domain.OrderSnapshot, error) {
	var o domain.OrderSnapshot
	var data []byte
	var src, upd Timestamp
	if err := r.Scan(&o.InstallationID, &o.StoreID, &o.OrderID, &o.MerchantID, &o.CustomerEmail, &o.Status, &src, &data, &upd); err != nil {
		return nil, err
	}
	o.SourceUpdatedAt, o.UpdatedAt, o.Data = src.Time, upd.Time, data
	return &o, nil
}

func checkSnapshot(o *domain.OrderSnapshot) error {
	if o.InstallationID == "" || o.OrderID == "" || o.MerchantID == "" {
		return domain.Errorf(domain.EINVALID, "order snapshot needs merchant, installation and order id")
	}
	if !json.Valid(o.Data) {
		return domain.Errorf(domain.EINVALID, "order snapshot data is not JSON")
	}
	return nil
}

// applyOrderTx stores o inside tx unless the stored copy is as new; it
// returns whether it did and the replaced snapshot. The stored row is read
// locked (Backend.ForUpdate), so two transactions applying snapshots of one
// order cannot both compare against the same old row and let the older one
// land last; a first insert that races another falls back to the locked
// read of the row the other one stored.
func (s *Store) applyOrderTx(ctx context.Context, tx Tx, o *domain.OrderSnapshot) (bool, *domain.OrderSnapshot, error) {
	for range 2 {
		prev, err := scanOrder(tx.QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE installation_id = ? AND store_id = ? AND order_id = ?`+s.b.ForUpdate(),
			o.InstallationID, o.StoreID, o.OrderID))
		switch {
		case errors.Is(err, ErrNoRows):
			n, err := tx.Exec(ctx, `INSERT INTO orders (`+orderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (installation_id, store_id, order_id) DO NOTHING`,
				o.InstallationID, o.StoreID, o.OrderID, o.MerchantID, o.CustomerEmail, o.Status, s.b.TimeArg(o.SourceUpdatedAt.UTC()), string(o.Data), s.b.TimeArg(o.UpdatedAt))
			if err != nil {
				return false, nil, err
			}
			if n == 1 {
				return true, nil, nil
			}
			continue // another transaction stored it first: compare with its row
		case err != nil:
			return false, nil, err
		}
		if stale(o, prev) {
			return false, prev, nil // stale or same: nothing changes
		}
		if _, err := tx.Exec(ctx, `UPDATE orders SET customer_email = ?, status = ?, source_updated_at = ?, data = ?, updated_at = ?
			WHERE installation_id = ? AND store_id = ? AND order_id = ?`,
			o.CustomerEmail, o.Status, s.b.TimeArg(o.SourceUpdatedAt.UTC()), string(o.Data), s.b.TimeArg(o.UpdatedAt),
			o.InstallationID, o.StoreID, o.OrderID); err != nil {
			return false, prev, err
		}
		return true, prev, nil
	}
	return false, nil, fmt.Errorf("error storing order %s/%s: row neither inserted nor found", o.StoreID, o.OrderID)
}

// ApplyOrders implements domain.Store.
func (s *Store) ApplyOrders(ctx context.Context, os []*domain.OrderSnapshot) (int, error) {
	now := s.ts()
	for _, o := range os {
		if err := checkSnapshot(o); err != nil {
			return 0, err
		}
		o.CustomerEmail = domain.NormalizeEmail(o.CustomerEmail)
		o.UpdatedAt = now
	}
	// Stored (and row-locked) in key order, so two batches that share
	// orders cannot wait on each other.
	sorted := slices.SortedFunc(slices.Values(os), func(a, b *domain.OrderSnapshot) int {
		return cmp.Or(cmp.Compare(a.InstallationID, b.InstallationID), cmp.Compare(a.StoreID, b.StoreID), cmp.Compare(a.OrderID, b.OrderID))
	})
	n := 0
	err := s.b.Write(ctx, func(tx Tx) error {
		n = 0
		for _, o := range sorted {
			applied, _, err := s.applyOrderTx(ctx, tx, o)
			if err != nil {
				return err
			}
			if applied {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("error applying orders: %w", err)
	}
	return n, nil
}

// ApplyOrder implements domain.Store. It is called by the job that
// processes the event and commits with Backend.WriteRedone: the job's
// completion makes it durable, or River's rescue redoes it.
func (s *Store) ApplyOrder(ctx context.Context, o *domain.OrderSnapshot, plan func(prev *domain.OrderSnapshot) ([]domain.SyncKey, []domain.JobArgs)) (domain.OrderApply, error) {
	if err := checkSnapshot(o); err != nil {
		return domain.OrderApply{}, err
	}
	o.CustomerEmail = domain.NormalizeEmail(o.CustomerEmail)
	o.UpdatedAt = s.ts()
	var out domain.OrderApply
	err := s.b.WriteRedone(ctx, func(tx Tx) error {
		out = domain.OrderApply{}
		if o.EventID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE inbound_events SET processed_at = ? WHERE id = ?`, s.b.TimeArg(o.UpdatedAt), o.EventID); err != nil {
				return err
			}
		}
		applied, prev, err := s.applyOrderTx(ctx, tx, o)
		if err != nil || !applied {
			return err
		}
		out = domain.OrderApply{Applied: true, Previous: prev}
		if plan == nil {
			return nil
		}
		keys, jobs := plan(prev)
		// Marked in one order, so two transactions marking the same keys
		// (an order moving between two emails and back) lock them alike.
		keys = slices.SortedFunc(slices.Values(keys), func(a, b domain.SyncKey) int {
			return cmp.Or(cmp.Compare(a.InstallationID, b.InstallationID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
		})
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO syncs (installation_id, kind, key, merchant_id, dirty_seq, synced_seq, state, updated_at) VALUES (?, ?, ?, ?, 1, 0, '{}', ?)
				ON CONFLICT (installation_id, kind, key) DO UPDATE SET dirty_seq = syncs.dirty_seq + 1, updated_at = excluded.updated_at`,
				k.InstallationID, k.Kind, k.Key, o.MerchantID, s.b.TimeArg(o.UpdatedAt)); err != nil {
				return fmt.Errorf("error marking sync dirty: %w", err)
			}
		}
		if len(jobs) > 0 {
			if err := tx.InsertJobs(ctx, jobs); err != nil {
				return fmt.Errorf("error enqueuing sync jobs: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return domain.OrderApply{}, fmt.Errorf("error applying order: %w", err)
	}
	return out, nil
}

func (s *Store) GetOrder(ctx context.Context, installationID, storeID, orderID string) (*domain.OrderSnapshot, error) {
	o, err := scanOrder(s.b.Read().QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE installation_id = ? AND store_id = ? AND order_id = ?`, installationID, storeID, orderID))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("order", storeID+"/"+orderID)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading order: %w", err)
	}
	return o, nil
}

func (s *Store) queryOrders(ctx context.Context, q string, args ...any) ([]*domain.OrderSnapshot, error) {
	rows, err := s.b.Read().Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("error listing orders: %w", err)
	}
	defer rows.Close()
	var out []*domain.OrderSnapshot
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("error scanning order: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *Store) ListCustomerOrders(ctx context.Context, installationID, email string) ([]*domain.OrderSnapshot, error) {
	return s.queryOrders(ctx, `SELECT `+orderCols+` FROM orders WHERE installation_id = ? AND customer_email = ? ORDER BY source_updated_at DESC, store_id, order_id LIMIT 500`,
		installationID, domain.NormalizeEmail(email))
}

func (s *Store) ListOrders(ctx context.Context, installationID, afterStore, afterOrder string, limit int) ([]*domain.OrderSnapshot, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	return s.queryOrders(ctx, fmt.Sprintf(`SELECT `+orderCols+` FROM orders WHERE installation_id = ? AND (store_id > ? OR (store_id = ? AND order_id > ?)) ORDER BY store_id, order_id LIMIT %d`, limit),
		installationID, afterStore, afterStore, afterOrder)
}

func (s *Store) CountOrders(ctx context.Context, installationID string) (int, error) {
	var n int
	if err := s.b.Read().QueryRow(ctx, `SELECT COUNT(*) FROM orders WHERE installation_id = ?`, installationID).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting orders: %w", err)
	}
	return n, nil
}

// ---- syncs

func scanSync(r Row, k domain.SyncKey) (*domain.SyncState, error) {
	st := &domain.SyncState{SyncKey: k}
	var state []byte
	var synced, upd Timestamp
	if err := r.Scan(&st.MerchantID, &st.DirtySeq, &st.SyncedSeq, &state, &synced, &upd); err != nil {
		return nil, err
	}
	m := domain.StateDelta{}
	if len(state) > 0 {
		if err := json.Unmarshal(state, &m); err != nil {
			return nil, fmt.Errorf("error reading sync state of %s/%s/%s: %w", k.InstallationID, k.Kind, k.Key, err)
		}
	}
	st.State, st.SyncedAt, st.UpdatedAt = m, synced.Ptr(), upd.Time
	return st, nil
}

const syncSelect = `SELECT merchant_id, dirty_seq, synced_seq, state, synced_at, updated_at FROM syncs WHERE installation_id = ? AND kind = ? AND key = ?`

func (s *Store) GetSync(ctx context.Context, k domain.SyncKey) (*domain.SyncState, error) {
	st, err := scanSync(s.b.Read().QueryRow(ctx, syncSelect, k.InstallationID, k.Kind, k.Key), k)
	if errors.Is(err, ErrNoRows) {
		return &domain.SyncState{SyncKey: k, State: domain.StateDelta{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading sync: %w", err)
	}
	return st, nil
}

// mergeSyncState merges state into the row (creating it), inside tx, and
// returns the row as it now is.
func (s *Store) mergeSyncState(ctx context.Context, tx Tx, k domain.SyncKey, state domain.StateDelta) (*domain.SyncState, error) {
	now := s.b.TimeArg(s.ts())
	if _, err := tx.Exec(ctx, `INSERT INTO syncs (installation_id, kind, key, merchant_id, dirty_seq, synced_seq, state, updated_at)
		SELECT ?, ?, ?, merchant_id, 0, 0, '{}', ? FROM installations WHERE id = ?
		ON CONFLICT (installation_id, kind, key) DO NOTHING`, k.InstallationID, k.Kind, k.Key, now, k.InstallationID); err != nil {
		return nil, err
	}
	// Locked: the merge below and FinishSync's dirty_seq check must see the
	// row as it is, not as it was before a concurrent ApplyOrder or
	// QueueSync committed (Postgres, READ COMMITTED).
	st, err := scanSync(tx.QueryRow(ctx, syncSelect+s.b.ForUpdate(), k.InstallationID, k.Kind, k.Key), k)
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("installation", k.InstallationID)
	}
	if err != nil {
		return nil, err
	}
	if len(state) == 0 {
		return st, nil
	}
	for name, v := range state {
		if len(v) == 0 || string(v) == "null" {
			delete(st.State, name)
		} else {
			st.State[name] = v
		}
	}
	merged, err := json.Marshal(st.State)
	if err != nil {
		return nil, fmt.Errorf("error encoding sync state: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE syncs SET state = ?, updated_at = ? WHERE installation_id = ? AND kind = ? AND key = ?`,
		string(merged), now, k.InstallationID, k.Kind, k.Key); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Store) SaveSyncState(ctx context.Context, k domain.SyncKey, state domain.StateDelta) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		_, err := s.mergeSyncState(ctx, tx, k, state)
		return err
	})
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error saving sync state: %w", err)
	}
	return err
}

func (s *Store) QueueSync(ctx context.Context, k domain.SyncKey, state domain.StateDelta, job domain.JobArgs) error {
	err := s.b.Write(ctx, func(tx Tx) error {
		if _, err := s.mergeSyncState(ctx, tx, k, state); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE syncs SET dirty_seq = dirty_seq + 1, updated_at = ? WHERE installation_id = ? AND kind = ? AND key = ?`,
			s.b.TimeArg(s.ts()), k.InstallationID, k.Kind, k.Key); err != nil {
			return err
		}
		if job == nil {
			return nil
		}
		return tx.InsertJobs(ctx, []domain.JobArgs{job})
	})
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return fmt.Errorf("error queueing sync: %w", err)
	}
	return err
}

// FinishSync implements domain.Store. It commits with Backend.WriteRedone:
// if a database crash loses it, the sync job it completes is still running
// and runs again (the remote write is idempotent).
func (s *Store) FinishSync(ctx context.Context, k domain.SyncKey, seq int64, state domain.StateDelta, jobID int64) (bool, error) {
	done := false
	err := s.b.WriteRedone(ctx, func(tx Tx) error {
		done = false
		st, err := s.mergeSyncState(ctx, tx, k, state)
		if err != nil {
			return err
		}
		if st.DirtySeq != seq {
			return nil
		}
		now := s.b.TimeArg(s.ts())
		if _, err := tx.Exec(ctx, `UPDATE syncs SET synced_seq = ?, synced_at = ?, updated_at = ? WHERE installation_id = ? AND kind = ? AND key = ?`,
			seq, now, now, k.InstallationID, k.Kind, k.Key); err != nil {
			return err
		}
		if jobID != 0 {
			if err := tx.CompleteJob(ctx, jobID); err != nil {
				return fmt.Errorf("error completing job %d: %w", jobID, err)
			}
		}
		done = true
		return nil
	})
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		return false, fmt.Errorf("error finishing sync: %w", err)
	}
	return done, err
}
