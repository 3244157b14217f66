package store

import (
	"bytes"
	"encoding/json"
	"time"
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

func stampOf(t *time.Time) *Stamp {
	if t == nil {
		return nil
	}
	s := Stamp(*t)
	return &s
}

// View is an instance as Orbit shows it to its users (the API, the command
// line): the public fields, with every time in TimeLayout.
type View Public

// MarshalJSON writes the public fields with the times in TimeLayout.
func (v View) MarshalJSON() ([]byte, error) {
	type fields View // the fields without this method
	return marshal(struct {
		fields
		StartedAt Stamp        `json:"started_at"`
		UpdatedAt Stamp        `json:"updated_at"`
		EndedAt   *Stamp       `json:"ended_at,omitempty"`
		Waiting   *waitingView `json:"waiting,omitempty"`
	}{fields(v), Stamp(v.StartedAt), Stamp(v.UpdatedAt), stampOf(v.EndedAt), (*waitingView)(v.Waiting)})
}

// waitingView is WaitingFor as shown: until in TimeLayout.
type waitingView WaitingFor

func (w waitingView) MarshalJSON() ([]byte, error) {
	type fields waitingView
	return marshal(struct {
		fields
		Until *Stamp `json:"until,omitempty"`
	}{fields(w), stampOf(w.Until)})
}

// EventView is a history event as Orbit shows it: its time in TimeLayout.
type EventView Event

// MarshalJSON writes the event with its time in TimeLayout.
func (v EventView) MarshalJSON() ([]byte, error) {
	type fields EventView
	return marshal(struct {
		fields
		Time Stamp `json:"time"`
	}{fields(v), Stamp(v.Time)})
}

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

// marshal is json.Marshal without HTML escaping: what is shown is data,
// and its bytes stay as they came.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
