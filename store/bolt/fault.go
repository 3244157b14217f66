package bolt

import "github.com/orbit-sidecar/orbit/internal/fault"

// Fault points of the commit path, in the order a commit reaches them. A
// crash test (internal/crashtest) kills the process at each of them; in a
// normal build they cost nothing. A write transaction of bbolt writes the
// dirty pages, syncs them, writes the meta page that makes them the current
// tree and syncs again; until the meta page is written the old tree is the
// one a restart finds.
const (
	// FaultApplied: every batch of the group is applied in the open write
	// transaction; nothing is written to the file yet.
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
	// FaultCommitted: the transaction is durable; no caller has been told.
	FaultCommitted fault.Point = "bolt.committed"
)

// FaultPoints lists the commit path's fault points in commit order. The
// three inside bbolt exist only in a fault build whose bbolt has its
// failpoints turned into calls (internal/crashtest builds one).
var FaultPoints = []fault.Point{FaultApplied, FaultPagesWritten, FaultPagesSynced, FaultMetaWritten, FaultCommitted}
