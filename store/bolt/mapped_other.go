//go:build !linux

package bolt

// releaseMapped is done only on Linux (see mapped_linux.go).
func (db *DB) releaseMapped() {}
