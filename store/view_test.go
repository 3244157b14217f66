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
