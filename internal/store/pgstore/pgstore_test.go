package pgstore_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"switchyard/internal/secret"
	"switchyard/internal/store/pgstore"
	"switchyard/internal/store/sqlstore"
	"switchyard/internal/store/storetest"
	"switchyard/internal/testutil/pgtest"
)

func open(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	b, err := pgstore.Open(ctx, pgstore.Config{URL: pgtest.NewDatabase(t), MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return sqlstore.New(b, box, nil)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pgtest.Require(t)
	storetest.Exercise(t, open)
}

// Several replicas starting at once migrate under the advisory lock without
// failing.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := pgstore.Open(ctx, pgstore.Config{URL: url, MaxConns: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer b.Close()
			errs[i] = b.Migrate(ctx)
			if errs[i] == nil {
				errs[i] = b.Ready(ctx)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

// The pool is DefaultMaxConns unless the URL or the config sizes it.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, c := range []struct {
		cfg  pgstore.Config
		want int32
	}{
		{pgstore.Config{URL: url}, pgstore.DefaultMaxConns},
		{pgstore.Config{URL: url + sep + "pool_max_conns=7"}, 7},
		{pgstore.Config{URL: url + sep + "pool_max_conns=7", MaxConns: 3}, 3},
	} {
		b, err := pgstore.Open(ctx, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := b.Pool().Config().MaxConns
		b.Close()
		if got != c.want {
			t.Errorf("pool for %+v has %d connections, want %d", c.cfg, got, c.want)
		}
	}
}

// Write commits synchronously; WriteRedone turns synchronous_commit off for
// its own transaction only.
func TestWriteRedoneCommitsAsync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := pgstore.Open(ctx, pgstore.Config{URL: pgtest.NewDatabase(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	show := func(write func(context.Context, func(sqlstore.Tx) error) error) string {
		var v string
		if err := write(ctx, func(tx sqlstore.Tx) error {
			return tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v)
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// One connection: the second Write reuses the first one's session.
	if got := [...]string{show(b.Write), show(b.WriteRedone), show(b.Write)}; got != [...]string{"on", "off", "on"} {
		t.Fatalf("synchronous_commit in Write, WriteRedone, Write = %v", got)
	}
}
