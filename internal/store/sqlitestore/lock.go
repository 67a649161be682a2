//go:build unix

package sqlitestore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked is returned by Open when another process owns the database.
var ErrLocked = errors.New("database is in use by another switchyard process")

// lockFile takes an exclusive, non-blocking lock on path+".lock" for the life
// of the returned file. One process owns a SQLite database: that is what
// lets start-up treat every job still marked running as orphaned. The
// kernel drops the lock when the process dies, kill -9 included.
func lockFile(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("error opening lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (%s); stop the other process or use another --db", ErrLocked, path, name)
		}
		return nil, fmt.Errorf("error locking %s: %w", name, err)
	}
	return f, nil
}
