// Package pgtest hands tests a fresh, empty Postgres database.
//
// The server comes from SWITCHYARD_TEST_POSTGRES_URL (an admin connection
// URL; .ci/run starts a throwaway cluster and sets it). Without it the test
// is skipped, or fails when SWITCHYARD_REQUIRE_ALL=1 (CI), so CI can never
// pass silently without Postgres.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the admin URL variable.
const EnvURL = "SWITCHYARD_TEST_POSTGRES_URL"

// Require skips or fails the test when Postgres is not configured, and
// returns the admin URL.
func Require(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("SWITCHYARD_REQUIRE_ALL") == "1" {
			tb.Fatalf("%s is not set and SWITCHYARD_REQUIRE_ALL=1: this test needs Postgres", EnvURL)
		}
		tb.Skipf("%s not set: skipping Postgres test", EnvURL)
	}
	return u
}

// NewDatabase creates a database with a random name, drops it at cleanup and
// returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := Require(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "swtest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("creating test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parsing %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}
