package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
)

// The body of a log record is the group's encoded batches, each written
// as it is held in memory: its value buffer, then every part with its
// names and the spans of its values in that buffer. Replay decodes it back
// into the same encoded form and applies it with the same writer, so a
// replayed batch is written exactly as it would have been.
//
//	body  = uvarint(batches) batch*
//	batch = bytes(buf) parts...
//	bytes = uvarint(len) len bytes; str likewise; span = uvarint(off) uvarint(end)
//
// All integers are unsigned varints.

// appendBody appends the body of a record holding the jobs' batches.
func appendBody(dst []byte, jobs []*job) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(jobs)))
	for _, j := range jobs {
		dst = j.enc.appendTo(dst)
	}
	return dst
}

func appendBytes(dst []byte, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendSpan(dst []byte, s span) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(dst, uint64(s.off)), uint64(s.end))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendTimers(dst []byte, ts []store.Timer) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	for _, t := range ts {
		dst = binary.AppendUvarint(dst, store.UnixNanos(t.At))
		dst = appendStr(dst, t.Instance)
		dst = appendStr(dst, t.Kind)
	}
	return dst
}

func appendPendings(dst []byte, ps []encPending) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ps)))
	for _, p := range ps {
		dst = appendStr(dst, p.instance)
		dst = appendStr(dst, p.name)
		dst = binary.AppendUvarint(dst, p.seq)
		dst = appendSpan(dst, p.payload)
	}
	return dst
}

func appendStrs(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendStr(dst, s)
	}
	return dst
}

// appendTo appends the batch in the record body's form.
func (e *encoded) appendTo(dst []byte) []byte {
	dst = appendBytes(dst, e.buf)
	dst = binary.AppendUvarint(dst, uint64(len(e.instances)))
	for _, in := range e.instances {
		dst = appendStr(dst, in.id)
		dst = appendBool(dst, in.terminal)
		dst = binary.AppendUvarint(dst, in.start)
		dst = binary.AppendUvarint(dst, in.end)
		dst = appendSpan(dst, in.record)
		dst = appendSpan(dst, in.listVal)
		dst = binary.AppendUvarint(dst, uint64(in.statusLen))
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.events)))
	for _, ev := range e.events {
		dst = appendStr(dst, ev.instance)
		dst = binary.AppendUvarint(dst, ev.seq)
		dst = appendSpan(dst, ev.value)
	}
	dst = appendTimers(dst, e.setTimers)
	dst = appendTimers(dst, e.delTimers)
	dst = appendPendings(dst, e.addPending)
	dst = appendPendings(dst, e.delPending)
	dst = binary.AppendUvarint(dst, uint64(len(e.bundles)))
	for _, b := range e.bundles {
		dst = appendStr(dst, b.hash)
		dst = appendSpan(dst, b.value)
	}
	dst = appendStrs(dst, e.delBundles)
	dst = appendStrs(dst, e.purge)
	dst = binary.AppendUvarint(dst, uint64(len(e.kv)))
	for _, kv := range e.kv {
		dst = appendStr(dst, kv.ns)
		dst = appendStr(dst, kv.key)
		dst = appendSpan(dst, kv.value)
		dst = appendBool(dst, kv.del)
	}
	return dst
}

var errShortBody = errors.New("record body ends early")

// bodyReader reads a record body. The record passed its checksum, so a
// body that does not decode was written by a different layout: the first
// error sticks and is reported once.
type bodyReader struct {
	b   []byte
	err error
}

func (r *bodyReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortBody
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number of items, each at least one byte long, so that a
// bad count cannot ask for more memory than the body holds.
func (r *bodyReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShortBody
		return 0
	}
	return int(n)
}

func (r *bodyReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShortBody
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *bodyReader) str() string { return string(r.bytes()) }

func (r *bodyReader) bool() bool {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShortBody
		return false
	}
	v := r.b[0] != 0
	r.b = r.b[1:]
	return v
}

// span reads a span and checks it lies inside a buffer of size bytes.
func (r *bodyReader) span(size int) span {
	off, end := r.uvarint(), r.uvarint()
	if r.err == nil && (off > end || end > uint64(size)) {
		r.err = fmt.Errorf("span %d..%d outside the batch's %d bytes", off, end, size)
	}
	if r.err != nil {
		return span{}
	}
	return span{int(off), int(end)}
}

func (r *bodyReader) timers() []store.Timer {
	ts := make([]store.Timer, r.count())
	for i := range ts {
		ts[i] = store.Timer{At: store.FromUnixNanos(r.uvarint()), Instance: r.str(), Kind: r.str()}
	}
	return ts
}

func (r *bodyReader) pendings(size int) []encPending {
	ps := make([]encPending, r.count())
	for i := range ps {
		ps[i] = encPending{instance: r.str(), name: r.str(), seq: r.uvarint(), payload: r.span(size)}
	}
	return ps
}

func (r *bodyReader) strs() []string {
	ss := make([]string, r.count())
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

// decodeBody reads the batches of a record body. They share the body's
// memory.
func decodeBody(body []byte) ([]encoded, error) {
	r := &bodyReader{b: body}
	batches := make([]encoded, r.count())
	for i := range batches {
		r.batch(&batches[i])
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left after the last batch", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode log record: %w", r.err)
	}
	return batches, nil
}

func (r *bodyReader) batch(e *encoded) {
	e.buf = r.bytes()
	size := len(e.buf)
	e.instances = make([]encInstance, r.count())
	for i := range e.instances {
		in := &e.instances[i]
		in.id = r.str()
		in.terminal = r.bool()
		in.start, in.end = r.uvarint(), r.uvarint()
		in.record, in.listVal = r.span(size), r.span(size)
		in.statusLen = int(r.uvarint())
		if r.err == nil && in.statusLen > in.listVal.end-in.listVal.off {
			r.err = fmt.Errorf("instance %q: status longer than its list value", in.id)
		}
	}
	e.events = make([]encEvent, r.count())
	for i := range e.events {
		e.events[i] = encEvent{instance: r.str(), seq: r.uvarint(), value: r.span(size)}
	}
	e.setTimers, e.delTimers = r.timers(), r.timers()
	e.addPending, e.delPending = r.pendings(size), r.pendings(size)
	e.bundles = make([]encBundle, r.count())
	for i := range e.bundles {
		e.bundles[i] = encBundle{hash: r.str(), value: r.span(size)}
	}
	e.delBundles, e.purge = r.strs(), r.strs()
	e.kv = make([]encKV, r.count())
	for i := range e.kv {
		e.kv[i] = encKV{ns: r.str(), key: r.str(), value: r.span(size), del: r.bool()}
	}
}
