package bolt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// span locates one value inside encoded.buf; offsets, not slices, because
// buf may move while it grows.
type span struct{ off, end int }

type encInstance struct {
	id         string
	terminal   bool
	start, end uint64
	record     span // header + JSON
	listVal    span // status 0x00 workflow 0x00 version
	statusLen  int  // status is the first statusLen bytes of listVal
}

type encEvent struct {
	instance string
	seq      uint64
	value    span
}

type encPending struct {
	instance, name string
	seq            uint64
	payload        span
}

type encBundle struct {
	hash  string
	value span
}

type encKV struct {
	ns, key string
	value   span
	del     bool
}

// encoded is a batch turned into keys' parts and ready-made values. The
// caller's goroutine builds it, so JSON encoding runs in parallel and the
// committer only does puts; it owns copies of everything, so the caller may
// reuse its Batch as soon as encoding is done.
type encoded struct {
	buf  []byte
	json *json.Encoder
	seen checked // payloads of the batch being encoded that are valid JSON

	instances  []encInstance
	events     []encEvent
	setTimers  []store.Timer
	delTimers  []store.Timer
	addPending []encPending
	delPending []encPending
	bundles    []encBundle
	delBundles []string
	purge      []string
	kv         []encKV
}

// Write lets the JSON encoder append straight into buf.
func (e *encoded) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	return len(p), nil
}

func (e *encoded) value(s span) []byte { return e.buf[s.off:s.end:s.end] }

// checkpoint reports whether this is a batch (counted in Stats) rather than
// a key-value write.
func (e *encoded) checkpoint() bool { return len(e.kv) == 0 }

func (e *encoded) reset() {
	e.buf = e.buf[:0]
	e.instances = e.instances[:0]
	e.events = e.events[:0]
	clear(e.setTimers)
	e.setTimers = e.setTimers[:0]
	clear(e.delTimers)
	e.delTimers = e.delTimers[:0]
	e.addPending = e.addPending[:0]
	e.delPending = e.delPending[:0]
	e.bundles = e.bundles[:0]
	e.delBundles = e.delBundles[:0]
	e.purge = e.purge[:0]
	e.kv = e.kv[:0]
}

// marshal appends v's JSON to buf.
func (e *encoded) marshal(v any) (span, error) {
	off := len(e.buf)
	if err := e.json.Encode(v); err != nil {
		e.buf = e.buf[:off]
		return span{}, err
	}
	return span{off, len(e.buf) - 1}, nil // Encode ends with a newline
}

func (e *encoded) raw(p []byte) span {
	off := len(e.buf)
	e.buf = append(e.buf, p...)
	return span{off, len(e.buf)}
}

var errNoID = errors.New("empty id")

// maxName bounds every name that is part of a key, so that a key of two
// names and their fixed parts stays within bbolt's key limit. A batch is
// acknowledged once it is in the log, before bbolt sees it, so everything
// that bbolt would refuse must be refused here.
const maxName = bbolt.MaxKeySize/2 - 32

// checkName rejects names that would break the key layout.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: %w", what, errNoID)
	}
	if len(s) > maxName {
		return fmt.Errorf("%s of %d bytes: longer than %d", what, len(s), maxName)
	}
	if strings.IndexByte(s, sep) >= 0 {
		return fmt.Errorf("%s %q: contains a zero byte", what, s)
	}
	return nil
}

// endNanos is when a terminal instance ended, for the ended index; an
// instance without EndedAt counts from its last update.
func endNanos(in *store.Instance) uint64 {
	if !in.Status.Terminal() {
		return 0
	}
	return max(store.UnixNanos(in.EndTime()), 1)
}

// encode validates and copies b. Everything that can fail for a reason of
// the batch itself fails here, before the batch joins a transaction shared
// with others.
func (e *encoded) encode(b *store.Batch) error {
	defer e.seen.reset() // b's memory is the caller's again after this
	for _, in := range b.Instances {
		if in == nil {
			return errors.New("nil instance in batch")
		}
		if err := e.instance(in); err != nil {
			return err
		}
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if err := checkName("event instance", ev.Instance); err != nil {
			return err
		}
		if ev.Seq == 0 {
			return fmt.Errorf("event %s of instance %q: seq must start at 1", ev.Type, ev.Instance)
		}
		off := len(e.buf)
		var err error
		if e.buf, err = appendEvent(e.buf, ev, &e.seen); err != nil {
			return fmt.Errorf("encode event %d of instance %q: %w", ev.Seq, ev.Instance, err)
		}
		e.events = append(e.events, encEvent{instance: ev.Instance, seq: ev.Seq, value: span{off, len(e.buf)}})
	}
	for _, ts := range [2][]store.Timer{b.SetTimers, b.DelTimers} {
		for _, t := range ts {
			if err := checkTimer(t); err != nil {
				return err
			}
		}
	}
	e.setTimers = append(e.setTimers, b.SetTimers...)
	e.delTimers = append(e.delTimers, b.DelTimers...)
	for _, p := range b.AddPending {
		if err := checkPending(p); err != nil {
			return err
		}
		e.addPending = append(e.addPending, encPending{instance: p.Instance, name: p.Name, seq: p.Seq, payload: e.raw(p.Payload)})
	}
	for _, p := range b.DelPending {
		if err := checkPending(p); err != nil {
			return err
		}
		e.delPending = append(e.delPending, encPending{instance: p.Instance, name: p.Name, seq: p.Seq})
	}
	for i := range b.Bundles {
		bs := &b.Bundles[i]
		if err := checkName("bundle", bs.Hash); err != nil {
			return err
		}
		v, err := e.marshal(bs)
		if err != nil {
			return fmt.Errorf("encode bundle %s: %w", bs.Hash, err)
		}
		e.bundles = append(e.bundles, encBundle{hash: bs.Hash, value: v})
	}
	for _, h := range b.DeleteBundles {
		if err := checkName("delete bundle", h); err != nil {
			return err
		}
	}
	e.delBundles = append(e.delBundles, b.DeleteBundles...)
	for _, id := range b.Purge {
		if err := checkName("purge", id); err != nil {
			return err
		}
	}
	e.purge = append(e.purge, b.Purge...)
	return nil
}

func (e *encoded) instance(in *store.Instance) error {
	if err := checkName("instance", in.ID); err != nil {
		return err
	}
	// The listing index separates the workflow from the version with a
	// zero byte, so the name must not hold one.
	if strings.IndexByte(in.Workflow, sep) >= 0 {
		return fmt.Errorf("instance %q: workflow %q contains a zero byte", in.ID, in.Workflow)
	}
	start, end := store.UnixNanos(in.StartedAt), endNanos(in)
	off := len(e.buf)
	e.buf = appendHeader(e.buf, start, end)
	var err error
	if e.buf, err = appendInstance(e.buf, in, &e.seen); err != nil {
		e.buf = e.buf[:off]
		return fmt.Errorf("encode instance %q: %w", in.ID, err)
	}
	record := span{off, len(e.buf)}
	lv := len(e.buf)
	e.buf = append(e.buf, in.Status...)
	e.buf = append(e.buf, sep)
	e.buf = append(e.buf, in.Workflow...)
	e.buf = append(e.buf, sep)
	e.buf = append(e.buf, in.Version...)
	e.instances = append(e.instances, encInstance{
		id:        in.ID,
		terminal:  in.Status.Terminal(),
		start:     start,
		end:       end,
		record:    record,
		listVal:   span{lv, len(e.buf)},
		statusLen: len(in.Status),
	})
	return nil
}

func checkTimer(t store.Timer) error {
	if err := checkName("timer instance", t.Instance); err != nil {
		return err
	}
	if len(t.Kind) > maxName {
		return fmt.Errorf("timer kind of %d bytes: longer than %d", len(t.Kind), maxName)
	}
	if strings.IndexByte(t.Kind, sep) >= 0 {
		return fmt.Errorf("timer kind %q: contains a zero byte", t.Kind)
	}
	return nil
}

func checkPending(p store.PendingEvent) error {
	if err := checkName("pending event instance", p.Instance); err != nil {
		return err
	}
	return checkName("pending event name", p.Name)
}
