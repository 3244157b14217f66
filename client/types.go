package client

import (
	"encoding/json"
	"time"
)

// Status is an instance's lifecycle status.
type Status string

// The statuses of an instance; the last four are ends.
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

// Ended reports whether the status is an end: nothing more will happen to
// the instance but a redrive (of FAILED or TIMED_OUT).
func (s Status) Ended() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == TimedOut
}

// Instance is one run of a workflow as the API shows it. An asynchronous
// start answers only ID, Workflow, Version and Status.
type Instance struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Version  string `json:"version"`
	Status   Status `json:"status"`
	// State is the state it is in (or ended in).
	State string `json:"state,omitempty"`
	// Input and Output are JSON as the sidecar keeps it: numbers stay
	// exactly as they were written.
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	UpdatedAt time.Time       `json:"updated_at,omitzero"`
	EndedAt   *time.Time      `json:"ended_at,omitempty"`
	// Waiting says what an instance that is not running waits for.
	Waiting *WaitingFor `json:"waiting,omitempty"`
	// Parent is the instance a child instance runs inside.
	Parent string `json:"parent,omitempty"`
	// IdempotencyKey is the key the instance was started with, if any
	// (StartOptions.ID).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Damaged is set, in a list, on an instance whose stored record
	// cannot be read: what is wrong with it.
	Damaged string `json:"damaged,omitempty"`
}

// WaitingKind names what an instance waits for.
type WaitingKind string

// The kinds of WaitingFor.
const (
	WaitEvent       WaitingKind = "event"
	WaitTimer       WaitingKind = "timer"
	WaitRetry       WaitingKind = "retry"
	WaitChild       WaitingKind = "child"
	WaitConcurrency WaitingKind = "concurrency"
	WaitPaused      WaitingKind = "paused"
)

// WaitingFor says what a non-running instance waits for; which fields are
// set depends on Kind.
type WaitingFor struct {
	Kind     WaitingKind `json:"kind"`
	Event    string      `json:"event,omitempty"`
	Until    *time.Time  `json:"until,omitempty"`
	Attempt  int         `json:"attempt,omitempty"`
	Error    string      `json:"error,omitempty"`
	Instance string      `json:"instance,omitempty"`
	Key      string      `json:"key,omitempty"`
}

// Event is one entry of an instance's history.
type Event struct {
	Seq         uint64          `json:"seq"`
	Type        string          `json:"type"`
	Time        time.Time       `json:"time"`
	State       string          `json:"state,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	Error       string          `json:"error,omitempty"`
	Cause       string          `json:"cause,omitempty"`
	Attempt     int             `json:"attempt,omitempty"`
	DelayMS     int64           `json:"delay_ms,omitempty"`
	Event       string          `json:"event,omitempty"`
	Child       string          `json:"child,omitempty"`
	FromVersion string          `json:"from_version,omitempty"`
	ToVersion   string          `json:"to_version,omitempty"`
	// Hash links the event to the one before it (hexadecimal SHA-256);
	// empty on events written before Orbit kept the chain.
	Hash string `json:"hash,omitempty"`
}

// ChainHead is the last link of an instance's history chain: the seq of
// its last event and that event's hash, a receipt of the history up to
// there that a client keeps and checks later (docs/guarantees.md).
type ChainHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Page is one page of a list of instances.
type Page struct {
	Instances []Instance `json:"instances"`
	// NextCursor asks for the next page (ListOptions.Cursor); "" on the
	// last one.
	NextCursor string `json:"next_cursor"`
}

// DeliveryKind says what became of a delivered event.
type DeliveryKind string

// The fates of an event.
const (
	// Consumed: the instance (or one running inside it) awaited the event
	// and took it at once.
	Consumed DeliveryKind = "consumed"
	// Kept: nothing awaits it yet; it is stored and handed over when an
	// await takes it.
	Kept DeliveryKind = "kept"
)

// Delivery is the answer to an event.
type Delivery struct {
	ID       string       `json:"id"`
	Event    string       `json:"event"`
	Delivery DeliveryKind `json:"delivery"`
}

// Control is the answer to a cancel, pause, resume or redrive: the status
// the instance has after it (or, for a pause that waits for a long step,
// before it lands).
type Control struct {
	ID     string `json:"id"`
	Status Status `json:"status,omitempty"`
}

// Migration is what a migration did, or with a dry run would do, to one
// instance.
type Migration struct {
	Instance    string `json:"instance"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"`
	// State is the state it moves (or would move) to.
	State string `json:"state,omitempty"`
	// Moved says whether it moved; a dry run moves nothing.
	Moved bool `json:"moved"`
	// WouldMove is a dry run's forecast: the instance would move.
	WouldMove bool `json:"would_move,omitempty"`
	// Reason says why it cannot move.
	Reason string `json:"reason,omitempty"`
}
