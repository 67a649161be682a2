package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"
)

// DefaultStmtCache bounds the prepared statements kept per connection.
const DefaultStmtCache = 512

// stmtCacheConnector wraps the SQLite connector so that every connection
// reuses a prepared statement per query text. modernc compiles the SQL of
// every ExecContext and QueryContext anew (database/sql prepares nothing
// by itself), and with one connection shared by ingest, the store and
// River, that parsing was a third of the hub's CPU under load
// (docs/performance.md, P1). The cache sits below database/sql, so River's
// own statements (fetching, completing and inserting jobs) are reused too.
type stmtCacheConnector struct {
	driver.Connector
	max int
}

// Connect implements driver.Connector.
func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	base, ok := conn.(baseConn)
	if !ok || c.max <= 0 {
		return conn, nil
	}
	return &cacheConn{baseConn: base, max: c.max, stmts: map[string]*cachedStmt{}, seen: map[string]struct{}{}}, nil
}

// baseConn is what modernc's connection implements and database/sql uses.
type baseConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cacheConn keeps a prepared statement per query text, made on the text's
// second use (one-off SQL is not kept). A statement is used by one caller
// at a time: while its rows are open (busy) the same text runs uncached.
type cacheConn struct {
	baseConn
	max int

	mu    sync.Mutex
	stmts map[string]*cachedStmt
	seen  map[string]struct{} // texts used once
}

type cachedStmt struct {
	s    driver.Stmt
	busy bool
}

type stmtRunner interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

// acquire returns the cached statement of query, marked busy, or nil when
// the caller should run it uncached.
func (c *cacheConn) acquire(ctx context.Context, query string) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		if st.busy {
			return nil
		}
		st.busy = true
		return st
	}
	if _, ok := c.seen[query]; !ok {
		if len(c.seen) >= 4*c.max {
			clear(c.seen)
		}
		c.seen[query] = struct{}{}
		return nil
	}
	delete(c.seen, query)
	if len(c.stmts) >= c.max {
		c.evictIdleLocked()
	}
	s, err := c.baseConn.PrepareContext(ctx, query)
	if err != nil {
		return nil // the uncached run reports it
	}
	if _, ok := s.(stmtRunner); !ok {
		_ = s.Close()
		return nil
	}
	st := &cachedStmt{s: s, busy: true}
	c.stmts[query] = st
	return st
}

func (c *cacheConn) release(st *cachedStmt) {
	c.mu.Lock()
	st.busy = false
	c.mu.Unlock()
}

// evictIdleLocked closes every statement not in use.
func (c *cacheConn) evictIdleLocked() {
	for q, st := range c.stmts {
		if !st.busy {
			_ = st.s.Close()
			delete(c.stmts, q)
		}
	}
}

// ExecContext implements driver.ExecerContext.
func (c *cacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st := c.acquire(ctx, query)
	if st == nil {
		return c.baseConn.ExecContext(ctx, query, args)
	}
	defer c.release(st)
	return st.s.(stmtRunner).ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext.
func (c *cacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st := c.acquire(ctx, query)
	if st == nil {
		return c.baseConn.QueryContext(ctx, query, args)
	}
	rows, err := st.s.(stmtRunner).QueryContext(ctx, args)
	if err != nil {
		c.release(st)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { c.release(st) }}, nil
}

// Close implements driver.Conn: the statements are finalized first.
func (c *cacheConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.s.Close())
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return errors.Join(append(errs, c.baseConn.Close())...)
}

// cachedRows frees its statement for the next caller when closed.
type cachedRows struct {
	driver.Rows
	once    sync.Once
	release func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close() // resets the statement
	r.once.Do(r.release)
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
