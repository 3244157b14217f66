// Package bolt is Orbit's embedded default store: one bbolt file, the
// store of record, with a write-ahead log in front of it, so that a group
// commit costs one sequential append and one fsync.
//
// Writes. Commit validates and encodes its batch in the caller's goroutine
// (JSON is built there, in parallel, into one pooled buffer), queues it and
// waits. The committer (commit.go) takes the first queued batch plus every
// batch that queued meanwhile, up to maxGroup batches or maxGroupBytes,
// appends them to the log as one checksummed record, syncs the log once,
// makes them visible to reads and answers their callers. It never waits
// for more: a lone commit goes out at once, and under load the next group
// forms while the current fsync runs. Everything bbolt could refuse (a key
// over its limit) is refused while encoding, because a logged batch is
// acknowledged before bbolt sees it. KVPut takes the same path.
//
// Applying (applier.go). A background applier writes logged groups into
// bbolt: after a window of applyDelay, all that were logged meanwhile in
// one transaction with bbolt's own two fsyncs, an instance checkpointed
// several times in it written once. The same transaction records the
// last applied log sequence number in the meta bucket, so a replay applies
// each record exactly once. Then the applier deletes the log segments
// bbolt now holds. bbolt keeps its own syncs: with them off, a power
// failure could leave a meta page pointing at pages never written, which
// no log can repair; amortised over a window they cost little.
//
// Reads. Instance, Bundle and KVGet look first in an in-memory overlay of
// what is logged but not applied (overlay.go). Every other read (history,
// kept events, listings, scans) first waits until bbolt holds everything
// acknowledged, which also cuts the applier's window short.
//
// The log (wal.go, walcodec.go) is segments named "<data file>.wal.<first
// lsn in hex>", each a sequence of records framed by length, CRC-32C and
// lsn. A segment is full-size before its first record (spare.go): the
// committer renames a spare, recycled from a segment the applier is done
// with or zero-filled off the commit path, so that its fdatasyncs never
// commit the file's growth; its records end where they stop following on
// from its first lsn. Open replays what a crash left (replay.go): records
// at or below the applied lsn are skipped; a record cut short or failing
// its checksum at the end of the last segment was never acknowledged and
// is cut off; the same with a sound record after it, or a segment whose
// records stop short of the next one's first, is damage, and Open refuses
// the store (ErrDamagedLog). A clean Close applies everything and deletes
// the log and the spare, so a closed store is the data file alone.
//
// Opening. An existing file is checked before bbolt reads it (check.go):
// bbolt trusts its pages and the freelist it reads at open, so a damaged
// file would crash the process at every start. A file that fails is
// refused untouched; a sound one is opened without a write, except a file
// written without a freelist page (older versions), which bbolt walks once
// and gives one. The check is the only walk of every page at open.
// A missing file is built under another name and linked into place, so no
// crash leaves an empty file at the path, and an empty file there is
// refused unless Options.InitEmpty says otherwise.
//
// Scans are plain read transactions. Unfinished, Timers and Ended copy
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
//	history          id 0x00 last [first] -> JSON Events first..last, one after the other
//	timers           at ns + instance 0x00 kind -> ""  (earliest first)
//	instance_timers  instance 0x00 at ns + kind -> ""  (finds an instance's timers on purge)
//	pending          instance 0x00 name 0x00 seq -> payload (FIFO per instance and name)
//	bundles          hash -> JSON BundleSources
//	kv               namespace (bucket) -> key -> value
//	meta             "applied_lsn" -> last log record applied (uint64)
//
// History is kept in chunks (history.go): the consecutive events of one
// instance that one applier transaction writes are one entry of up to
// 1 KiB, keyed by the last and the first of them ("id 0x00 seq" alone for
// a single event, which is also how files written before chunks hold
// every event), so that a workflow's history costs a few B+tree inserts
// instead of one per event.
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
