//go:build !unix

package bolt

import (
	"io"
	"os"
	"time"
)

// lockShared does nothing where flock is missing; bbolt's own lock still
// keeps a second writer out.
func lockShared(*os.File, time.Duration) error { return nil }

// lockExclusive does nothing where flock is missing.
func lockExclusive(string) (func(), error) { return func() {}, nil }

// mapFile reads the first size bytes of f.
func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
