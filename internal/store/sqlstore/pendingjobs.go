package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchyard/internal/domain"
)

// pendingJobs remembers, per unique job (kind and args), the job this store
// last enqueued or found for it, once its transaction committed. A group
// commit whose plans ask for coalesced sync jobs (one per customer per
// batch, most of them already queued) then checks those jobs with one read
// by id instead of River's unique insert of each, which was the largest
// share of the ingest transaction. A job found still in one of its unique
// states holds the key, exactly as River's own unique insert would find it;
// anything else (no entry, another row under a reused id, a finished job)
// goes through the insert.
type pendingJobs struct {
	mu sync.Mutex
	m  map[string]JobRef
}

// maxPendingJobs bounds the map; it starts again empty when full.
const maxPendingJobs = 100_000

func (p *pendingJobs) get(ident string) (JobRef, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.m[ident]
	return r, ok
}

// remember records the jobs of a committed transaction.
func (p *pendingJobs) remember(qs []queuedJob) {
	if len(qs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m)+len(qs) > maxPendingJobs {
		p.m = make(map[string]JobRef, len(qs))
	}
	for _, q := range qs {
		p.m[q.ident] = q.ref
	}
}

// queuedJob is a unique job enqueued (or found) by a transaction.
type queuedJob struct {
	ident string
	ref   JobRef
}

// uniqueStates returns the states in which a job holds its unique key, or
// nil when the job does not list them (River's defaults apply: inserted).
func uniqueStates(a domain.JobArgs) []rivertype.JobState {
	wo, ok := a.(river.JobArgsWithInsertOpts)
	if !ok {
		return nil
	}
	u := wo.InsertOpts().UniqueOpts
	if !u.ByArgs || u.ByPeriod != 0 || u.ByQueue || u.ExcludeKind {
		return nil
	}
	return u.ByState
}

func jobIdent(a domain.JobArgs) (string, bool) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", false
	}
	return a.Kind() + "\x00" + string(b), true
}

// enqueueTx enqueues the jobs of a group commit inside tx. Unique jobs by
// args with listed states skip the insert when the job remembered for them
// still holds their key; what the transaction enqueued or found is appended
// to queued, for pendingJobs.remember once it commits.
func (s *Store) enqueueTx(ctx context.Context, tx Tx, jobs []domain.JobArgs, queued *[]queuedJob) error {
	var plain, unique []domain.JobArgs
	var idents []string
	for _, j := range jobs {
		ident, ok := "", false
		if uniqueStates(j) != nil {
			ident, ok = jobIdent(j)
		}
		if !ok {
			plain = append(plain, j)
			continue
		}
		unique = append(unique, j)
		idents = append(idents, ident)
	}
	if len(unique) > 0 {
		refs := make([]JobRef, len(unique))
		var ids []any
		for i, ident := range idents {
			if r, ok := s.pending.get(ident); ok {
				refs[i] = r
				ids = append(ids, r.ID)
			}
		}
		held, err := s.jobsHoldingKeys(ctx, tx, ids)
		if err != nil {
			return err
		}
		var insert []domain.JobArgs
		var insertIdents []string
		for i, j := range unique {
			row, ok := held[refs[i].ID]
			if refs[i].ID != 0 && ok && bytes.Equal(row.ukey, refs[i].UniqueKey) && slices.Contains(uniqueStates(j), rivertype.JobState(row.state)) {
				continue // the queued job will see this change
			}
			insert = append(insert, j)
			insertIdents = append(insertIdents, idents[i])
		}
		if len(insert) > 0 {
			got, err := tx.InsertUniqueJobs(ctx, insert)
			if err != nil {
				return err
			}
			for i, r := range got {
				*queued = append(*queued, queuedJob{ident: insertIdents[i], ref: r})
			}
		}
	}
	if len(plain) > 0 {
		return tx.InsertJobs(ctx, plain)
	}
	return nil
}

type heldJob struct {
	state string
	ukey  []byte
}

// jobsHoldingKeys reads the state and unique key of the jobs ids.
func (s *Store) jobsHoldingKeys(ctx context.Context, tx Tx, ids []any) (map[int64]heldJob, error) {
	out := make(map[int64]heldJob, len(ids))
	for chunk := range slices.Chunk(ids, rowsPerStatement) {
		q := `SELECT id, state, unique_key FROM river_job WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		rows, err := tx.Query(ctx, q, chunk...)
		if err != nil {
			return nil, fmt.Errorf("error reading queued jobs: %w", err)
		}
		for rows.Next() {
			var id int64
			var h heldJob
			if err := rows.Scan(&id, &h.state, &h.ukey); err != nil {
				rows.Close()
				return nil, fmt.Errorf("error reading queued jobs: %w", err)
			}
			out[id] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("error reading queued jobs: %w", err)
		}
	}
	return out, nil
}
