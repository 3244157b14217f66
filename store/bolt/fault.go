package bolt

import "github.com/orbit-sidecar/orbit/internal/fault"

// Fault points of the commit path, in the order a commit reaches them. A
// crash test (internal/crashtest) kills the process at each of them; in a
// normal build they cost nothing. A group commit is framed and appended to
// the log, synced, and then acknowledged; later the applier writes a
// window of groups into bbolt in one write transaction, which writes the
// dirty pages, syncs them, writes the meta page that makes them the
// current tree and syncs again (until the meta page is written the old
// tree is the one a restart finds, and the log still holds the groups).
const (
	// FaultLogWritten: the group's record is framed; nothing of it is in
	// the log yet.
	FaultLogWritten fault.Point = "bolt.log-written"
	// FaultLogSynced: the record is appended and synced; no caller has
	// been told.
	FaultLogSynced fault.Point = "bolt.log-synced"
	// FaultSpareNamed: a rotation renamed the spare to the new segment's
	// name; the directory is not synced and nothing is written to it.
	FaultSpareNamed fault.Point = "bolt.spare-named"
	// FaultRotated: a new log segment exists and takes the next record;
	// the old one is still on disk and nothing is written to the new one.
	FaultRotated fault.Point = "bolt.rotated"
	// FaultApplied: every logged group of the window is applied in the
	// applier's open write transaction; nothing is written to the file
	// yet.
	FaultApplied fault.Point = "bolt.applied"
	// FaultPagesWritten: bbolt wrote the transaction's pages, not synced
	// and not yet reachable from a meta page (bbolt's failpoint
	// beforeSyncDataPages).
	FaultPagesWritten fault.Point = "bolt.pages-written"
	// FaultPagesSynced: the pages are synced; the meta page that points to
	// them is not written (bbolt's beforeWriteMetaError).
	FaultPagesSynced fault.Point = "bolt.pages-synced"
	// FaultMetaWritten: the meta page is written, not synced (bbolt's
	// beforeSyncMetaPage). After a kill here the transaction is in the
	// page cache and a restart reads it; a power loss might not.
	FaultMetaWritten fault.Point = "bolt.meta-written"
	// FaultCommitted: the transaction is durable; the log segments it
	// covers are not deleted yet.
	FaultCommitted fault.Point = "bolt.committed"
	// FaultSpareRecycled: the applier renamed a segment whose records
	// bbolt holds to be the spare; it is not open yet.
	FaultSpareRecycled fault.Point = "bolt.spare-recycled"
	// FaultSpareFilling: half of a zero-filled spare is written, nothing
	// synced.
	FaultSpareFilling fault.Point = "bolt.spare-filling"
	// FaultReplayed: at open, a replay committed what a crash left in the
	// log to bbolt; the log is not deleted yet.
	FaultReplayed fault.Point = "bolt.replayed"
)

// FaultPoints lists the commit path's fault points that the first commits
// of a new store reach, in commit order. The three inside bbolt exist only
// in a fault build whose bbolt has its failpoints turned into calls
// (internal/crashtest builds one).
var FaultPoints = []fault.Point{FaultLogWritten, FaultLogSynced, FaultApplied, FaultPagesWritten,
	FaultPagesSynced, FaultMetaWritten, FaultCommitted}

// LaterFaultPoints are reached only later: a spare's preparation after
// open, a rotation once a segment is full (FaultSegmentEnv makes that
// soon) and the recycling of the segment it left, a replay when a crash
// left a log.
var LaterFaultPoints = []fault.Point{FaultSpareFilling, FaultSpareNamed, FaultRotated, FaultSpareRecycled, FaultReplayed}

// FaultSegmentEnv, in a fault build, sets the log's segment size in bytes,
// so that a crash test rotates segments within its short runs.
const FaultSegmentEnv = "ORBIT_FAULT_SEGMENT_BYTES"

// faultHook lets this package's own crash tests, which run in a normal
// build, stop at the same points; nil costs one comparison.
var faultHook func(fault.Point)

// hit marks a fault point.
func hit(p fault.Point) {
	fault.Hit(p)
	if faultHook != nil {
		faultHook(p)
	}
}
