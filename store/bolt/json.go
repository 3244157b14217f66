package bolt

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orbit-sidecar/orbit/store"
)

// Records and events are written on every checkpoint, so they are encoded
// by hand: encoding/json's reflection and its compaction of every
// json.RawMessage were a tenth of the CPU of a durable workflow. The output
// is what encoding/json makes of the same values (read.go decodes it with
// encoding/json); raw fields are checked with json.Valid and copied as
// they are.

// object appends one JSON object's members.
type object struct {
	b   []byte
	n   int
	err error // the first value that cannot be written
}

func openObject(b []byte) object { return object{b: append(b, '{')} }

func (o *object) close() []byte { return append(o.b, '}') }

func (o *object) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// key2 writes a key that may need escaping (map keys come from users).
func (o *object) key2(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *object) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *object) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *object) raw(k string, v json.RawMessage) {
	if len(v) > 0 {
		o.key(k)
		o.b = append(o.b, v...)
	}
}

func (o *object) intOmit(k string, v int64) {
	if v != 0 {
		o.key(k)
		o.b = strconv.AppendInt(o.b, v, 10)
	}
}

func (o *object) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *object) uintOmit(k string, v uint64) {
	if v != 0 {
		o.uint(k, v)
	}
}

// hashOmit writes a chain hash in hexadecimal, as its MarshalText does.
func (o *object) hashOmit(k string, h store.Hash) {
	if !h.IsZero() {
		o.key(k)
		o.b = append(o.b, '"')
		o.b, _ = h.AppendText(o.b)
		o.b = append(o.b, '"')
	}
}

func (o *object) boolOmit(k string, v bool) {
	if v {
		o.key(k)
		o.b = append(o.b, "true"...)
	}
}

// time writes t as RFC 3339 with its fraction. A time encoding/json
// refuses (a year outside 0 to 9999) fails the record instead of being
// written in a form that could not be read back.
func (o *object) time(k string, t time.Time) {
	o.key(k)
	o.b = append(o.b, '"')
	b, err := t.AppendText(o.b)
	if err != nil && o.err == nil {
		o.err = fmt.Errorf("%s: %w", k, err)
	}
	o.b = append(b, '"')
}

func (o *object) timeOmit(k string, t *time.Time) {
	if t != nil {
		o.time(k, *t)
	}
}

func (o *object) waiting(k string, w *store.WaitingFor) {
	if w == nil {
		return
	}
	o.key(k)
	in := openObject(o.b)
	in.err = o.err
	in.str("kind", string(w.Kind))
	in.strOmit("event", w.Event)
	in.timeOmit("until", w.Until)
	in.intOmit("attempt", int64(w.Attempt))
	in.strOmit("error", w.Error)
	in.strOmit("instance", w.Instance)
	in.strOmit("key", w.Key)
	o.b, o.err = in.close(), in.err
}

// appendInstance appends the JSON of an instance record.
func appendInstance(b []byte, in *store.Instance) ([]byte, error) {
	if err := validRaw(in.Input, in.Output, in.Data); err != nil {
		return b, err
	}
	for _, c := range in.Collected {
		if err := validRaw(c); err != nil {
			return b, err
		}
	}
	o := openObject(b)
	o.str("id", in.ID)
	o.str("workflow", in.Workflow)
	o.str("version", in.Version)
	o.str("status", string(in.Status))
	o.strOmit("state", in.State)
	o.raw("input", in.Input)
	o.raw("output", in.Output)
	o.strOmit("error", in.Error)
	o.strOmit("cause", in.Cause)
	o.time("started_at", in.StartedAt)
	o.time("updated_at", in.UpdatedAt)
	o.timeOmit("ended_at", in.EndedAt)
	o.waiting("waiting", in.Waiting)
	o.str("bundle", in.Bundle)
	o.strOmit("machine", in.Machine)
	o.raw("data", in.Data)
	o.intOmit("attempt", int64(in.Attempt))
	if len(in.Visits) > 0 {
		o.key("visits")
		v := openObject(o.b)
		for _, k := range slices.Sorted(maps.Keys(in.Visits)) {
			v.key2(k)
			v.b = strconv.AppendInt(v.b, int64(in.Visits[k]), 10)
		}
		o.b = v.close()
	}
	o.uint("seq", in.Seq)
	o.hashOmit("chain", in.Chain)
	o.strOmit("parent", in.Parent)
	o.strOmit("idempotency_key", in.IdempotencyKey)
	o.intOmit("index", int64(in.Index))
	o.boolOmit("map_item", in.MapItem)
	if len(in.Children) > 0 {
		o.key("children")
		o.b = append(o.b, '[')
		for i, c := range in.Children {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendString(o.b, c)
		}
		o.b = append(o.b, ']')
	}
	o.strOmit("traceparent", in.TraceParent)
	o.strOmit("concurrency_key", in.ConcKey)
	o.intOmit("concurrency_seq", in.ConcSeq)
	o.timeOmit("deadline", in.Deadline)
	o.boolOmit("express", in.Express)
	o.intOmit("resumed", int64(in.Resumed))
	o.uintOmit("entered", in.Entered)
	if !in.EnteredAt.IsZero() {
		o.time("entered_at", in.EnteredAt)
	}
	o.strOmit("root", in.Root)
	o.raw("vars", in.Vars)
	o.raw("outer", in.Outer)
	o.intOmit("items", int64(in.Items))
	o.intOmit("next_item", int64(in.NextItem))
	if len(in.Collected) > 0 {
		o.key("collected")
		c := openObject(o.b)
		for _, i := range slices.Sorted(maps.Keys(in.Collected)) {
			c.key2(strconv.Itoa(i))
			c.b = appendRawOrNull(c.b, in.Collected[i])
		}
		o.b = c.close()
	}
	o.intOmit("failed", int64(in.Failed))
	o.strOmit("paused_status", string(in.PausedStatus))
	o.waiting("paused_waiting", in.PausedWaiting)
	if o.err != nil {
		return b, o.err
	}
	return o.close(), nil
}

// appendEvent appends the JSON of a history event.
func appendEvent(b []byte, ev *store.Event) ([]byte, error) {
	if err := validRaw(ev.Input, ev.Output); err != nil {
		return b, err
	}
	o := openObject(b)
	o.uint("seq", ev.Seq)
	o.str("type", string(ev.Type))
	o.time("time", ev.Time)
	o.strOmit("state", ev.State)
	o.raw("input", ev.Input)
	o.raw("output", ev.Output)
	o.strOmit("error", ev.Error)
	o.strOmit("cause", ev.Cause)
	o.intOmit("attempt", int64(ev.Attempt))
	o.intOmit("delay_ms", ev.DelayMS)
	o.strOmit("event", ev.Event)
	o.strOmit("child", ev.Child)
	o.strOmit("from_version", ev.From)
	o.strOmit("to_version", ev.To)
	o.hashOmit("hash", ev.Hash)
	if o.err != nil {
		return b, o.err
	}
	return o.close(), nil
}

var errInvalidRaw = errors.New("a payload is not valid JSON")

func validRaw(raws ...json.RawMessage) error {
	for _, r := range raws {
		if len(r) > 0 && !json.Valid(r) {
			return errInvalidRaw
		}
	}
	return nil
}

func appendRawOrNull(b []byte, v json.RawMessage) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: control characters escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028 and U+2029 escaped for JavaScript's sake.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
