// Package transfer moves everything a store holds into another store of
// any kind — bbolt to NATS, NATS to bbolt, bbolt to bbolt — through a
// stream of JSON lines: Export writes it from one store, Import writes it
// into another (orbit export, orbit import). It reads and writes only
// through store.Store and store.Dumper, so every pair of stores works.
//
// The stream. The first line is a header; then every bundle, every plugin
// value, every instance — its record with its whole history, its timers
// and its kept events on one line — and the timers and kept events of no
// kept instance; the last line counts what came before and carries the
// SHA-256 of every byte before it, so that a cut or altered stream is
// refused. Records and history events are written as the stores keep them
// (sequence numbers, chain fields and all); kept event payloads and plugin
// values as their exact bytes (base64).
//
// Import writes each instance's history before its record, in batches,
// the record last with its timers and kept events, so a record in the
// target means the instance arrived whole. An interrupted import is run
// again (Options.Merge): instances whose record arrived identical are
// skipped, the others written again, which changes nothing that was
// already there.
package transfer

import (
	"fmt"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Format is the version of the stream Export writes; Import reads it and
// refuses a newer one.
const Format = 1

// kind names what one line of the stream holds.
type kind string

// The kinds of line, in the order the stream has them.
const (
	kindHeader   kind = "orbit-export" // the first line
	kindBundle   kind = "bundle"
	kindKV       kind = "kv"
	kindInstance kind = "instance"
	kindTimer    kind = "timer"   // a timer of no kept instance
	kindPending  kind = "pending" // a kept event of no kept instance
	kindEnd      kind = "end"     // the last line
)

// line is one line of the stream; kind says which fields it uses.
type line struct {
	Kind kind `json:"kind"`

	// header
	Format  int        `json:"format,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	Source  string     `json:"source,omitempty"`
	Total   int        `json:"total,omitempty"` // instances the source held when the export began

	// bundle
	Bundle *store.BundleSources `json:"bundle,omitempty"`

	// kv
	NS    string `json:"ns,omitempty"`
	Key   string `json:"key,omitempty"`
	Value []byte `json:"value,omitempty"`

	// instance (with History, Timers and Pending), timer (one Timers
	// entry) or pending (one Pending entry)
	Instance *store.Instance `json:"instance,omitempty"`
	History  []store.Event   `json:"history,omitempty"`
	Timers   []store.Timer   `json:"timers,omitempty"`
	Pending  []pending       `json:"pending,omitempty"`

	// end
	Counts *Counts `json:"counts,omitempty"`
	SHA256 string  `json:"sha256,omitempty"`
}

// pending is a kept event with its payload as exact bytes: a payload is
// kept as it was sent, spaces and all.
type pending struct {
	Instance string `json:"instance"`
	Name     string `json:"name"`
	Seq      uint64 `json:"seq"`
	Payload  []byte `json:"payload"`
}

func pendingOf(p store.PendingEvent) pending {
	return pending{Instance: p.Instance, Name: p.Name, Seq: p.Seq, Payload: p.Payload}
}

func (p pending) event() store.PendingEvent {
	return store.PendingEvent{Instance: p.Instance, Name: p.Name, Seq: p.Seq, Payload: p.Payload}
}

// Counts is what a stream carries: the end line's tally, and what Export
// and Import report.
type Counts struct {
	Instances  int `json:"instances"`
	Unfinished int `json:"unfinished"` // of Instances, those that had not ended
	Events     int `json:"events"`     // history events
	Timers     int `json:"timers"`
	Pending    int `json:"pending"` // kept events
	Bundles    int `json:"bundles"`
	KV         int `json:"kv"` // plugin values
}

func (c *Counts) add(l *line) {
	switch l.Kind {
	case kindBundle:
		c.Bundles++
	case kindKV:
		c.KV++
	case kindInstance:
		c.Instances++
		if !l.Instance.Status.Terminal() {
			c.Unfinished++
		}
		c.Events += len(l.History)
		c.Timers += len(l.Timers)
		c.Pending += len(l.Pending)
	case kindTimer:
		c.Timers += len(l.Timers)
	case kindPending:
		c.Pending += len(l.Pending)
	}
}

// String is the counts as the command line reports them.
func (c Counts) String() string {
	return fmt.Sprintf("%d instances (%d unfinished), %d history events, %d timers, %d pending events, %d bundles, %d plugin values",
		c.Instances, c.Unfinished, c.Events, c.Timers, c.Pending, c.Bundles, c.KV)
}
