package pgstore_test

import (
	"bytes"
	"context"
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
