// Package bolt is Orbit's embedded default store: one bbolt file, written
// through a single committer goroutine that groups concurrent checkpoints
// into one write transaction, so many instances share one fsync.
//
// Writes. Commit validates and encodes its batch in the caller's goroutine
// (JSON is built there, in parallel, into one pooled buffer), queues it and
// waits. The committer takes the first queued batch plus every batch that
// queued meanwhile, up to maxGroup batches or maxGroupBytes, and writes them
// in one transaction. It never waits for more: a lone commit goes out at
// once, and under load the next group forms while the current fsync runs.
// bbolt's own DB.Batch is not used because it waits a fixed delay. KVPut
// takes the same path.
//
// Opening. An existing file is checked before bbolt reads it (check.go):
// bbolt trusts its pages, and with NoFreelistSync it walks all of them at
// open, so a damaged file would crash the process at every start. A file
// that fails is refused untouched; a sound one is opened without a write.
// A missing file is built under another name and linked into place, so no
// crash leaves an empty file at the path, and an empty file there is
// refused unless Options.InitEmpty says otherwise.
//
// Reads are plain read transactions. Unfinished, Timers and Ended copy
// entries out in chunks and call back outside any transaction, so a
// callback may Commit.
//
// Layout. Every bucket sits at the top level of the file; ids, event names
// and timer kinds never contain a zero byte, so 0x00 separates key parts and
// a prefix of "id 0x00" selects exactly one instance's entries. Integers are
// big-endian uint64 so that byte order is numeric order.
//
//	instances        id -> header(start ns, end ns: 16 bytes) + JSON Instance
//	unfinished       id -> status                      (non-terminal instances only)
//	list             ^start ns + id -> status 0x00 workflow 0x00 version   (newest first)
//	ended            end ns + id -> ""                 (terminal instances, oldest end first)
//	history          id 0x00 seq -> JSON Event
//	timers           at ns + instance 0x00 kind -> ""  (earliest first)
//	instance_timers  instance 0x00 at ns + kind -> ""  (finds an instance's timers on purge)
//	pending          instance 0x00 name 0x00 seq -> payload (FIFO per instance and name)
//	bundles          hash -> JSON BundleSources
//	kv               namespace (bucket) -> key -> value
//
// The record header keeps the start and end times that the list and ended
// keys were built from, so an upsert or a purge finds the stale index
// entries without decoding the old JSON.
//
// The list value carries status, workflow and version so that filtered
// listings and counts skip or tally instances without loading them. Files
// written before the version joined it hold "status 0x00 workflow"; for
// those entries a version filter or count reads the record. The unfinished index is what
// recovery reads on start; it is kept in the same transaction as the record,
// so it can never disagree with it.
package bolt
