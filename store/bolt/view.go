package bolt

import bbolt "go.etcd.io/bbolt"

// releaseEvery is how many read transactions may map pages of the data
// file before one of them drops the mappings again (dropMapped). A read
// of one record maps more than its page (the kernel maps the cached pages
// around a fault too, 64 KiB), and a restart's re-check of a million
// waiting instances reads each record once: without it every page it
// touched would stay resident, growing the process with the file, until
// the applier's next transaction. Dropping costs a walk of the map's page
// tables, a few microseconds where little is mapped.
const releaseEvery = 64

// view runs fn in a read transaction, and every releaseEvery of them
// drops the process's mappings of the file's pages (dropMapped) before the
// transaction ends.
func (db *DB) view(fn func(tx *bbolt.Tx) error) error {
	return db.bolt.View(func(tx *bbolt.Tx) error {
		err := fn(tx)
		if db.views.Add(1)%releaseEvery == 0 {
			db.dropMapped(tx)
		}
		return err
	})
}

// viewReleasing is view that always drops the mappings at its end: for
// transactions that walk many pages (a scan's chunk, a count).
func (db *DB) viewReleasing(fn func(tx *bbolt.Tx) error) error {
	return db.bolt.View(func(tx *bbolt.Tx) error {
		err := fn(tx)
		db.dropMapped(tx)
		return err
	})
}

// releaseMapped drops the mappings between transactions: the applier's,
// after each of its transactions, and Open's, after bbolt walked every
// page of the file to rebuild its free list.
func (db *DB) releaseMapped() { db.viewReleasing(func(*bbolt.Tx) error { return nil }) }
