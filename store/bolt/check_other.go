//go:build !unix

package bolt

import (
	"os"
	"time"
)

// lockShared does nothing where flock is missing; bbolt's own lock still
// keeps a second writer out.
func lockShared(*os.File, time.Duration) error { return nil }

// lockExclusive does nothing where flock is missing.
func lockExclusive(string) (func(), error) { return func() {}, nil }
