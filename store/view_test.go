package store_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// stampRE is TimeLayout: UTC, exactly three fractional digits, Z.
var stampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// Every time an instance or an event shows has the one layout, whatever
// its fraction (none, one digit, nine) or zone; the other fields are those
// of the record (issue: 0 to 9 fractional digits broke strict parsers).
func TestViewsShowTimesInOneLayout(t *testing.T) {
	zone := time.FixedZone("x", 3600)
	whole := time.Date(2026, 12, 1, 11, 0, 0, 0, zone)
	tenth := whole.Add(100 * time.Millisecond)
	fine := whole.Add(123456789)
	in := store.Instance{Public: store.Public{ID: "o-1", Workflow: "wf", Status: store.Waiting, State: "S",
		Input: json.RawMessage(`{"a": 1}`), StartedAt: whole, UpdatedAt: tenth, EndedAt: &fine,
		Waiting: &store.WaitingFor{Kind: store.WaitEvent, Event: "go", Until: &fine}, IdempotencyKey: "k/1"}}
	b, err := json.Marshal(store.View(in.Public))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"started_at": "2026-12-01T10:00:00.000Z", "updated_at": "2026-12-01T10:00:00.100Z",
		"ended_at": "2026-12-01T10:00:00.123Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %s", k, got[k], v)
		}
	}
	if u := got["waiting"].(map[string]any)["until"]; u != "2026-12-01T10:00:00.123Z" {
		t.Errorf("waiting.until %v", u)
	}
	if got["id"] != "o-1" || got["event"] != nil || got["waiting"].(map[string]any)["event"] != "go" ||
		got["idempotency_key"] != "k/1" || got["input"].(map[string]any)["a"] != 1.0 {
		t.Errorf("the view lost fields: %s", b)
	}
	ev, err := store.EventView(store.Event{Seq: 1, Type: store.EventTimerStarted, Time: fine, State: "S<&>"}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	json.Unmarshal(ev, &e)
	if !stampRE.MatchString(e["time"].(string)) || !strings.Contains(string(ev), `"state":"S<&>"`) || e["seq"] != 1.0 {
		t.Errorf("event view %s", ev)
	}
	// A shown time reads back as the same millisecond.
	var back store.Stamp
	if err := json.Unmarshal([]byte(`"2026-12-01T10:00:00.123Z"`), &back); err != nil || !time.Time(back).Equal(fine.Truncate(time.Millisecond)) {
		t.Errorf("stamp read back %v (%v)", time.Time(back), err)
	}
}

// legacyView and legacyEvent are the views as encoding/json's reflection
// wrote them before the hand-written appenders: the reference the
// appenders must match byte for byte.
func legacyView(v store.View) any {
	type fields store.View
	type waiting store.WaitingFor
	var w any
	if v.Waiting != nil {
		type waitingFields waiting
		w = struct {
			waitingFields
			Until *store.Stamp `json:"until,omitempty"`
		}{waitingFields(*v.Waiting), stamp(v.Waiting.Until)}
	}
	return struct {
		fields
		StartedAt store.Stamp  `json:"started_at"`
		UpdatedAt store.Stamp  `json:"updated_at"`
		EndedAt   *store.Stamp `json:"ended_at,omitempty"`
		Waiting   any          `json:"waiting,omitempty"`
	}{fields(v), store.Stamp(v.StartedAt), store.Stamp(v.UpdatedAt), stamp(v.EndedAt), w}
}

func legacyEvent(ev store.EventView) any {
	type fields store.EventView
	return struct {
		fields
		Time store.Stamp `json:"time"`
	}{fields(ev), store.Stamp(ev.Time)}
}

func stamp(t *time.Time) *store.Stamp {
	if t == nil {
		return nil
	}
	s := store.Stamp(*t)
	return &s
}

// encodeStd is v as the API's encoder writes it: encoding/json, HTML
// escaping off, without the final newline.
func encodeStd(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// The hand-written views write what encoding/json wrote for them, byte for
// byte, for tricky values: escapes, control characters, invalid UTF-8, big
// and exact numbers, nested data and payloads with insignificant space.
func TestViewsMatchEncodingJSON(t *testing.T) {
	tricky := []string{`quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f", "<html> & 'amp'",
		"ünïcödé ✓ 🚀", "bad \xff\xfe utf8", "line\u2028para\u2029"}
	raws := []json.RawMessage{nil, json.RawMessage(`null`),
		json.RawMessage(`{"big":123456789012345678901234567890,"exact":0.1000000000000000055511151231257827,"neg":-1e-400}`),
		json.RawMessage(" {\n  \"nested\" : { \"list\" : [ 1 , [ 2 , { \"s\" : \"a  b\\n\\u00e9\\u2028<&>\" } ] ] } ,\t\"u\":\"ü🚀\"\r\n} "),
		json.RawMessage(`"\u0000\ud83d\ude80 \"q\""`), json.RawMessage(`[true,false,null,{}]`)}
	at := time.Date(2026, 12, 1, 11, 0, 0, 123456789, time.FixedZone("x", 3600))
	later := at.Add(90 * time.Minute)
	var hash store.Hash
	for i := range hash {
		hash[i] = byte(i * 7)
	}
	for i, s := range tricky {
		raw, raw2 := raws[i%len(raws)], raws[(i+3)%len(raws)]
		views := []store.View{
			{ID: s, Workflow: s, Version: s, Status: store.Status(s), StartedAt: at, UpdatedAt: at},
			{ID: "o-1", Workflow: "wf", Version: "v1", Status: store.Waiting, State: s, Input: raw, Output: raw2,
				Error: s, Cause: s, StartedAt: at, UpdatedAt: later, EndedAt: &later, Parent: s, IdempotencyKey: s, Damaged: s,
				Waiting: &store.WaitingFor{Kind: store.WaitEvent, Event: s, Until: &later, Attempt: 3, Error: s, Instance: s, Key: s}},
			{ID: "o-2", Status: store.Running, Input: raw2, StartedAt: at, UpdatedAt: at, Waiting: &store.WaitingFor{Kind: store.WaitTimer}},
		}
		for _, v := range views {
			got, err := v.AppendJSON([]byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "x" + encodeStd(t, legacyView(v)); string(got) != want {
				t.Errorf("view:\n got %s\nwant %s", got, want)
			}
			if viaStd := encodeStd(t, v); viaStd != string(got[1:]) {
				t.Errorf("view through encoding/json:\n got %s\nwant %s", viaStd, got[1:])
			}
		}
		events := []store.EventView{
			{Seq: 1, Type: store.EventType(s), Time: at},
			{Instance: "hidden", Seq: 1 << 60, Type: "TaskSucceeded", Time: later, State: s, Input: raw, Output: raw2, Error: s, Cause: s,
				Attempt: 2, DelayMS: 1500, Event: s, Child: s, From: s, To: s, Hash: hash},
		}
		for _, ev := range events {
			got, err := ev.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := encodeStd(t, legacyEvent(ev)); string(got) != want {
				t.Errorf("event:\n got %s\nwant %s", got, want)
			}
		}
	}
	// A payload that is not JSON fails the view, as it failed encoding/json.
	bad := store.View{ID: "o-3", Input: json.RawMessage("{ \"a\": ")}
	if b, err := bad.AppendJSON([]byte("x")); err == nil || string(b) != "x" {
		t.Errorf("invalid input: %q, %v; want an error and nothing appended", b, err)
	}
}
