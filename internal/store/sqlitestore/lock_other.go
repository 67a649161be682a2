//go:build !unix

package sqlitestore

import (
	"errors"
	"os"
)

// ErrLocked is returned by Open when another process owns the database.
var ErrLocked = errors.New("database is in use by another switchyard process")

// lockFile is a no-op where flock is missing: the operator must not start
// two processes on one database file there.
func lockFile(string) (*os.File, error) { return nil, nil }
