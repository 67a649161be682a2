package sqlitestore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"switchyard/internal/store/sqlstore"
)

// Waiters get the gate in arrival order, urgent ones first; a waiter whose
// context ends leaves the queue.
func TestConnGateOrder(t *testing.T) {
	var g connGate
	ctx := context.Background()
	if err := g.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 8)
	queued := func(n int) { // waits until n waiters are queued
		t.Helper()
		for range 1000 {
			g.mu.Lock()
			q := len(g.waiters[0]) + len(g.waiters[1])
			g.mu.Unlock()
			if q == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("waiters never reached %d", n)
	}
	wait := func(ctx context.Context, name string) {
		go func() {
			if err := g.acquire(ctx); err != nil {
				got <- name + ":" + err.Error()
				return
			}
			got <- name
			g.release()
		}()
	}
	wait(ctx, "n1")
	queued(1)
	cctx, cancel := context.WithCancel(ctx)
	wait(cctx, "gone")
	queued(2)
	wait(ctx, "n2")
	queued(3)
	wait(sqlstore.Urgent(ctx), "u1")
	queued(4)
	cancel()
	if s := <-got; s != "gone:"+context.Canceled.Error() {
		t.Fatalf("cancelled waiter: %s", s)
	}
	g.release()
	var order []string
	for range 3 {
		order = append(order, <-got)
	}
	if want := "u1 n1 n2"; strings.Join(order, " ") != want {
		t.Fatalf("order %v, want %s", order, want)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held || len(g.waiters[0])+len(g.waiters[1]) != 0 {
		t.Fatal("gate not free at the end")
	}
}

// A read's row holds the gate until scanned, a result set until closed.
func TestGatedReadsHoldTheGate(t *testing.T) {
	db := openCached(t, 0)
	q := gatedQuerier{db: db, gate: &connGate{}}
	ctx := context.Background()
	rows, err := q.Query(ctx, `SELECT 1`)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	var n int
	if err := q.QueryRow(short, `SELECT 2`).Scan(&n); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read while a result set is open: %v, want it to wait", err)
	}
	rows.Close()
	if err := q.QueryRow(ctx, `SELECT 2`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("read after close: %d, %v", n, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO t (x, s) VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	if q.gate.held {
		t.Fatal("gate held after the reads finished")
	}
}
