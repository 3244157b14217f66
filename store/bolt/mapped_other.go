//go:build !linux

package bolt

import bbolt "go.etcd.io/bbolt"

// dropMapped is done only on Linux (see mapped_linux.go).
func (db *DB) dropMapped(*bbolt.Tx) {}
