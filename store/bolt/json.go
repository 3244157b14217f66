package bolt

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"unsafe"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
	"github.com/orbit-sidecar/orbit/store"
)

// Records and events are written on every checkpoint, so they are encoded
// by hand with internal/jsonenc: encoding/json's reflection and its
// compaction of every json.RawMessage were a tenth of the CPU of a durable
// workflow. The output is what encoding/json makes of the same values
// (read.go decodes it with encoding/json); raw fields are checked with
// json.Valid and copied as they are.

// hashOmit writes a chain hash in hexadecimal, as its MarshalText does.
func hashOmit(o *jsonenc.Object, k string, h store.Hash) {
	if !h.IsZero() {
		o.Key(k)
		o.B = append(o.B, '"')
		o.B, _ = h.AppendText(o.B)
		o.B = append(o.B, '"')
	}
}

func waiting(o *jsonenc.Object, k string, w *store.WaitingFor) {
	if w == nil {
		return
	}
	o.Key(k)
	in := jsonenc.Open(o.B)
	in.Err = o.Err
	in.Str("kind", string(w.Kind))
	in.StrOmit("event", w.Event)
	in.TimeOmit("until", w.Until)
	in.IntOmit("attempt", int64(w.Attempt))
	in.StrOmit("error", w.Error)
	in.StrOmit("instance", w.Instance)
	in.StrOmit("key", w.Key)
	o.B, o.Err = in.Close(), in.Err
}

// appendInstance appends the JSON of an instance record. seen, when not
// nil, remembers the payloads already checked in the same batch.
func appendInstance(b []byte, in *store.Instance, seen *checked) ([]byte, error) {
	if err := seen.valid(in.Input, in.Output, in.Data); err != nil {
		return b, err
	}
	for _, c := range in.Collected {
		if err := seen.valid(c); err != nil {
			return b, err
		}
	}
	o := jsonenc.Open(b)
	o.Str("id", in.ID)
	o.Str("workflow", in.Workflow)
	o.Str("version", in.Version)
	o.Str("status", string(in.Status))
	o.StrOmit("state", in.State)
	o.Raw("input", in.Input)
	o.Raw("output", in.Output)
	o.StrOmit("error", in.Error)
	o.StrOmit("cause", in.Cause)
	o.Time("started_at", in.StartedAt)
	o.Time("updated_at", in.UpdatedAt)
	o.TimeOmit("ended_at", in.EndedAt)
	waiting(&o, "waiting", in.Waiting)
	o.Str("bundle", in.Bundle)
	o.StrOmit("machine", in.Machine)
	o.Raw("data", in.Data)
	o.IntOmit("attempt", int64(in.Attempt))
	if len(in.Visits) > 0 {
		o.Key("visits")
		v := jsonenc.Open(o.B)
		var room [16]string // most workflows have fewer states: no allocation
		keys := room[:0]
		for k := range in.Visits {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v.KeyEscaped(k)
			v.B = strconv.AppendInt(v.B, int64(in.Visits[k]), 10)
		}
		o.B = v.Close()
	}
	o.Uint("seq", in.Seq)
	hashOmit(&o, "chain", in.Chain)
	o.StrOmit("parent", in.Parent)
	o.StrOmit("idempotency_key", in.IdempotencyKey)
	o.IntOmit("index", int64(in.Index))
	o.BoolOmit("map_item", in.MapItem)
	if len(in.Children) > 0 {
		o.Key("children")
		o.B = append(o.B, '[')
		for i, c := range in.Children {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			o.B = jsonenc.AppendString(o.B, c)
		}
		o.B = append(o.B, ']')
	}
	o.StrOmit("traceparent", in.TraceParent)
	o.StrOmit("concurrency_key", in.ConcKey)
	o.IntOmit("concurrency_seq", in.ConcSeq)
	o.TimeOmit("deadline", in.Deadline)
	o.BoolOmit("express", in.Express)
	o.IntOmit("resumed", int64(in.Resumed))
	o.UintOmit("entered", in.Entered)
	if !in.EnteredAt.IsZero() {
		o.Time("entered_at", in.EnteredAt)
	}
	o.StrOmit("root", in.Root)
	o.Raw("vars", in.Vars)
	o.Raw("outer", in.Outer)
	o.IntOmit("items", int64(in.Items))
	o.IntOmit("next_item", int64(in.NextItem))
	if len(in.Collected) > 0 {
		o.Key("collected")
		c := jsonenc.Open(o.B)
		for _, i := range slices.Sorted(maps.Keys(in.Collected)) {
			c.KeyEscaped(strconv.Itoa(i))
			c.B = jsonenc.AppendRawOrNull(c.B, in.Collected[i])
		}
		o.B = c.Close()
	}
	o.IntOmit("failed", int64(in.Failed))
	o.StrOmit("paused_status", string(in.PausedStatus))
	waiting(&o, "paused_waiting", in.PausedWaiting)
	if o.Err != nil {
		return b, o.Err
	}
	return o.Close(), nil
}

// appendEvent appends the JSON of a history event; seen as for
// appendInstance.
func appendEvent(b []byte, ev *store.Event, seen *checked) ([]byte, error) {
	if err := seen.valid(ev.Input, ev.Output); err != nil {
		return b, err
	}
	o := jsonenc.Open(b)
	o.Uint("seq", ev.Seq)
	o.Str("type", string(ev.Type))
	o.Time("time", ev.Time)
	o.StrOmit("state", ev.State)
	o.Raw("input", ev.Input)
	o.Raw("output", ev.Output)
	o.StrOmit("error", ev.Error)
	o.StrOmit("cause", ev.Cause)
	o.IntOmit("attempt", int64(ev.Attempt))
	o.IntOmit("delay_ms", ev.DelayMS)
	o.StrOmit("event", ev.Event)
	o.StrOmit("child", ev.Child)
	o.StrOmit("from_version", ev.From)
	o.StrOmit("to_version", ev.To)
	hashOmit(&o, "hash", ev.Hash)
	if o.Err != nil {
		return b, o.Err
	}
	return o.Close(), nil
}

var errInvalidRaw = errors.New("a payload is not valid JSON")

// checked remembers the last payloads found valid JSON, by their memory:
// a step's data is the record's data and the input or output of several
// of its events, all one slice, which is scanned once per batch instead
// of once per use.
type checked struct {
	ptr  [4]*byte
	size [4]int
	next int
}

// valid reports errInvalidRaw unless every non-empty raw is valid JSON.
// A nil *checked checks every raw.
func (c *checked) valid(raws ...json.RawMessage) error {
	for _, r := range raws {
		if len(r) == 0 || c.has(r) {
			continue
		}
		if !json.Valid(r) {
			return errInvalidRaw
		}
		c.add(r)
	}
	return nil
}

func (c *checked) has(r []byte) bool {
	if c == nil {
		return false
	}
	p := unsafe.SliceData(r)
	for i := range c.ptr {
		if c.ptr[i] == p && c.size[i] == len(r) {
			return true
		}
	}
	return false
}

func (c *checked) add(r []byte) {
	if c == nil {
		return
	}
	c.ptr[c.next], c.size[c.next] = unsafe.SliceData(r), len(r)
	c.next = (c.next + 1) % len(c.ptr)
}

// reset forgets every payload: the batch's memory may be reused after it.
func (c *checked) reset() { *c = checked{} }
