package bolt

import (
	"syscall"

	bbolt "go.etcd.io/bbolt"
)

// dropMapped drops the process's mappings of the data file's pages
// (MADV_DONTNEED on bbolt's read-only shared map). bbolt writes pages with
// pwrite and reads them through the map; every page a read or an applied
// transaction touched stayed mapped, so the resident set grew with the
// file although the store works on a few recent pages. The pages stay in
// the kernel's page cache, and the next read maps them again with a minor
// fault.
//
// It runs inside a read transaction, so bbolt cannot remap meanwhile (a
// remap waits for every reader), and it drops only tx.Size() bytes, the
// pages the transaction sees, which the map always covers. The file may be
// longer than the map (bbolt grows it ahead by a chunk), and advising past
// the map's end would discard whatever memory lies there.
func (db *DB) dropMapped(tx *bbolt.Tx) {
	size := tx.Size()
	if size <= 0 {
		return
	}
	// An error leaves the pages mapped, which costs memory, not data.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.bolt.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
}
