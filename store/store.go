// Package store defines what Orbit persists and the Store interface every
// backend implements. store/storetest holds the shared conformance suite;
// store/bolt is the embedded default.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrBadCursor is returned by List for a cursor it did not hand out.
var ErrBadCursor = errors.New("invalid cursor")

// Status is an instance's lifecycle status (SPEC 2.1).
type Status string

// The statuses.
const (
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Waiting   Status = "WAITING"
	Paused    Status = "PAUSED"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Cancelled Status = "CANCELLED"
	TimedOut  Status = "TIMED_OUT"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{Queued, Running, Waiting, Paused, Succeeded, Failed, Cancelled, TimedOut}

// Terminal reports whether an instance with this status has ended.
func (s Status) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == TimedOut
}

// WaitingKind names what a non-running instance waits for (SPEC 2.1).
type WaitingKind string

// The waiting kinds, as the API shows them in "waiting": {"kind": ...}.
const (
	WaitEvent       WaitingKind = "event"       // an await state waits for a named event
	WaitTimer       WaitingKind = "timer"       // a wait state waits for its time
	WaitRetry       WaitingKind = "retry"       // a failed state waits for its next attempt
	WaitChild       WaitingKind = "child"       // a parallel, map or call state waits for child instances
	WaitConcurrency WaitingKind = "concurrency" // a QUEUED instance waits for a slot of its concurrency key
	WaitPaused      WaitingKind = "paused"      // a paused instance waits for a resume
)

// WaitingFor says what a non-running instance waits for (SPEC 2.1).
type WaitingFor struct {
	Kind     WaitingKind `json:"kind"`
	Event    string      `json:"event,omitempty"`
	Until    *time.Time  `json:"until,omitempty"`
	Attempt  int         `json:"attempt,omitempty"`
	Error    string      `json:"error,omitempty"`
	Instance string      `json:"instance,omitempty"`
	Key      string      `json:"key,omitempty"`
}

// Instance is the durable record of one workflow instance: its public
// shape (SPEC 2.1) and the engine's bookkeeping, kept in the same record so
// that one write checkpoints all.
type Instance struct {
	Public

	Bundle      string          `json:"bundle"`             // hash of the bundle it runs on
	Machine     string          `json:"machine,omitempty"`  // key of the machine inside the workflow ("" for the body)
	Data        json.RawMessage `json:"data,omitempty"`     // the current state's input data
	Attempt     int             `json:"attempt,omitempty"`  // 1-based attempt of the current state
	Visits      map[string]int  `json:"visits,omitempty"`   // entries per state
	Seq         uint64          `json:"seq"`                // last history sequence number
	Chain       Hash            `json:"chain,omitzero"`     // hash of the last history event (chain.go)
	Index       int             `json:"index,omitempty"`    // index among the parent's children
	MapItem     bool            `json:"map_item,omitempty"` // a map iterator's run: ctx.item_index is Index
	Children    []string        `json:"children,omitempty"`
	TraceParent string          `json:"traceparent,omitempty"`
	ConcKey     string          `json:"concurrency_key,omitempty"`
	ConcSeq     int64           `json:"concurrency_seq,omitempty"` // arrival order in its key's queue
	Deadline    *time.Time      `json:"deadline,omitempty"`        // workflow timeout
	Express     bool            `json:"express,omitempty"`         // checkpointed only when parking or ending
	// Resumed counts the restarts that resumed the instance while it was
	// RUNNING since it last completed a step; the engine quarantines one
	// resumed twice without completing one (States.Quarantined).
	Resumed int `json:"resumed,omitempty"`

	// Where the current state's visit began: the seq of its StateEntered
	// event and its time (ASL's context object and error causes name them).
	Entered   uint64    `json:"entered,omitempty"`
	EnteredAt time.Time `json:"entered_at,omitzero"`
	// Root is the top-level instance a branch or item runs for ("" at the
	// top), whose input and start the states of nested machines may read.
	Root string `json:"root,omitempty"`
	// Variables (a JSON object) the instance's states assigned, and those
	// it sees from the machines around it (ASL's Assign). Workflows without
	// variables leave both empty.
	Vars  json.RawMessage `json:"vars,omitempty"`
	Outer json.RawMessage `json:"outer,omitempty"`

	// Fan-out bookkeeping of a parallel, map or call state: how many
	// children the state has in all, how many were started, the outputs
	// collected so far by child index, and how many failed within the
	// map's tolerance.
	Items     int                     `json:"items,omitempty"`
	NextItem  int                     `json:"next_item,omitempty"`
	Collected map[int]json.RawMessage `json:"collected,omitempty"`
	Failed    int                     `json:"failed,omitempty"`

	// What a paused instance goes back to on resume.
	PausedStatus  Status      `json:"paused_status,omitempty"`
	PausedWaiting *WaitingFor `json:"paused_waiting,omitempty"`
}

// Public is an instance as the API and the command line show it (SPEC 2.1).
type Public struct {
	ID        string          `json:"id"`
	Workflow  string          `json:"workflow"`
	Version   string          `json:"version"`
	Status    Status          `json:"status"`
	State     string          `json:"state,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartedAt time.Time       `json:"started_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	EndedAt   *time.Time      `json:"ended_at,omitempty"`
	Waiting   *WaitingFor     `json:"waiting,omitempty"`
	Parent    string          `json:"parent,omitempty"` // instance that waits for this one
	// IdempotencyKey is the key the instance was started with, when it
	// was started with one (its id derives from it).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Damaged is set only on the stub that List returns for an instance
	// whose record cannot be decoded (see DamagedStub): what is wrong.
	Damaged string `json:"damaged,omitempty"`
}

// Clone copies the record so that one goroutine can keep changing it while
// another reads the copy.
func (in *Instance) Clone() *Instance {
	c := *in
	c.Visits = maps.Clone(in.Visits)
	c.Children = slices.Clone(in.Children)
	c.Collected = maps.Clone(in.Collected)
	return &c
}

// SlotPlace tells where an unfinished instance stands with its
// concurrency key: none (no key, or a child, which runs in its parent's
// slot), a slot it holds from its start to its end, or a place in the
// key's queue while it is QUEUED (or paused while QUEUED).
func (in *Instance) SlotPlace() SlotPlace {
	switch {
	case in.ConcKey == "" || in.Parent != "" || in.Status.Terminal():
		return NoSlot
	case in.Status == Queued || in.Status == Paused && in.PausedStatus == Queued:
		return InSlotQueue
	}
	return HoldsSlot
}

// SlotPlace is where an instance stands with its concurrency key.
type SlotPlace int

// The places an instance may have with its concurrency key.
const (
	NoSlot      SlotPlace = iota // no key, a child, or ended
	HoldsSlot                    // holds one of the key's slots
	InSlotQueue                  // waits in the key's queue, in ConcSeq order
)

// EventType names a history event (SPEC 2.4). It is also what an
// observer's or a plugin hook's "on" matches.
type EventType string

// The history event types, in the order an instance usually meets them.
const (
	EventExecutionStarted   EventType = "ExecutionStarted"
	EventStateEntered       EventType = "StateEntered"
	EventTaskScheduled      EventType = "TaskScheduled"
	EventTaskSucceeded      EventType = "TaskSucceeded"
	EventTaskFailed         EventType = "TaskFailed"
	EventTaskRetryScheduled EventType = "TaskRetryScheduled"
	EventErrorCaught        EventType = "ErrorCaught"
	EventStateExited        EventType = "StateExited"
	EventTimerStarted       EventType = "TimerStarted"
	EventTimerFired         EventType = "TimerFired"
	EventEventAwaited       EventType = "EventAwaited"
	EventEventReceived      EventType = "EventReceived"
	EventChildStarted       EventType = "ChildStarted"
	EventChildCompleted     EventType = "ChildCompleted"
	EventObserverFailed     EventType = "ObserverFailed"
	EventMigrated           EventType = "Migrated"
	EventExecutionSucceeded EventType = "ExecutionSucceeded"
	EventExecutionFailed    EventType = "ExecutionFailed"
	EventExecutionCancelled EventType = "ExecutionCancelled"
	EventExecutionTimedOut  EventType = "ExecutionTimedOut"
)

// EventTypes lists every history event type: the only values an observer
// or a hook can watch, so anything else is a typo.
var EventTypes = []EventType{
	EventExecutionStarted, EventStateEntered, EventTaskScheduled, EventTaskSucceeded, EventTaskFailed,
	EventTaskRetryScheduled, EventErrorCaught, EventStateExited, EventTimerStarted, EventTimerFired,
	EventEventAwaited, EventEventReceived, EventChildStarted, EventChildCompleted, EventObserverFailed,
	EventMigrated, EventExecutionSucceeded, EventExecutionFailed, EventExecutionCancelled, EventExecutionTimedOut,
}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// Event is one history event (SPEC 2.4).
type Event struct {
	Instance string          `json:"-"`
	Seq      uint64          `json:"seq"`
	Type     EventType       `json:"type"`
	Time     time.Time       `json:"time"`
	State    string          `json:"state,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	Attempt  int             `json:"attempt,omitempty"`
	DelayMS  int64           `json:"delay_ms,omitempty"`
	Event    string          `json:"event,omitempty"`
	Child    string          `json:"child,omitempty"`
	From     string          `json:"from_version,omitempty"` // Migrated
	To       string          `json:"to_version,omitempty"`   // Migrated
	// Hash links the event to the one before it (chain.go); zero on
	// events written before the chain existed.
	Hash Hash `json:"hash,omitzero"`
}

// Timer is a durable wake-up for an instance. (At, Instance, Kind) is its key.
type Timer struct {
	At       time.Time `json:"at"`
	Instance string    `json:"instance"`
	Kind     string    `json:"kind"` // what the engine does when it fires
}

// PendingEvent is an event delivered to an instance and not yet consumed.
type PendingEvent struct {
	Instance string          `json:"instance"`
	Name     string          `json:"name"`
	Seq      uint64          `json:"seq"` // arrival order; set by the store when zero
	Payload  json.RawMessage `json:"payload"`
}

// Batch is one atomic checkpoint: everything in it is written together or
// not at all. The engine builds one per transition.
type Batch struct {
	Instances     []*Instance     // upserts of whole records
	Events        []Event         // history appended
	SetTimers     []Timer         // timers added
	DelTimers     []Timer         // timers removed (by key)
	AddPending    []PendingEvent  // events kept for later
	DelPending    []PendingEvent  // events consumed (by Instance, Name, Seq)
	Bundles       []BundleSources // bundles kept
	DeleteBundles []string        // bundle hashes dropped
	Purge         []string        // instances removed with their history, timers and kept events
	// Wake makes instances runnable on whichever sidecar takes their work
	// (see Coordinator), in the same write. A store that no other sidecar
	// shares ignores it: its one engine wakes them itself.
	Wake []string
}

// Reset empties the batch, keeping its capacity for reuse.
func (b *Batch) Reset() {
	clear(b.Instances)
	b.Instances = b.Instances[:0]
	b.Events = b.Events[:0]
	b.SetTimers = b.SetTimers[:0]
	b.DelTimers = b.DelTimers[:0]
	b.AddPending = b.AddPending[:0]
	b.DelPending = b.DelPending[:0]
	b.Bundles = b.Bundles[:0]
	b.DeleteBundles = b.DeleteBundles[:0]
	b.Purge = b.Purge[:0]
	b.Wake = b.Wake[:0]
}

// Empty reports whether the batch writes nothing. Wake does not count: a
// store that is not shared writes nothing for it.
func (b *Batch) Empty() bool {
	return len(b.Instances)+len(b.Events)+len(b.SetTimers)+len(b.DelTimers)+len(b.AddPending)+
		len(b.DelPending)+len(b.Bundles)+len(b.DeleteBundles)+len(b.Purge) == 0
}

// BundleSources is a kept bundle: its hash and files.
type BundleSources struct {
	Hash    string            `json:"hash"`
	Files   map[string][]byte `json:"files"`
	AddedAt time.Time         `json:"added_at"`
}

// Query selects instances for List and Count. Empty fields select all.
type Query struct {
	Workflow string
	Version  string // the workflow version label
	Status   Status
	// IDContains keeps the instances whose id holds this text, so that a
	// search for an order id finds the instance and its children.
	IDContains string
	Limit      int    // 0: 100; Count ignores it
	Cursor     string // from a previous page; Count ignores it
}

// Matches reports whether in is one of the instances q selects.
func (q *Query) Matches(in *Public) bool {
	return (q.Workflow == "" || in.Workflow == q.Workflow) && (q.Version == "" || in.Version == q.Version) &&
		(q.Status == "" || in.Status == q.Status) && (q.IDContains == "" || strings.Contains(in.ID, q.IDContains))
}

// Tally is how many of the instances a Count selects share one workflow,
// version and status.
type Tally struct {
	Workflow string `json:"workflow"`
	Version  string `json:"version"`
	Status   Status `json:"status"`
	Count    int    `json:"count"`
}

// SortTallies puts tallies in Count's order: by workflow, version, status.
func SortTallies(ts []Tally) {
	slices.SortFunc(ts, func(a, b Tally) int {
		return cmp.Or(strings.Compare(a.Workflow, b.Workflow), strings.Compare(a.Version, b.Version),
			strings.Compare(string(a.Status), string(b.Status)))
	})
}

// Store is a durable home for instances, history, timers, pending events,
// bundle sources and plugin key-values.
type Store interface {
	// Commit writes the batch atomically and durably. Concurrent commits are
	// grouped into one write transaction (group commit).
	Commit(ctx context.Context, b *Batch) error

	// Instance reads one instance. A record that cannot be decoded is a
	// *DamagedError naming the instance.
	Instance(id string) (*Instance, error)
	// Has reports whether the store holds instance id, without decoding
	// its record: a damaged record is held.
	Has(id string) (bool, error)
	// List returns instances newest first, and the cursor of the next page
	// ("" at the end). An instance whose record is damaged is listed as a
	// DamagedStub, so that one bad record hides nothing else.
	List(q Query) ([]*Instance, string, error)
	// Count counts the instances q selects, one tally per workflow, version
	// and status that has any, sorted by SortTallies. It reads the whole
	// listing index, so it costs time in proportion to the instances kept.
	Count(q Query) ([]Tally, error)
	// History returns an instance's events with seq > after, at most limit
	// (0: all).
	History(id string, after uint64, limit int) ([]Event, error)
	// Unfinished calls fn with the id and status of every instance that has
	// not ended, without loading their records.
	Unfinished(fn func(id string, status Status) error) error
	// Timers calls fn with every timer, earliest first.
	Timers(fn func(Timer) error) error
	// Pending returns the oldest kept event of that name for the instance.
	Pending(instance, name string) (*PendingEvent, error)
	// PendingSize counts the kept events of an instance, of every name,
	// and the bytes of their payloads.
	PendingSize(instance string) (events int, bytes int64, err error)
	// Bundle reads kept bundle sources.
	Bundle(hash string) (*BundleSources, error)
	// Bundles lists kept bundle hashes, oldest first, leaving out (and
	// logging) any whose record is damaged.
	Bundles() ([]BundleSources, error)
	// Ended calls fn with ids of terminal instances that ended before t.
	Ended(before time.Time, fn func(id string) error) error

	// KVGet and KVPut are a small key-value space per namespace (plugins);
	// a nil value deletes the key.
	KVGet(ns, key string) ([]byte, error)
	KVPut(ns, key string, value []byte) error
	// KVUsage is the bytes a namespace holds: the sum of the lengths of its
	// keys and values (0 for an unknown namespace), for plugin quotas.
	KVUsage(ns string) (int64, error)

	// Stats reports commit counters, for the benchmark and metrics.
	Stats() Stats

	Close() error
}

// TimerRanger is a Store that lists its timers from a point on, so that an
// engine keeps only the next few in memory instead of every timer.
type TimerRanger interface {
	// TimersAfter calls fn with the timers that follow after in
	// CompareTimers' order (from the first one when after is the zero
	// Timer), until fn returns false.
	TimersAfter(after Timer, fn func(Timer) bool) error
}

// TimersAfter is s.TimersAfter when s is a TimerRanger; for any other
// store it reads every timer and passes on those after after.
func TimersAfter(s Store, after Timer, fn func(Timer) bool) error {
	if r, ok := s.(TimerRanger); ok {
		return r.TimersAfter(after, fn)
	}
	err := s.Timers(func(t Timer) error {
		if after != (Timer{}) && CompareTimers(t, after) <= 0 {
			return nil
		}
		if !fn(t) {
			return errEnoughTimers
		}
		return nil
	})
	if errors.Is(err, errEnoughTimers) {
		return nil
	}
	return err
}

var errEnoughTimers = errors.New("enough timers")

// CompareTimers orders timers as Timers lists them: by time (as UnixNanos
// counts it), then instance, then kind.
func CompareTimers(a, b Timer) int {
	return cmp.Or(cmp.Compare(UnixNanos(a.At), UnixNanos(b.At)), strings.Compare(a.Instance, b.Instance),
		strings.Compare(a.Kind, b.Kind))
}

// Times an int64 of nanoseconds since 1970 counts, and as far as a store
// keys times.
var (
	unixEpoch    = time.Unix(0, 0)
	lastUnixNano = time.Unix(0, math.MaxInt64)
)

// UnixNanos is t as stores key times: nanoseconds since 1970, in an
// unsigned integer that keeps their order. The zero Time and every time
// before 1970 are 0 (a timer then is due at once); every time after the
// last an int64 counts (2262-04-11) is that last one (a timer then is due
// never), where time.UnixNano would wrap around.
func UnixNanos(t time.Time) uint64 {
	switch {
	case t.IsZero() || t.Before(unixEpoch):
		return 0
	case t.After(lastUnixNano):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// FromUnixNanos is the time UnixNanos keyed as n, in UTC; 0 is the zero
// Time.
func FromUnixNanos(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// TimerTime is the time a store keeps a timer set at t, and lists it at:
// t to the nanosecond in UTC, with the bounds of UnixNanos. The instance's
// own record keeps what it waits until as it was.
func TimerTime(t time.Time) time.Time { return FromUnixNanos(UnixNanos(t)) }

// Snapshot is a consistent copy of a store that keeps serving: one file,
// as of the moment it was taken. Close it when done, written or not.
type Snapshot interface {
	io.WriterTo
	// Size is the copy's length in bytes.
	Size() int64
	Close() error
}

// Snapshotter is a store that can take a Snapshot of itself while it
// serves (store/bolt); the API serves it as a backup.
type Snapshotter interface {
	Snapshot() (Snapshot, error)
}

// Stats counts group commits and what they cost the disk. A store that
// cannot count a figure leaves it zero.
type Stats struct {
	Commits     uint64 // group commits (write transactions or log records)
	Checkpoints uint64 // batches written
	Syncs       uint64 // fsyncs (and fdatasyncs) the store asked of the disk
	LogBytes    uint64 // bytes appended to a write-ahead log
	Applies     uint64 // transactions that moved logged commits into the store of record
}

// EndTime is when a terminal instance ended, for retention: its EndedAt,
// or its last update when it has none; zero while it has not ended.
func (in *Instance) EndTime() time.Time {
	switch {
	case !in.Status.Terminal():
		return time.Time{}
	case in.EndedAt != nil && !in.EndedAt.IsZero():
		return *in.EndedAt
	default:
		return in.UpdatedAt
	}
}
