package bolt

import "syscall"

// releaseMapped drops the process's mappings of the data file's pages
// (MADV_DONTNEED on bbolt's read-only shared map). bbolt writes pages with
// pwrite and reads them through the map; every page a read or an applied
// transaction touched stayed mapped, so the resident set grew with the
// file although the applier works on a few recent pages. The pages stay in
// the kernel's page cache, and the next read maps them again with a minor
// fault. Only the applier calls it, between its transactions: bbolt
// remaps only in a write transaction, so the map cannot move meanwhile.
func (db *DB) releaseMapped() {
	size := db.fileSize()
	if size <= 0 {
		return
	}
	// An error leaves the pages mapped, which costs memory, not data.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.bolt.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
}
