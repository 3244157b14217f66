package bolt

import bbolt "go.etcd.io/bbolt"

// releaseEvery is how many read transactions may map pages of the data
// file before one of them drops the mappings again (releaseMapped): a
// restart's re-check of a million waiting instances reads each record
// once, and without it every page it touched would stay resident,
// growing the process with the file, until the applier's next
// transaction.
const releaseEvery = 1024

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
