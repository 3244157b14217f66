package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Ownership of instances among sidecars that share one store.
//
// A store that several sidecars share (store/nats) also implements
// Coordinator. A sidecar runs an instance only while it holds the
// instance's lease; it renews the lease while a step runs and with every
// checkpoint, and a checkpoint carrying a lease that another sidecar has
// since taken over is refused whole (ErrFenced), so a stale owner's late
// write is never applied. When a sidecar dies its leases lapse after
// LeaseTTL and whichever sidecar receives the instance's work next takes
// it over.
//
// Work is how an instance reaches a sidecar: a wake-up (Wake, or
// Batch.Wake in a checkpoint: an instance started, an event kept, a child
// ended, a cancel asked) or a durable timer falling due. Work is
// delivered to one sidecar at a time and comes back to another unless
// that sidecar marks it Done within LeaseTTL (Extend keeps it while the
// instance runs), so nothing waits on a sidecar that died.
//
// A store used by one sidecar alone needs none of this; the engine then
// owns every instance of its store, as the engine package describes.

// ErrOwned is returned, inside an *OwnedError, by Claim when another
// sidecar holds the lease.
var ErrOwned = errors.New("instance is owned by another sidecar")

// OwnedError names the sidecar that holds an instance's lease, so that a
// request about the instance can be handed to it (Coordinator.Call).
type OwnedError struct {
	Instance string
	Node     string
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("instance %s is run by sidecar %s", e.Instance, e.Node)
}

// Is makes errors.Is(err, ErrOwned) hold.
func (e *OwnedError) Is(target error) bool { return target == ErrOwned }

// ErrFenced is returned by CommitLeased and Renew when the lease was taken
// over by another sidecar (or lapsed): nothing was written. A write whose
// answer was lost may have been stored by then, before the lease changed
// hands; the new owner carries on from it as from any checkpoint.
var ErrFenced = errors.New("the lease on the instance was taken over; nothing was written")

// Lease is one sidecar's claim on an instance. Token is the fencing token:
// every claim and renewal makes a larger one, and only a write carrying
// the newest is applied.
type Lease struct {
	Instance string
	Node     string
	Token    uint64
}

// Work is an instance some sidecar should look at now.
type Work struct {
	Instance string
	// Timer is the durable timer that fell due, or nil for a wake-up.
	Timer *Timer
	// Delivery counts deliveries of this work, from 1: more than one means
	// a sidecar took it and did not finish with it.
	Delivery uint64
	// Ack settles the delivery; the Coordinator sets it.
	Ack WorkAck
}

// WorkAck settles one delivery of work.
type WorkAck interface {
	// Done removes the work: the instance was looked at.
	Done() error
	// Later hands the work back, to be delivered again after d (to this
	// sidecar or another), for example while another sidecar owns the
	// instance or before a timer that came early is due.
	Later(d time.Duration) error
	// Extend keeps the work with this sidecar for another LeaseTTL while
	// the instance runs.
	Extend() error
}

// Coordinator shares instances among the sidecars of one store.
type Coordinator interface {
	// Node names this sidecar among those that share the store.
	Node() string
	// LeaseTTL is how long a lease lasts without renewal, and how long
	// undelivered work stays with one sidecar.
	LeaseTTL() time.Duration
	// Claim takes the lease on the instance: ErrOwned (wrapped, naming
	// the holder) when another sidecar holds it. A sidecar that already
	// holds it gets it renewed.
	Claim(ctx context.Context, id string) (Lease, error)
	// Renew extends a held lease, updating its token; ErrFenced when it
	// was taken over.
	Renew(ctx context.Context, l *Lease) error
	// Release gives a lease up, so that the next claim needs no wait.
	Release(ctx context.Context, l Lease) error
	// CommitLeased commits b atomically with a renewal of l, updating its
	// token, or writes nothing and returns ErrFenced when l was taken
	// over. Like Commit, it groups concurrent checkpoints. When b holds
	// the leased instance's record RUNNING, the instance is guarded: if
	// the lease lapses (its holder stopped renewing it) before a later
	// checkpoint of the record not RUNNING, the instance is delivered as
	// work, so that another sidecar takes it over. An ended record that
	// holds a concurrency slot (ConcKey set, no Parent) stays guarded
	// until ReleaseSlot gives the slot back, so that a slot whose holder
	// died between the two is given back by another sidecar.
	CommitLeased(ctx context.Context, b *Batch, l *Lease) error
	// Wake makes instances runnable: some sidecar receives their work.
	Wake(ctx context.Context, ids ...string) error
	// Work blocks until work is delivered to this sidecar or ctx ends.
	Work(ctx context.Context) (Work, error)
	// Call hands a request to sidecar node (one that holds a lease the
	// caller needs, such as for a cancel) and returns its answer. It
	// fails when that sidecar does not answer within ctx.
	Call(ctx context.Context, node string, req []byte) ([]byte, error)
	// Serve answers the requests other sidecars Call this one with, until
	// the store closes. handle runs in its own goroutine per request.
	Serve(handle func(req []byte) []byte) error

	// AcquireSlot gives instance id one of the limit slots of a
	// workflow's concurrency key, shared by every sidecar, or a place at
	// the end of the key's queue; it reports whether id holds a slot. It
	// may be asked again for an id that has a place: a queued id then
	// gets a slot once one is free, after the slots and queue places of
	// instances that ended (or were never stored) without giving theirs
	// back are freed.
	AcquireSlot(ctx context.Context, key SlotKey, limit int, id string) (bool, error)
	// ReleaseSlot gives id's slot or queue place back, and in the same
	// write wakes the queued instances that get a slot (Work delivers
	// them) and ends id's takeover guard.
	ReleaseSlot(ctx context.Context, key SlotKey, id string) error
}

// SlotKey names the slots of one concurrency key of one workflow.
type SlotKey struct {
	Workflow string
	Key      string
}
