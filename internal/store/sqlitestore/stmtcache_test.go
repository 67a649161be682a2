package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

func openCached(t *testing.T, max int) *sql.DB {
	t.Helper()
	base, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "c.db") + "?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(stmtCacheConnector{Connector: base, max: max})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER PRIMARY KEY, s TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func cached(t *testing.T, db *sql.DB) (n int) {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.Raw(func(dc any) error {
		cc := dc.(*cacheConn)
		cc.mu.Lock()
		n = len(cc.stmts)
		cc.mu.Unlock()
		return nil
	})
	return n
}

// A statement runs again with new arguments, and results stay right.
func TestStmtCacheReusesStatements(t *testing.T) {
	db := openCached(t, 8)
	for i := range 20 {
		if _, err := db.Exec(`INSERT INTO t (x, s) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		var s string
		if err := db.QueryRow(`SELECT s FROM t WHERE x = ?`, i).Scan(&s); err != nil || s != fmt.Sprint("v", i) {
			t.Fatalf("row %d = %q, %v", i, s, err)
		}
	}
	if n := cached(t, db); n != 2 {
		t.Fatalf("%d statements cached, want the 2 texts used more than once", n)
	}
}

// The same text run while its rows are open (a query inside a loop over
// it, in one transaction) runs uncached and does not disturb the first.
func TestStmtCacheBusyStatementRunsUncached(t *testing.T) {
	db := openCached(t, 8)
	for i := range 5 {
		if _, err := db.Exec(`INSERT INTO t (x, s) VALUES (?, 'a')`, i); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT x FROM t WHERE x >= ? ORDER BY x`
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for range 2 { // the second round uses the cached statement
		rows, err := tx.Query(q, 0)
		if err != nil {
			t.Fatal(err)
		}
		var outer []int
		for rows.Next() {
			var x int
			if err := rows.Scan(&x); err != nil {
				t.Fatal(err)
			}
			outer = append(outer, x)
			inner := 0
			in, err := tx.Query(q, x)
			if err != nil {
				t.Fatal(err)
			}
			for in.Next() {
				inner++
			}
			in.Close()
			if inner != 5-x {
				t.Fatalf("inner query from %d saw %d rows, want %d", x, inner, 5-x)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if fmt.Sprint(outer) != "[0 1 2 3 4]" {
			t.Fatalf("outer rows = %v", outer)
		}
	}
}

// A full cache drops its idle statements and keeps working.
func TestStmtCacheEvicts(t *testing.T) {
	db := openCached(t, 3)
	if _, err := db.Exec(`INSERT INTO t (x, s) VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for i := range 10 {
			var n int
			if err := db.QueryRow(fmt.Sprintf(`SELECT COUNT(*) + %d FROM t`, i)).Scan(&n); err != nil || n != 1+i {
				t.Fatalf("round %d query %d = %d, %v", round, i, n, err)
			}
		}
		if n := cached(t, db); n > 3 {
			t.Fatalf("%d statements cached, bound is 3", n)
		}
	}
}
