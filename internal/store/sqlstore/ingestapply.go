package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// stale reports whether o is no newer than the stored prev (newest wins:
// SourceUpdatedAt, then Status).
func stale(o, prev *domain.OrderSnapshot) bool {
	return prev.SourceUpdatedAt.After(o.SourceUpdatedAt) || (prev.SourceUpdatedAt.Equal(o.SourceUpdatedAt) && prev.Status >= o.Status)
}

type orderKey struct{ inst, store, order string }

func keyOf(o *domain.OrderSnapshot) orderKey { return orderKey{o.InstallationID, o.StoreID, o.OrderID} }

func compareOrderKeys(a, b orderKey) int {
	return cmp.Or(cmp.Compare(a.inst, b.inst), cmp.Compare(a.store, b.store), cmp.Compare(a.order, b.order))
}

func compareSyncKeys(a, b domain.SyncKey) int {
	return cmp.Or(cmp.Compare(a.InstallationID, b.InstallationID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
}

// rowsPerStatement bounds a multi-row statement's rows (SQLite's and
// Postgres' bind-variable limits are far above rowsPerStatement × 9).
const rowsPerStatement = 256

// errOrderRaced fails a batch whose new order was stored by a concurrent
// transaction between the read and the insert (Postgres only): the batch is
// retried row by row, and each row then reads the stored order.
var errOrderRaced = errors.New("an order of the batch was stored concurrently")

// prepareApply checks and normalizes the snapshots of events stored with an
// EventApply, before the transaction starts. An event whose snapshot the
// store refuses is stored with its job instead, whose handler reports the
// problem (a dead letter).
func (s *Store) prepareApply(events []*domain.InboundEvent, now time.Time) {
	for _, ev := range events {
		if ev.Apply == nil || ev.Apply.Order == nil {
			continue
		}
		o := ev.Apply.Order
		if checkSnapshot(o) != nil || o.InstallationID != ev.InstallationID || o.MerchantID != ev.MerchantID {
			ev.Apply = nil
			continue
		}
		o.CustomerEmail = domain.NormalizeEmail(o.CustomerEmail)
		o.SourceUpdatedAt = o.SourceUpdatedAt.UTC().Truncate(time.Microsecond)
		o.UpdatedAt = now
	}
}

// applyInlineTx applies the snapshots of newly stored events (in their
// order: a later event of the same order compares with the earlier one)
// inside the ingest transaction, with a few multi-row statements for the
// whole batch: one read of the stored orders (locked, in key order), one
// insert of new orders, one upsert of changed ones, one upsert of the
// dirty syncs (in key order). It returns the jobs the plans ask for, each
// unique job once.
func (s *Store) applyInlineTx(ctx context.Context, tx Tx, evs []*domain.InboundEvent, now time.Time) ([]domain.JobArgs, error) {
	byKey := map[orderKey][]*domain.EventApply{}
	var keys []orderKey
	for _, ev := range evs {
		if ev.Apply == nil || ev.Apply.Order == nil {
			continue
		}
		ev.Apply.Order.EventID = ev.ID
		k := keyOf(ev.Apply.Order)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], ev.Apply)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.SortFunc(keys, compareOrderKeys)
	stored, err := s.readOrdersTx(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	var inserts, updates []*domain.OrderSnapshot
	dirty := map[domain.SyncKey]int64{}
	dirtyMerchant := map[domain.SyncKey]string{}
	var jobs []domain.JobArgs
	for _, k := range keys {
		cur := stored[k]
		existed, changed := cur != nil, false
		for _, a := range byKey[k] {
			o := a.Order
			if cur != nil && stale(o, cur) {
				continue
			}
			prev := cur
			cur, changed = o, true
			if a.Plan == nil {
				continue
			}
			ks, js := a.Plan(prev)
			for _, sk := range ks {
				dirty[sk]++
				dirtyMerchant[sk] = o.MerchantID
			}
			jobs = append(jobs, js...)
		}
		switch {
		case !changed:
		case existed:
			updates = append(updates, cur)
		default:
			inserts = append(inserts, cur)
		}
	}
	if err := s.insertOrdersTx(ctx, tx, inserts); err != nil {
		return nil, err
	}
	if err := s.upsertOrdersTx(ctx, tx, updates); err != nil {
		return nil, err
	}
	if err := s.markDirtyTx(ctx, tx, dirty, dirtyMerchant, now); err != nil {
		return nil, err
	}
	return uniqueJobs(jobs), nil
}

// readOrdersTx reads the stored orders of keys (sorted), locked.
func (s *Store) readOrdersTx(ctx context.Context, tx Tx, keys []orderKey) (map[orderKey]*domain.OrderSnapshot, error) {
	out := make(map[orderKey]*domain.OrderSnapshot, len(keys))
	for chunk := range slices.Chunk(keys, rowsPerStatement) {
		var sb strings.Builder
		sb.WriteString(`SELECT ` + orderCols + ` FROM orders WHERE (installation_id, store_id, order_id) IN (VALUES `)
		args := make([]any, 0, len(chunk)*3)
		for i, k := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, k.inst, k.store, k.order)
		}
		sb.WriteString(`) ORDER BY installation_id, store_id, order_id` + s.b.ForUpdate())
		rows, err := tx.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("error reading orders: %w", err)
		}
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("error scanning order: %w", err)
			}
			out[keyOf(o)] = o
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("error reading orders: %w", err)
		}
	}
	return out, nil
}

func (s *Store) orderValues(sb *strings.Builder, os []*domain.OrderSnapshot) []any {
	args := make([]any, 0, len(os)*9)
	for i, o := range os {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, o.InstallationID, o.StoreID, o.OrderID, o.MerchantID, o.CustomerEmail, o.Status, s.b.TimeArg(o.SourceUpdatedAt), string(o.Data), s.b.TimeArg(o.UpdatedAt))
	}
	return args
}

// insertOrdersTx stores orders that were not stored when read; one stored
// meanwhile by another transaction fails the batch (errOrderRaced).
func (s *Store) insertOrdersTx(ctx context.Context, tx Tx, os []*domain.OrderSnapshot) error {
	for chunk := range slices.Chunk(os, rowsPerStatement) {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO orders (` + orderCols + `) VALUES `)
		args := s.orderValues(&sb, chunk)
		sb.WriteString(` ON CONFLICT (installation_id, store_id, order_id) DO NOTHING`)
		n, err := tx.Exec(ctx, sb.String(), args...)
		if err != nil {
			return fmt.Errorf("error storing orders: %w", err)
		}
		if n != int64(len(chunk)) {
			return errOrderRaced
		}
	}
	return nil
}

// upsertOrdersTx replaces orders read (and locked) in this transaction.
func (s *Store) upsertOrdersTx(ctx context.Context, tx Tx, os []*domain.OrderSnapshot) error {
	for chunk := range slices.Chunk(os, rowsPerStatement) {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO orders (` + orderCols + `) VALUES `)
		args := s.orderValues(&sb, chunk)
		sb.WriteString(` ON CONFLICT (installation_id, store_id, order_id) DO UPDATE SET customer_email = excluded.customer_email, status = excluded.status,
			source_updated_at = excluded.source_updated_at, data = excluded.data, updated_at = excluded.updated_at`)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("error updating orders: %w", err)
		}
	}
	return nil
}

// markDirtyTx raises each sync's dirty_seq by its count, in key order.
func (s *Store) markDirtyTx(ctx context.Context, tx Tx, dirty map[domain.SyncKey]int64, merchant map[domain.SyncKey]string, now time.Time) error {
	if len(dirty) == 0 {
		return nil
	}
	keys := make([]domain.SyncKey, 0, len(dirty))
	for k := range dirty {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareSyncKeys)
	at := s.b.TimeArg(now)
	for chunk := range slices.Chunk(keys, rowsPerStatement) {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO syncs (installation_id, kind, key, merchant_id, dirty_seq, synced_seq, state, updated_at) VALUES `)
		args := make([]any, 0, len(chunk)*6)
		for i, k := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, 0, '{}', ?)")
			args = append(args, k.InstallationID, k.Kind, k.Key, merchant[k], dirty[k], at)
		}
		sb.WriteString(` ON CONFLICT (installation_id, kind, key) DO UPDATE SET dirty_seq = syncs.dirty_seq + excluded.dirty_seq, updated_at = excluded.updated_at`)
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("error marking syncs dirty: %w", err)
		}
	}
	return nil
}

// uniqueJobs drops repeats of a unique job (same kind and args: River
// would skip them anyway), keeping the first.
func uniqueJobs(js []domain.JobArgs) []domain.JobArgs {
	if len(js) < 2 {
		return js
	}
	seen := map[string]bool{}
	out := js[:0:0]
	for _, j := range js {
		if declaresUnique(j) {
			b, err := json.Marshal(j)
			if err == nil {
				id := j.Kind() + "\x00" + string(b)
				if seen[id] {
					continue
				}
				seen[id] = true
			}
		}
		out = append(out, j)
	}
	return out
}
