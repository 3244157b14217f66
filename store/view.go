package store

import (
	"time"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
)

// TimeLayout is the one layout of every time Orbit shows — in the API, the
// command line, histories, waiting.until and scripts' ctx: RFC 3339 in UTC
// with exactly three fractional digits, as 2026-12-01T10:00:00.123Z, which
// strict parsers (PHP's DATE_RFC3339_EXTENDED among them) read. Records
// keep their times to the nanosecond; only what is shown is cut to the
// millisecond.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// AppendTime appends t in TimeLayout.
func AppendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, TimeLayout) }

// Stamp is a time that JSON writes in TimeLayout (and reads in any RFC
// 3339 form).
type Stamp time.Time

// MarshalJSON writes the time in TimeLayout.
func (s Stamp) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, len(TimeLayout)+2), '"')
	return append(AppendTime(b, time.Time(s)), '"'), nil
}

// UnmarshalJSON reads an RFC 3339 time.
func (s *Stamp) UnmarshalJSON(b []byte) error { return (*time.Time)(s).UnmarshalJSON(b) }

// View is an instance as Orbit shows it to its users (the API, the command
// line): the public fields, with every time in TimeLayout.
type View Public

// AppendJSON appends the view's JSON: what encoding/json writes for it
// with HTML escaping off, byte for byte (the field order of the reflection
// it replaces: the record's fields, then the times and waiting), without
// reflection or a second pass over the result. Input and output are
// compacted, as encoding/json does with a json.RawMessage.
func (v *View) AppendJSON(b []byte) ([]byte, error) {
	o := jsonenc.Open(b)
	o.Str("id", v.ID)
	o.Str("workflow", v.Workflow)
	o.Str("version", v.Version)
	o.Str("status", string(v.Status))
	o.StrOmit("state", v.State)
	o.RawCompact("input", v.Input)
	o.RawCompact("output", v.Output)
	o.StrOmit("error", v.Error)
	o.StrOmit("cause", v.Cause)
	o.StrOmit("parent", v.Parent)
	o.StrOmit("idempotency_key", v.IdempotencyKey)
	o.StrOmit("damaged", v.Damaged)
	o.Layout("started_at", v.StartedAt, TimeLayout)
	o.Layout("updated_at", v.UpdatedAt, TimeLayout)
	if v.EndedAt != nil {
		o.Layout("ended_at", *v.EndedAt, TimeLayout)
	}
	if w := v.Waiting; w != nil {
		o.Key("waiting")
		in := jsonenc.Open(o.B)
		in.Str("kind", string(w.Kind))
		in.StrOmit("event", w.Event)
		in.IntOmit("attempt", int64(w.Attempt))
		in.StrOmit("error", w.Error)
		in.StrOmit("instance", w.Instance)
		in.StrOmit("key", w.Key)
		if w.Until != nil {
			in.Layout("until", *w.Until, TimeLayout)
		}
		o.B = in.Close()
	}
	if o.Err != nil {
		return b, o.Err
	}
	return o.Close(), nil
}

// MarshalJSON writes the public fields with the times in TimeLayout.
func (v View) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil) }

// EventView is a history event as Orbit shows it: its time in TimeLayout.
type EventView Event

// AppendJSON appends the event's JSON, as View.AppendJSON does an
// instance's: its fields, then its time.
func (v *EventView) AppendJSON(b []byte) ([]byte, error) {
	o := jsonenc.Open(b)
	o.Uint("seq", v.Seq)
	o.Str("type", string(v.Type))
	o.StrOmit("state", v.State)
	o.RawCompact("input", v.Input)
	o.RawCompact("output", v.Output)
	o.StrOmit("error", v.Error)
	o.StrOmit("cause", v.Cause)
	o.IntOmit("attempt", int64(v.Attempt))
	o.IntOmit("delay_ms", v.DelayMS)
	o.StrOmit("event", v.Event)
	o.StrOmit("child", v.Child)
	o.StrOmit("from_version", v.From)
	o.StrOmit("to_version", v.To)
	if !v.Hash.IsZero() {
		o.Key("hash")
		o.B = append(o.B, '"')
		o.B, _ = v.Hash.AppendText(o.B)
		o.B = append(o.B, '"')
	}
	o.Layout("time", v.Time, TimeLayout)
	if o.Err != nil {
		return b, o.Err
	}
	return o.Close(), nil
}

// MarshalJSON writes the event with its time in TimeLayout.
func (v EventView) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil) }

// Views shows instances.
func Views(ins []*Instance) []View {
	out := make([]View, len(ins))
	for i, in := range ins {
		out[i] = View(in.Public)
	}
	return out
}

// EventViews shows history events.
func EventViews(evs []Event) []EventView {
	out := make([]EventView, len(evs))
	for i := range evs {
		out[i] = EventView(evs[i])
	}
	return out
}
