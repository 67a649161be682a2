package sqlitestore_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"switchyard/internal/secret"
	"switchyard/internal/store/sqlitestore"
	"switchyard/internal/store/sqlstore"
	"switchyard/internal/store/storetest"
)

func open(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "test.db")})
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
	storetest.Exercise(t, open)
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"sqlite://./switchyard.db": "./switchyard.db",
		"sqlite:///tmp/x.db":       "/tmp/x.db",
		"sqlite:x.db?mode=rwc":     "x.db",
	} {
		got, err := sqlitestore.ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"postgres://x", "sqlite://"} {
		if _, err := sqlitestore.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestReadyReportsPendingMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "fresh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ready(ctx); err == nil {
		t.Fatal("Ready on an unmigrated database must fail")
	}
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("Ready after migrate: %v", err)
	}
}
