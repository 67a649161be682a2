package sqlitestore

import (
	"context"
	"database/sql"
	"slices"
	"sync"

	"switchyard/internal/store/sqlstore"
)

// connGate queues the store's uses of the one connection in front of
// database/sql: first come, first served, with urgent work
// (sqlstore.Urgent: ingest's group commit, on which webhook answers wait)
// before the rest. database/sql hands a released connection to a random
// waiter, so with a hundred workers queued on it a group commit waited
// behind half of them; through the gate it waits for the one use in
// progress (and River's own statements, which do not pass the gate).
//
// One holder at a time, as the connection itself allows: code that holds
// the gate and asks for it again (a read while a transaction or a result
// set is open) waits forever, as it would on the connection.
type connGate struct {
	mu      sync.Mutex
	held    bool
	waiters [2][]chan struct{} // urgent, then normal
}

func (g *connGate) acquire(ctx context.Context) error {
	p := 1
	if sqlstore.IsUrgent(ctx) {
		p = 0
	}
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.waiters[p] = append(g.waiters[p], ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		if i := slices.Index(g.waiters[p], ch); i >= 0 {
			g.waiters[p] = slices.Delete(g.waiters[p], i, i+1)
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		g.release() // granted meanwhile: pass it on
		return ctx.Err()
	}
}

// release hands the gate to the next waiter, urgent first.
func (g *connGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range g.waiters {
		if len(g.waiters[p]) > 0 {
			ch := g.waiters[p][0]
			g.waiters[p] = slices.Delete(g.waiters[p], 0, 1)
			close(ch)
			return
		}
	}
	g.held = false
}

// gatedQuerier runs reads outside a transaction through the gate; a row
// holds it until scanned, a result set until closed.
type gatedQuerier struct {
	db   *sql.DB
	gate *connGate
}

func (q gatedQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := q.gate.acquire(ctx); err != nil {
		return 0, err
	}
	defer q.gate.release()
	return querier{q.db}.Exec(ctx, query, args...)
}

func (q gatedQuerier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if err := q.gate.acquire(ctx); err != nil {
		return errRow{err}
	}
	return &gatedRow{r: row{q.db.QueryRowContext(ctx, query, args...)}, release: q.gate.release}
}

func (q gatedQuerier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if err := q.gate.acquire(ctx); err != nil {
		return nil, err
	}
	r, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		q.gate.release()
		return nil, err
	}
	return &gatedRows{rows: rows{r}, release: q.gate.release}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type gatedRow struct {
	r       row
	once    sync.Once
	release func()
}

func (r *gatedRow) Scan(dest ...any) error {
	defer r.once.Do(r.release)
	return r.r.Scan(dest...)
}

type gatedRows struct {
	rows
	once    sync.Once
	release func()
}

func (r *gatedRows) Close() {
	r.rows.Close()
	r.once.Do(r.release)
}
