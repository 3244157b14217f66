package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/api/ui"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
)

// fixture is the bundle most tests use.
type fixture struct {
	bundle  *flow.Bundle
	late    *flowtest.Gate // holds the "late" workflow's first step
	failing atomic.Bool    // makes the "flaky" workflow's task fail
}

func newFixture() *fixture {
	f := &fixture{late: flowtest.NewGate()}
	f.failing.Store(true)
	echo := fn(func(_ context.Context, in any, _ *flow.Context) (any, error) { return in, nil })
	f.bundle = bundle(
		workflow("echo", "Echo", &flow.State{Name: "Echo", Kind: flow.Task, RoutineName: "echo", Routine: echo}),
		workflow("await", "Wait", &flow.State{Name: "Wait", Kind: flow.Await, Event: "go", Result: flow.MustPath("$.ev")}),
		workflow("late", "Hold",
			&flow.State{Name: "Hold", Kind: flow.Task, Next: "Wait", Routine: f.late.Routine()},
			&flow.State{Name: "Wait", Kind: flow.Await, Event: "go", Result: flow.MustPath("$.ev")}),
		workflow("parent", "Child", &flow.State{Name: "Child", Kind: flow.Call, Workflow: "await"}),
		workflow("timer", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour, Next: "Done"},
			&flow.State{Name: "Done", Kind: flow.Succeed}),
		workflow("flaky", "Try",
			&flow.State{Name: "Try", Kind: flow.Task, Next: "Done", Routine: fn(func(_ context.Context, in any, _ *flow.Context) (any, error) {
				if f.failing.Load() {
					return nil, flow.Errorf("Boom", "failing on purpose")
				}
				return "fixed", nil
			}), Catch: []flow.Catcher{{Errors: []string{"Other"}, Next: "Done"}}},
			&flow.State{Name: "Done", Kind: flow.Succeed}),
	)
	return f
}

func TestStartAsyncAnswersCreatedThenRuns(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	r := s.post("/v1/workflows/echo/instances", `{"n": 1}`).want(t, 201, "")
	id := r.str("id")
	if id == "" || r.str("workflow") != "echo" || r.str("version") != "v1" || r.str("status") == "" {
		t.Fatalf("201 body %s lacks id, workflow, version or status", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/v1/instances/"+id {
		t.Errorf("Location %q", loc)
	}
	got := s.status(id, "SUCCEEDED")
	if out, _ := json.Marshal(got.json["output"]); string(out) != `{"n":1}` {
		t.Errorf("output %s, want the input", out)
	}
}

func TestSyncStartAnswersTheEndedInstance(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	r := s.post("/v1/workflows/echo/instances?wait=10s", `{"n": 2}`).want(t, 200, "")
	if r.str("status") != "SUCCEEDED" || r.str("ended_at") == "" {
		t.Fatalf("sync start answered %s", r.body)
	}
	if out, _ := json.Marshal(r.json["output"]); string(out) != `{"n":2}` {
		t.Errorf("output %s", out)
	}
}

// A waited start that outlives its wait answers the same whole instance
// as one that ended, its status saying which (issue: one endpoint, two
// shapes).
func TestSyncStartThatOutlivesTheWaitAnswersTheWholeInstance(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	r := s.post("/v1/workflows/await/instances?wait=1ms", `{"n": 3}`).want(t, 201, "")
	if r.str("status") == "SUCCEEDED" || r.str("started_at") == "" || r.str("updated_at") == "" {
		t.Fatalf("an awaiting instance answered %s, want the whole instance", r.body)
	}
	if in, _ := json.Marshal(r.json["input"]); string(in) != `{"n":3}` {
		t.Errorf("input %s, want the input: the whole instance", in)
	}
	if loc := r.header.Get("Location"); loc != "/v1/instances/"+r.str("id") {
		t.Errorf("Location %q", loc)
	}
}

// GET with wait answers when the instance ends, or when the wait elapses
// with the instance as it is then; the shape is the same either way.
func TestGetWithWaitAnswersAtTheEnd(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{})
	id := s.post("/v1/workflows/late/instances?id=lp-1", `{}`).want(t, 201, "").str("id")
	r := s.get("/v1/instances/"+id+"?wait=30ms").want(t, 200, "")
	if r.str("status") != "RUNNING" || r.str("started_at") == "" {
		t.Fatalf("a wait that ran out answered %s", r.body)
	}
	f.late.Open()
	s.waitsFor(id, "event")
	answered := make(chan reply, 1)
	go func() { answered <- s.get("/v1/instances/" + id + "?wait=20s") }()
	// The event ends the instance; the long poll answers with the end.
	s.post("/v1/instances/"+id+"/events/go", `{"ok": 1}`).want(t, 202, "")
	r = (<-answered).want(t, 200, "")
	if r.str("status") != "SUCCEEDED" || r.str("ended_at") == "" {
		t.Fatalf("long poll answered %s, want the ended instance", r.body)
	}
	s.get("/v1/instances/"+id+"?wait=soon").want(t, 400, api.CodeBadRequest)
	s.get("/v1/instances/missing?wait=1s").want(t, 404, api.CodeNotFound)
}

// An event delivered with wait answers the instance once it ends, as a
// waited start does.
func TestEventWithWaitAnswersTheEndedInstance(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.waitsFor(id, "event")
	r := s.post("/v1/instances/"+id+"/events/go?wait=20s", `{"n": 5}`).want(t, 200, "")
	if r.str("status") != "SUCCEEDED" || r.header.Get(api.DeliveryHeader) != "consumed" {
		t.Fatalf("event with wait answered %s (%s %q)", r.body, api.DeliveryHeader, r.header.Get(api.DeliveryHeader))
	}
	if out, _ := json.Marshal(r.json["output"]); string(out) != `{"ev":{"n":5}}` {
		t.Errorf("output %s", out)
	}
}

func TestIdempotentStart(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	first := s.post("/v1/workflows/await/instances?id=order-1", `{"a": 1}`).want(t, 201, "")
	if first.str("id") != "order-1" {
		t.Fatalf("id %q", first.str("id"))
	}
	again := s.post("/v1/workflows/await/instances?id=order-1", `{"a":1}`).want(t, 200, "")
	if again.str("id") != "order-1" || again.str("started_at") == "" {
		t.Fatalf("repeated start answered %s, want the existing instance", again.body)
	}
	s.post("/v1/workflows/await/instances", `{"a":1}`, "Idempotency-Key", "order-1").want(t, 200, "")
	s.post("/v1/workflows/await/instances?id=order-1", `{"a": 2}`).want(t, 409, api.CodeConflict)
	s.post("/v1/workflows/await/instances?id=order-1", `{"a":1}`, "Idempotency-Key", "order-2").want(t, 400, api.CodeBadRequest)
}

// An idempotency key is any printable text, not an id: it names an
// instance whose id derives from it, is kept on the instance and finds it
// in the list (issue: Idempotency-Key: magento/quote/123 was refused).
func TestIdempotencyKeyIsAnyPrintableText(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	key := "magento/quote/123 ✓"
	first := s.post("/v1/workflows/await/instances", `{"a":1}`, "Idempotency-Key", key).want(t, 201, "")
	id := first.str("id")
	if id == "" || engine.CheckID(id) != nil {
		t.Fatalf("started %s: the id is not an instance id", first.body)
	}
	again := s.post("/v1/workflows/await/instances", `{"a":1}`, "Idempotency-Key", key).want(t, 200, "")
	if again.str("id") != id || again.str("idempotency_key") != key {
		t.Fatalf("repeated key answered %s, want instance %s with its key", again.body, id)
	}
	s.post("/v1/workflows/await/instances", `{"a":2}`, "Idempotency-Key", key).want(t, 409, api.CodeConflict)
	if got := s.get("/v1/instances/"+id).want(t, 200, ""); got.str("idempotency_key") != key {
		t.Errorf("instance %s does not show its key", got.body)
	}
	s.post("/v1/workflows/await/instances", `{}`, "Idempotency-Key", "other key").want(t, 201, "")
	list := s.get("/v1/instances?idempotency_key="+url.QueryEscape(key)).want(t, 200, "")
	if insts, _ := list.json["instances"].([]any); len(insts) != 1 || insts[0].(map[string]any)["id"] != id {
		t.Fatalf("list by key: %s", list.body)
	}
	if list := s.get("/v1/instances?status=succeeded&idempotency_key="+url.QueryEscape(key)).want(t, 200, ""); len(list.json["instances"].([]any)) != 0 {
		t.Errorf("the key's instance is not SUCCEEDED, yet listed: %s", list.body)
	}
	if c := s.get("/v1/counts?idempotency_key="+url.QueryEscape(key)).want(t, 200, ""); c.json["total"] != 1.0 {
		t.Errorf("counts by key: %s", c.body)
	}
	s.post("/v1/workflows/await/instances", `{}`, "Idempotency-Key", strings.Repeat("k", engine.MaxKeyLen+1)).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/await/instances", `{}`, "Idempotency-Key", "tab\tkey").want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/await/instances?id=someone-else", `{}`, "Idempotency-Key", key).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/await/instances?id="+id, `{"a":1}`, "Idempotency-Key", key).want(t, 200, "")
}

func TestStartErrors(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{MaxPayload: 1024})
	s.post("/v1/workflows/nope/instances", `{}`).want(t, 404, api.CodeUnknownWorkflow)
	s.post("/v1/workflows/echo/instances", `{"a":`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/echo/instances?id="+url.QueryEscape("a b"), `{}`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/echo/instances?wait=soon", `{}`).want(t, 400, api.CodeBadRequest)
	// A 413 names the limit and the flag that sets it (issue: it named
	// neither).
	namesLimit := func(r reply) {
		t.Helper()
		if msg := fmt.Sprint(r.json["error"]); !strings.Contains(msg, "limit of 1024 bytes") || !strings.Contains(msg, "--max-payload") {
			t.Errorf("413 says %s", msg)
		}
	}
	big := `"` + strings.Repeat("x", 1024) + `"`
	namesLimit(s.post("/v1/workflows/echo/instances", big).want(t, 413, api.CodePayloadTooLarge))
	// Far over the limit, fasthttp itself refuses the body on its length,
	// before reading it; still JSON. The body is not sent: the server
	// closes at once, and a client still writing 200 KiB may be reset
	// before it reads the answer.
	namesLimit(s.announce("/v1/workflows/echo/instances", 200<<10).want(t, 413, api.CodePayloadTooLarge))
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	namesLimit(s.post("/v1/instances/"+id+"/events/go", big).want(t, 413, api.CodePayloadTooLarge))
	// An empty body is the input null.
	r := s.post("/v1/workflows/echo/instances?wait=10s", "").want(t, 200, "")
	if r.json["output"] != nil {
		t.Errorf("output %v, want null", r.json["output"])
	}
}

// announce sends a POST's headers with a Content-Length of n and none of
// its body, and reads the answer.
func (s *server) announce(path string, n int) reply {
	s.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, strings.TrimPrefix(s.url, "http://"), n)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		s.t.Fatalf("POST %s announcing %d bytes: %v", path, n, err)
	}
	return s.read("POST", path, resp)
}

// An input on which the workflow's concurrency key does not resolve is the
// client's mistake: 400 naming the key, not an internal error.
func TestStartWithoutConcurrencyKeyIsBadRequest(t *testing.T) {
	serial := workflow("serial", "Wait", &flow.State{Name: "Wait", Kind: flow.Await, Event: "go"})
	serial.Concurrency = &flow.Concurrency{Key: flow.MustPath("$.order"), Limit: 1}
	s := newServer(t, bundle(serial), api.Options{})
	r := s.post("/v1/workflows/serial/instances", `{"other": 1}`).want(t, 400, api.CodeBadRequest)
	if e, _ := r.json["error"].(map[string]any); !strings.Contains(fmt.Sprint(e["message"]), "$.order") {
		t.Errorf("message %v does not name the key", e["message"])
	}
	s.post("/v1/workflows/serial/instances", `{"order": "o-1"}`).want(t, 201, "")
}

// Numbers are passed along exactly as written, even those a 64-bit float
// cannot hold (issue: 9007199254740993 became 9007199254740992, and 1e400
// answered 500).
func TestStartKeepsNumbersExactly(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	in := `{"entity_id":9007199254740993,"n":1e400,"price":1.10}`
	r := s.post("/v1/workflows/echo/instances?wait=10s", in).want(t, 200, "")
	if got := string(r.raw("output")); got != in {
		t.Errorf("output %s, want %s", got, in)
	}
	if got := string(r.raw("input")); got != in {
		t.Errorf("input %s, want %s", got, in)
	}
	// As is JSON that encoding/json reads but no stored record could hold
	// (the instance was stored, and then every read of it failed).
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if r := s.post("/v1/workflows/echo/instances", deep).want(t, 400, api.CodeBadRequest); !strings.Contains(string(r.body), "nested deeper") {
		t.Errorf("deep input: %s", r.body)
	}
}

func TestStartPassesTraceParent(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := s.post("/v1/workflows/echo/instances", `{}`, "traceparent", tp).want(t, 201, "")
	inst, err := s.engine.Get(r.str("id"))
	if err != nil {
		t.Fatal(err)
	}
	if inst.TraceParent != tp {
		t.Errorf("traceparent %q, want %q", inst.TraceParent, tp)
	}
}

func TestGetAndHistory(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/echo/instances?wait=10s", `{}`).want(t, 200, "").str("id")
	s.get("/v1/instances/"+id).want(t, 200, "")
	s.get("/v1/instances/missing").want(t, 404, api.CodeNotFound)
	h := s.get("/v1/instances/"+id+"/history").want(t, 200, "")
	evs, _ := h.json["events"].([]any)
	if len(evs) < 3 {
		t.Fatalf("history %s", h.body)
	}
	first, last := evs[0].(map[string]any), evs[len(evs)-1].(map[string]any)
	if first["type"] != "ExecutionStarted" || first["seq"] != 1.0 || last["type"] != "ExecutionSucceeded" {
		t.Errorf("history runs %v .. %v", first, last)
	}
	page := s.get("/v1/instances/"+id+"/history?after=1&limit=1").want(t, 200, "")
	if evs, _ := page.json["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["seq"] != 2.0 {
		t.Errorf("history page %s", page.body)
	}
	s.get("/v1/instances/missing/history").want(t, 404, api.CodeNotFound)
	s.get("/v1/instances/"+id+"/history?limit=x").want(t, 400, api.CodeBadRequest)
}

// A history has no bound of its own: an instance that loops writes events
// for as long as it runs, each with up to --max-payload of data, and the
// answer read the whole of it into memory at once. It is now read a page
// at a time and streamed, and says the same as before.
func TestLongHistoryIsReadAPageAtATime(t *testing.T) {
	s := newServer(t, bundle(workflow("loop", "Tick", &flow.State{Name: "Tick", Kind: flow.Await, Event: "tick", Next: "Tick"})), api.Options{})
	id := s.post("/v1/workflows/loop/instances", `{}`).want(t, 201, "").str("id")
	for i := range 60 {
		s.waitsFor(id, "event")
		s.post("/v1/instances/"+id+"/events/tick", fmt.Sprintf(`{"i":%d,"text":"<&>"}`, i)).want(t, 202, "")
	}
	// An event answered "consumed" may still be on its way in: the
	// history is whole once it has received all 60.
	orbittest.Until(t, orbittest.Timeout, "60 events received",
		func() (reply, error) { return s.get("/v1/instances/" + id + "/history"), nil },
		func(r reply) bool { return bytes.Count(r.body, []byte(`"type":"EventReceived"`)) == 60 })
	s.waitsFor(id, "event")
	seqs := func(r reply) []float64 {
		t.Helper()
		evs, ok := r.json["events"].([]any)
		if !ok {
			t.Fatalf("not a history: %.300s", r.body)
		}
		out := make([]float64, len(evs))
		for i, ev := range evs {
			out[i] = ev.(map[string]any)["seq"].(float64)
		}
		return out
	}
	whole := s.get("/v1/instances/"+id+"/history").want(t, 200, "")
	all := seqs(whole)
	if len(all) < 4*32 {
		t.Fatalf("a history of %d events is too short for the test", len(all))
	}
	for i, seq := range all {
		if seq != float64(i+1) {
			t.Fatalf("event %d has seq %v", i, seq)
		}
	}
	if !bytes.Contains(whole.body, []byte(`"text":"<&>"`)) || !bytes.HasSuffix(whole.body, []byte("}}\n")) {
		t.Errorf("the streamed answer differs from a written one: ...%s", whole.body[len(whole.body)-80:])
	}
	// The receipt closes the streamed answer as it does a written one: the
	// last event's seq and hash.
	evs := whole.json["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	for _, r := range []reply{whole, s.get("/v1/instances/"+id+"/history?limit=1").want(t, 200, "")} {
		head, _ := r.json["chain_head"].(map[string]any)
		if head == nil || head["seq"] != last["seq"] || head["hash"] != last["hash"] {
			t.Errorf("chain_head %v; the last event %v", head, last)
		}
	}
	// Pages of any size add up to the same history.
	var paged []float64
	for after := 0; ; {
		got := seqs(s.get(fmt.Sprintf("/v1/instances/%s/history?after=%d&limit=45", id, after)).want(t, 200, ""))
		if len(got) == 0 {
			break
		}
		paged = append(paged, got...)
		after = int(got[len(got)-1])
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of 45 give %d events, the whole %d", len(paged), len(all))
	}
	if got := seqs(s.get("/v1/instances/"+id+"/history?after=10&limit=70").want(t, 200, "")); len(got) != 70 || got[0] != 11 || got[69] != 80 {
		t.Errorf("after=10&limit=70 gives %v", got)
	}
	// The instance's diagram reads its path from the history the same way.
	s.get("/v1/instances/"+id+"/graph?format=dot").want(t, 200, "")
	if n := s.faults.MostEventsRead(); n > 32 {
		t.Errorf("a history answer or a diagram read %d events from the store at once", n)
	}
}

// Every time the API shows is RFC 3339 in UTC with exactly three
// fractional digits, in instances, lists, waiting.until and histories.
func TestTimesHaveOneLayout(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	check := func(what string, v any) {
		t.Helper()
		if s, ok := v.(string); !ok || !stamp.MatchString(s) {
			t.Errorf("%s is %v, not like 2026-12-01T10:00:00.123Z", what, v)
		}
	}
	ended := s.post("/v1/workflows/echo/instances?wait=10s", `{}`).want(t, 200, "")
	for _, k := range []string{"started_at", "updated_at", "ended_at"} {
		check(k, ended.json[k])
	}
	id := s.post("/v1/workflows/timer/instances", `{}`).want(t, 201, "").str("id")
	w := s.waitsFor(id, "timer")
	check("waiting.until", w.json["waiting"].(map[string]any)["until"])
	for _, it := range s.get("/v1/instances").want(t, 200, "").json["instances"].([]any) {
		check("listed started_at", it.(map[string]any)["started_at"])
	}
	for _, ev := range s.get("/v1/instances/"+ended.str("id")+"/history").want(t, 200, "").json["events"].([]any) {
		check("history time", ev.(map[string]any)["time"])
	}
}

func TestListPagesNewestFirst(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	want := map[string]bool{}
	for i := range 5 {
		want[s.post("/v1/workflows/echo/instances?wait=10s", fmt.Sprintf(`{"i":%d}`, i)).want(t, 200, "").str("id")] = true
	}
	waiting := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := s.get("/v1/instances?workflow=echo&status=SUCCEEDED&limit=2&cursor="+url.QueryEscape(cursor)).want(t, 200, "")
		items, _ := r.json["instances"].([]any)
		if len(items) > 2 {
			t.Fatalf("page of %d with limit 2", len(items))
		}
		for _, it := range items {
			m := it.(map[string]any)
			if m["workflow"] != "echo" || m["status"] != "SUCCEEDED" || seen[m["id"].(string)] {
				t.Fatalf("page item %v", m)
			}
			seen[m["id"].(string)] = true
		}
		if _, ok := r.json["next_cursor"]; !ok {
			t.Fatalf("no next_cursor in %s", r.body)
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d of %d", len(seen), len(want))
	}
	all := s.get("/v1/instances").want(t, 200, "")
	if items, _ := all.json["instances"].([]any); len(items) != 6 {
		t.Errorf("unfiltered list has %d, want 6", len(items))
	}
	s.get("/v1/instances?limit=0").want(t, 400, api.CodeBadRequest)
	s.get("/v1/instances?limit=many").want(t, 400, api.CodeBadRequest)
	r := s.get("/v1/instances?status=sleeping").want(t, 400, api.CodeBadRequest)
	if msg := fmt.Sprint(r.json["error"]); !strings.Contains(msg, "QUEUED, RUNNING, WAITING, PAUSED, SUCCEEDED, FAILED, CANCELLED, TIMED_OUT") {
		t.Errorf("an unknown status answered %s, want the valid ones listed", msg)
	}
	s.status(waiting, "WAITING")
	if r := s.get("/v1/instances?status=waiting").want(t, 200, ""); !strings.Contains(string(r.body), `"id":"`+waiting+`"`) || len(r.json["instances"].([]any)) != 1 {
		t.Errorf("status=waiting lists %s, want %s alone", r.body, waiting)
	}
}

// A cursor carries its listing: the next page of a filtered list, asked
// with the cursor alone, keeps the filters and the page size (issue: the
// "more:" hint listed other statuses).
func TestCursorContinuesItsListing(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	for i := range 3 {
		s.post("/v1/workflows/echo/instances?wait=10s", fmt.Sprintf(`{"i":%d}`, i)).want(t, 200, "")
		s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "")
	}
	seen := 0
	for r := s.get("/v1/instances?status=succeeded&limit=1").want(t, 200, ""); ; {
		items, _ := r.json["instances"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["status"] != "SUCCEEDED" {
			t.Fatalf("page %d: %s, want one SUCCEEDED instance", seen, r.body)
		}
		seen++
		next := r.str("next_cursor")
		if next == "" {
			break
		}
		r = s.get("/v1/instances?cursor="+url.QueryEscape(next)).want(t, 200, "")
	}
	if seen != 3 {
		t.Errorf("paged through %d SUCCEEDED instances, want 3", seen)
	}
	first := s.get("/v1/instances?status=SUCCEEDED&limit=1").want(t, 200, "").str("next_cursor")
	s.get("/v1/instances?status=WAITING&cursor="+url.QueryEscape(first)).want(t, 400, api.CodeBadRequest)
	s.get("/v1/instances?status=SUCCEEDED&limit=2&cursor="+url.QueryEscape(first)).want(t, 200, "")
	s.get("/v1/instances?cursor=L1.bm9wZQ").want(t, 400, api.CodeBadRequest)
}

// TestCountsAndListFilters counts instances by status and by workflow,
// version and status, with the list's filters, and lists by version and
// id text.
func TestCountsAndListFilters(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	for i := range 3 {
		s.post(fmt.Sprintf("/v1/workflows/echo/instances?wait=10s&id=order-%d", i), `{}`).want(t, 200, "")
	}
	s.post("/v1/workflows/await/instances?id=order-9", `{}`).want(t, 201, "")
	s.waitsFor("order-9", "event")

	r := s.get("/v1/counts").want(t, 200, "")
	var c api.Counts
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Total != 4 || c.ByStatus["SUCCEEDED"] != 3 || c.ByStatus["WAITING"] != 1 || len(c.ByStatus) != 8 {
		t.Errorf("counts %s: want 4 in all, 3 succeeded, 1 waiting, every status named", r.body)
	}
	if len(c.Groups) != 2 || c.Groups[0].Workflow != "await" || c.Groups[0].Version != "v1" || c.Groups[0].Count != 1 ||
		c.Groups[1].Workflow != "echo" || c.Groups[1].Status != "SUCCEEDED" || c.Groups[1].Count != 3 {
		t.Errorf("groups %+v", c.Groups)
	}
	for path, total := range map[string]float64{
		"/v1/counts?workflow=echo":                 3,
		"/v1/counts?status=waiting":                1,
		"/v1/counts?workflow=echo&version=v9":      0,
		"/v1/counts?id_contains=der-1":             1,
		"/v1/counts?workflow=await&status=Running": 0,
	} {
		if got := s.get(path).want(t, 200, "").json["total"]; got != total {
			t.Errorf("%s: total %v, want %v", path, got, total)
		}
	}
	s.get("/v1/counts?status=SLEEPING").want(t, 400, api.CodeBadRequest)

	ids := func(path string) []string {
		var out []string
		for _, it := range s.get(path).want(t, 200, "").json["instances"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids("/v1/instances?id_contains=order-&version=v1&status=succeeded"); strings.Join(got, " ") != "order-2 order-1 order-0" {
		t.Errorf("succeeded orders on v1: %v", got)
	}
	if got := ids("/v1/instances?version=v2"); len(got) != 0 {
		t.Errorf("version v2 lists %v", got)
	}
	if got := ids("/v1/instances?id_contains=9"); len(got) != 1 || got[0] != "order-9" {
		t.Errorf("id_contains=9 lists %v", got)
	}
}

// Events an instance does not await yet are kept up to a bound (100 by
// default); beyond, 429 too_many_events, and nothing more is kept.
func TestEventsBeyondTheBoundAre429(t *testing.T) {
	s := newServer(t, bundle(workflow("await", "Wait",
		&flow.State{Name: "Wait", Kind: flow.Await, Event: "go", Next: "Later"},
		&flow.State{Name: "Later", Kind: flow.Await, Event: "early"})), api.Options{})
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.waitsFor(id, "event")
	for i := range engine.DefaultMaxPendingEvents {
		s.post("/v1/instances/"+id+"/events/early", fmt.Sprint(i)).want(t, 202, "")
	}
	s.post("/v1/instances/"+id+"/events/early", `{}`).want(t, 429, api.CodeTooManyEvents)
	// The event it awaits is still taken.
	s.post("/v1/instances/"+id+"/events/go", `{}`).want(t, 202, "")
	s.status(id, "SUCCEEDED")
}

// While the store cannot write, starts and events answer 503 unavailable
// with Retry-After and the store's error, and /readyz says not ready; once
// it writes again, both recover by themselves.
func TestStoreThatCannotWriteAnswers503(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	parked := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.waitsFor(parked, "event")
	s.faults.FailWrites(fmt.Errorf("write orbit.db: %w", syscall.ENOSPC))
	r := s.post("/v1/workflows/echo/instances", `{}`).want(t, 503, api.CodeUnavailable)
	if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "no space left on device") {
		t.Fatalf("start answered %v %s", r.header, r.body)
	}
	s.post("/v1/instances/"+parked+"/events/go", `{}`).want(t, 503, api.CodeUnavailable)
	s.get("/readyz").want(t, 503, api.CodeUnavailable)
	s.faults.Heal()
	orbittest.Until(t, orbittest.Timeout, "/readyz ready again",
		func() (reply, error) { return s.get("/readyz"), nil }, func(r reply) bool { return r.status == 200 })
	s.post("/v1/workflows/echo/instances?wait=10s", `{"n":1}`).want(t, 200, "")
	s.post("/v1/instances/"+parked+"/events/go", `{}`).want(t, 202, "")
	s.status(parked, "SUCCEEDED")
}

func TestEarlyEventIsKeptAndDelivered(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{})
	id := s.post("/v1/workflows/late/instances", `{}`).want(t, 201, "").str("id")
	// The instance is still in its first step: the event is early.
	r := s.post("/v1/instances/"+id+"/events/go", `{"ok": true}`).want(t, 202, "")
	if r.str("id") != id || r.str("event") != "go" || r.str("delivery") != "kept" {
		t.Errorf("202 body %s, want the event kept", r.body)
	}
	f.late.Open()
	got := s.status(id, "SUCCEEDED")
	if out, _ := json.Marshal(got.json["output"]); string(out) != `{"ev":{"ok":true}}` {
		t.Errorf("output %s, want the early event's payload", out)
	}
	s.post("/v1/instances/"+id+"/events/go", `{}`).want(t, 409, api.CodeEnded)
	s.post("/v1/instances/missing/events/go", `{}`).want(t, 404, api.CodeNotFound)
	s.post("/v1/instances/"+id+"/events/go", `{nope`).want(t, 400, api.CodeBadRequest)
}

// An event no await could take is refused with 400 and not kept: a zero
// byte in its name would break the store's keys, and a payload Orbit cannot
// decode would fail the await that takes it.
func TestEventWithUnusableNameOrPayloadIsBadRequest(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.post("/v1/instances/"+id+"/events/go%00x", `{}`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/"+id+"/events/"+strings.Repeat("g", 129), `{}`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/"+id+"/events/go", `{"n": 1e400`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/"+id+"/events/go", strings.Repeat("[", 10000)+strings.Repeat("]", 10000)).want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/"+id+"/events/go", `{"n": 1e400}`).want(t, 202, "")
	if got := s.status(id, "SUCCEEDED"); string(got.raw("output")) != `{"ev":{"n":1e400}}` {
		t.Fatalf("output %s, want the good event's payload as sent", got.body)
	}
}

func TestEventWakesAWaitingInstance(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	w := s.status(id, "WAITING")
	if wf, _ := w.json["waiting"].(map[string]any); wf["kind"] != "event" || wf["event"] != "go" {
		t.Fatalf("waiting %v", w.json["waiting"])
	}
	if r := s.post("/v1/instances/"+id+"/events/go", `7`).want(t, 202, ""); r.str("delivery") != "consumed" {
		t.Errorf("202 body %s, want the event consumed", r.body)
	}
	s.status(id, "SUCCEEDED")
}

// An event the instance's workflow version can never await is refused
// with 422 naming those it can await, and is not kept (issue: a misspelt
// event was "delivered").
func TestEventNeverAwaitedIs422(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	r := s.post("/v1/instances/"+id+"/events/og", `{}`).want(t, 422, api.CodeUnknownEvent)
	if msg := fmt.Sprint(r.json["error"].(map[string]any)["message"]); !strings.Contains(msg, `"og"`) || !strings.Contains(msg, `"go"`) {
		t.Errorf("message %q names neither the event nor those awaited", msg)
	}
	if n, _, err := s.faults.PendingSize(id); err != nil || n != 0 {
		t.Errorf("kept %d events (%v), want none", n, err)
	}
	// A workflow without awaits says so.
	echo := s.post("/v1/workflows/timer/instances", `{}`).want(t, 201, "").str("id")
	r = s.post("/v1/instances/"+echo+"/events/go", `{}`).want(t, 422, api.CodeUnknownEvent)
	if msg := fmt.Sprint(r.json["error"].(map[string]any)["message"]); !strings.Contains(msg, "awaits no events") {
		t.Errorf("message %q", msg)
	}
	// A called workflow's events count for its parent.
	parent := s.post("/v1/workflows/parent/instances", `{}`).want(t, 201, "").str("id")
	s.post("/v1/instances/"+parent+"/events/go", `{}`).want(t, 202, "")
	s.status(parent, "SUCCEEDED")
}

func TestCancelCascadesToChildren(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/parent/instances", `{}`).want(t, 201, "").str("id")
	p := s.until(id, "a child", func(r reply) bool {
		w, _ := r.json["waiting"].(map[string]any)
		return w != nil && w["kind"] == "child" && w["instance"] != ""
	})
	child := p.json["waiting"].(map[string]any)["instance"].(string)
	s.status(child, "WAITING")
	r := s.post("/v1/instances/"+id+"/cancel", "").want(t, 202, "")
	if r.str("status") != "CANCELLED" {
		t.Errorf("cancel answered %s", r.body)
	}
	if got := s.status(id, "CANCELLED"); got.str("error") != flow.ErrCancelled {
		t.Errorf("error %q, want %s", got.str("error"), flow.ErrCancelled)
	}
	s.status(child, "CANCELLED")
	s.post("/v1/instances/"+id+"/cancel", "").want(t, 409, api.CodeEnded)
	s.post("/v1/instances/missing/cancel", "").want(t, 404, api.CodeNotFound)
}

func TestPauseAndResume(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	id := s.post("/v1/workflows/timer/instances", `{}`).want(t, 201, "").str("id")
	s.status(id, "WAITING")
	s.post("/v1/instances/"+id+"/pause", "").want(t, 202, "")
	p := s.status(id, "PAUSED")
	if w, _ := p.json["waiting"].(map[string]any); w["kind"] != "paused" {
		t.Errorf("paused instance waits for %v", p.json["waiting"])
	}
	s.post("/v1/instances/"+id+"/resume", "").want(t, 202, "")
	r := s.status(id, "WAITING")
	if w, _ := r.json["waiting"].(map[string]any); w["kind"] != "timer" {
		t.Errorf("resumed instance waits for %v", r.json["waiting"])
	}
	s.post("/v1/instances/"+id+"/resume", "").want(t, 409, api.CodeConflict)
	s.post("/v1/instances/missing/pause", "").want(t, 404, api.CodeNotFound)
	s.post("/v1/instances/"+id+"/cancel", "").want(t, 202, "")
	s.post("/v1/instances/"+id+"/pause", "").want(t, 409, api.CodeEnded)
}

func TestRedriveRunsTheFailedStateAgain(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{})
	r := s.post("/v1/workflows/flaky/instances?wait=10s", `{}`).want(t, 200, "")
	if r.str("status") != "FAILED" || r.str("error") != "Boom" || r.str("state") != "Try" {
		t.Fatalf("flaky answered %s", r.body)
	}
	id := r.str("id")
	f.failing.Store(false)
	s.post("/v1/instances/"+id+"/redrive", "").want(t, 202, "")
	s.status(id, "SUCCEEDED")
	s.post("/v1/instances/"+id+"/redrive", "").want(t, 409, api.CodeConflict)
	s.post("/v1/instances/missing/redrive", "").want(t, 404, api.CodeNotFound)
}

// A redrive of an instance that is still running is refused at once; it
// is not queued to run the instance again once its step ends.
func TestRedriveOfARunningInstanceConflicts(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{})
	id := s.post("/v1/workflows/late/instances", `{}`).want(t, 201, "").str("id")
	s.post("/v1/instances/"+id+"/redrive", "").want(t, 409, api.CodeConflict)
	f.late.Open()
	s.waitsFor(id, "event")
}

func TestWorkflowsDetailAndGraph(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{Problems: func() []string { return []string{"a.lua:3: broken"} }})
	r := s.get("/v1/workflows").want(t, 200, "")
	wfs, _ := r.json["workflows"].([]any)
	if len(wfs) != 6 || wfs[0].(map[string]any)["name"] != "await" {
		t.Fatalf("workflows %s", r.body)
	}
	first := wfs[0].(map[string]any)
	if first["version"] != "v1" || len(first["versions"].([]any)) != 1 || len(first["states"].([]any)) != 1 {
		t.Errorf("summary %v", first)
	}
	if errs, _ := r.json["errors"].([]any); len(errs) != 1 || errs[0] != "a.lua:3: broken" {
		t.Errorf("errors %v", r.json["errors"])
	}
	d := s.get("/v1/workflows/flaky").want(t, 200, "")
	states, _ := d.json["states"].([]any)
	if d.str("version") != "v1" || d.str("start") != "Try" || len(states) != 2 {
		t.Fatalf("detail %s", d.body)
	}
	try := states[0].(map[string]any)
	if try["kind"] != "task" || len(try["transitions"].([]any)) != 2 {
		t.Errorf("state Try %v, want a task with next and catch", try)
	}
	s.get("/v1/workflows/nope").want(t, 404, api.CodeUnknownWorkflow)
	g := s.get("/v1/workflows/flaky/graph").want(t, 200, "")
	if !strings.HasPrefix(g.header.Get("Content-Type"), "text/plain") || !strings.Contains(string(g.body), "digraph") {
		t.Errorf("dot graph %q (%s)", g.body, g.header.Get("Content-Type"))
	}
	m := s.get("/v1/workflows/flaky/graph?format=mermaid").want(t, 200, "")
	if strings.Contains(string(m.body), "digraph") || len(m.body) == 0 {
		t.Errorf("mermaid graph %q", m.body)
	}
	s.get("/v1/workflows/flaky/graph?format=png").want(t, 400, api.CodeBadRequest)
	s.get("/v1/workflows/nope/graph").want(t, 404, api.CodeUnknownWorkflow)
	svg := s.get("/v1/workflows/flaky/graph?format=svg").want(t, 200, "")
	if svg.header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(string(svg.body), "<svg") ||
		!strings.Contains(string(svg.body), `data-state="Try"`) {
		t.Errorf("svg graph %q (%s)", svg.body, svg.header.Get("Content-Type"))
	}
}

// TestInstanceGraphShowsThePath draws an instance that went through both
// branches of a parallel state and waits for an event after it.
func TestInstanceGraphShowsThePath(t *testing.T) {
	branch := func(name string) *flow.Machine {
		m := flowtest.Machine(name, &flow.State{Name: name, Kind: flow.Pass})
		return &m
	}
	b := bundle(workflow("fan", "Both",
		&flow.State{Name: "Both", Kind: flow.Parallel, Next: "Hold", Branches: []*flow.Machine{branch("Left"), branch("Right")}},
		&flow.State{Name: "Hold", Kind: flow.Await, Event: "go", Next: "Unused"},
		&flow.State{Name: "Unused", Kind: flow.Succeed}))
	s := newServer(t, b, api.Options{})
	s.post("/v1/workflows/fan/instances?id=f1", `{}`).want(t, 201, "")
	s.waitsFor("f1", "event")

	g := s.get("/v1/instances/f1/graph?format=svg").want(t, 200, "")
	body := string(g.body)
	if g.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("content type %s", g.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`class="node parallel visited" data-state="Both" data-machine=""`,
		`class="node pass visited" data-state="Left" data-machine="Both[0]"`,
		`class="node pass visited" data-state="Right" data-machine="Both[1]"`,
		`class="node await visited current" data-state="Hold"`,
		`class="node succeed" data-state="Unused"`,
		`class="legend"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("instance graph lacks %s", want)
		}
	}
	// start, Both->Hold, start and end of each branch, and the legend's sample
	if n := strings.Count(body, `class="edge taken"`); n != 7 {
		t.Errorf("%d taken edges, want 7", n)
	}
	dot := s.get("/v1/instances/f1/graph").want(t, 200, "")
	if !strings.HasPrefix(string(dot.body), "digraph") || !strings.Contains(string(dot.body), "penwidth=3") {
		t.Errorf("dot graph %s", dot.body)
	}
	if m := s.get("/v1/instances/f1/graph?format=mermaid").want(t, 200, ""); !strings.Contains(string(m.body), "class s1 current") {
		t.Errorf("mermaid graph %s", m.body)
	}
	s.get("/v1/instances/f1/graph?format=gif").want(t, 400, api.CodeBadRequest)
	s.get("/v1/instances/nope/graph").want(t, 404, api.CodeNotFound)
}

func TestPluginsHealthAndReadiness(t *testing.T) {
	notReady := errors.New("store closed")
	var ready atomic.Pointer[error]
	s := newServer(t, newFixture().bundle, api.Options{Ready: func() error {
		if p := ready.Load(); p != nil {
			return *p
		}
		return nil
	}})
	if r := s.get("/v1/plugins").want(t, 200, ""); string(r.body) != `{"plugins":[]}`+"\n" {
		t.Errorf("plugins %s", r.body)
	}
	s.get("/healthz").want(t, 200, "")
	s.get("/readyz").want(t, 200, "")
	ready.Store(&notReady)
	s.get("/readyz").want(t, 503, api.CodeUnavailable)

	p := newServer(t, newFixture().bundle, api.Options{Plugins: func() any { return []map[string]string{{"name": "fraud"}} }})
	if r := p.get("/v1/plugins").want(t, 200, ""); !strings.Contains(string(r.body), `"fraud"`) {
		t.Errorf("plugins %s", r.body)
	}
}

func TestMetricsCountFromEngineEvents(t *testing.T) {
	m := metrics.New()
	s := newServer(t, newFixture().bundle, api.Options{Metrics: m})
	s.post("/v1/workflows/echo/instances?wait=10s", `{}`).want(t, 200, "")
	s.post("/v1/workflows/flaky/instances?wait=10s", `{}`).want(t, 200, "")
	id := s.post("/v1/workflows/await/instances", `{}`).want(t, 201, "").str("id")
	s.until(id, "waiting", func(r reply) bool { return r.str("status") == "WAITING" })
	s.get("/v1/instances/nope").want(t, 404, api.CodeNotFound)
	s.get("/no/such/route").want(t, 404, api.CodeNotFound)
	m.Reloaded(0)
	m.Reloaded(2)
	// The waiting count moves once the parking checkpoint is written,
	// just after the record reads WAITING.
	r := orbittest.Until(t, orbittest.Timeout, "the waiting instance counted", func() (reply, error) { return s.get("/metrics"), nil },
		func(r reply) bool { return strings.Contains(string(r.body), `orbit_instances_waiting{kind="event"} 1`) })
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	for _, line := range []string{
		`orbit_instances_started_total{workflow="echo"} 1`,
		`orbit_instances_ended_total{status="SUCCEEDED",workflow="echo"} 1`,
		`orbit_instances_ended_total{status="FAILED",workflow="flaky"} 1`,
		`orbit_steps_total{workflow="echo"} 1`,
		`orbit_errors_total{error="Boom",workflow="flaky"} 1`,
		`orbit_reloads_total{result="failed"} 1`,
		`orbit_reloads_total{result="ok"} 1`,
		`orbit_reload_problems 2`,
		`orbit_step_duration_seconds_count{kind="go",state="Echo",workflow="echo"} 1`,
		`orbit_step_duration_seconds_count{kind="go",state="Try",workflow="flaky"} 1`,
		`orbit_instances_waiting{kind="event"} 1`,
		`orbit_concurrency_queue_depth 0`,
		`orbit_http_requests_total{method="POST",route="/v1/workflows/{}/instances",status="200"} 2`,
		`orbit_http_requests_total{method="POST",route="/v1/workflows/{}/instances",status="201"} 1`,
		`orbit_http_requests_total{method="GET",route="/v1/instances/{}",status="404"} 1`,
		`orbit_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`orbit_http_request_duration_seconds_count{method="GET",route="/v1/instances/{}"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(r.body), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

func TestBearerToken(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{Token: "s3cret"})
	s.get("/v1/workflows").want(t, 200, "")
	s.token = "wrong"
	s.get("/v1/workflows").want(t, 401, api.CodeUnauthorized)
	s.token = ""
	r := s.get("/v1/instances").want(t, 401, api.CodeUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	s.do("GET", "/v1/workflows", nil, "Authorization", "Basic czNjcmV0").want(t, 401, api.CodeUnauthorized)
	s.get("/healthz").want(t, 200, "")
	s.get("/metrics").want(t, 200, "")
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	s.get("/nope").want(t, 404, api.CodeNotFound)
	s.get("/v1/instances/a/b/c/d").want(t, 404, api.CodeNotFound)
	r := s.do("DELETE", "/v1/instances/x", nil).want(t, 405, api.CodeMethodNotAllowed)
	if r.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	s.get("/v1/workflows/echo/instances").want(t, 405, api.CodeMethodNotAllowed)
	s.post("/v1/instances/x", "").want(t, 405, api.CodeMethodNotAllowed)
}

func TestInFlightBoundAnswers429(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{MaxInFlight: 2})
	var wg sync.WaitGroup
	ids := []string{"held-1", "held-2"}
	for _, id := range ids {
		wg.Go(func() { s.post("/v1/workflows/await/instances?wait=30s&id="+id, `{}`) })
	}
	// Both starts are held before the test sends a request of its own,
	// which would otherwise take a slot one of them needs.
	for _, id := range ids {
		orbittest.For(t, orbittest.Timeout, func() error {
			_, err := s.engine.Get(id)
			return err
		})
	}
	r := orbittest.Until(t, orbittest.Timeout, "a 429 with two requests held",
		func() (reply, error) { return s.get("/v1/workflows"), nil },
		func(r reply) bool { return r.status == 429 })
	r.want(t, 429, api.CodeTooManyRequests)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Release the held starts: their events go to the engine directly,
	// since the API is full.
	for _, id := range ids {
		orbittest.For(t, orbittest.Timeout, func() error { return s.engine.Send(context.Background(), id, "go", nil) })
	}
	wg.Wait()
	s.get("/v1/workflows").want(t, 200, "")
}

func TestShutdownAnswersWaitingStarts(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{})
	answered := make(chan reply, 1)
	go func() { answered <- s.post("/v1/workflows/await/instances?wait=1m&id=held", `{}`) }()
	orbittest.For(t, orbittest.Timeout, func() error {
		_, err := s.engine.Get("held")
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.api.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a waiting start: %v", err)
	}
	r := <-answered
	r.want(t, 201, "")
	if r.str("id") != "held" {
		t.Errorf("answer %s", r.body)
	}
}

func TestWorkflowVersionsAreTheKeptBundles(t *testing.T) {
	v1, v2 := orderVersions()
	s := newServer(t, v1, api.Options{})
	if err := s.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	d := s.get("/v1/workflows/order").want(t, 200, "")
	if vs, _ := json.Marshal(d.json["versions"]); string(vs) != `["v1","v2"]` {
		t.Errorf("versions %s, want the kept v1 and the current v2", vs)
	}
}

func TestPauseDuringALongStepIsAccepted(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{ControlWait: 10 * time.Millisecond})
	id := s.post("/v1/workflows/late/instances", `{}`).want(t, 201, "").str("id")
	s.status(id, "RUNNING")
	// The step holds until the gate opens: the pause is answered before.
	if r := s.post("/v1/instances/"+id+"/pause", "").want(t, 202, ""); r.str("status") != "RUNNING" {
		t.Errorf("pause during a step answered %s", r.body)
	}
	f.late.Open()
	s.waitsFor(id, "paused")
	s.post("/v1/instances/"+id+"/resume", "").want(t, 202, "")
	s.waitsFor(id, "event")
}

// A synchronous start with a generated id is stored with its first step;
// when the wait runs out first, the start is stored before the answer
// names the instance, so the id the caller gets is always there.
func TestWaitThatRunsOutAnswersAStoredInstance(t *testing.T) {
	f := newFixture()
	s := newServer(t, f.bundle, api.Options{})
	id := s.post("/v1/workflows/late/instances?wait=20ms", `{}`).want(t, 201, "").str("id")
	if r := s.get("/v1/instances/"+id).want(t, 200, ""); r.str("status") != "RUNNING" || r.str("state") != "Hold" {
		t.Fatalf("after the wait ran out: %s", r.body)
	}
	f.late.Open()
	s.waitsFor(id, "event")
}

// A declarative choice rule shows its name and condition, so a client can
// read the workflow without its scripts.
func TestWorkflowDetailShowsConditions(t *testing.T) {
	when := &flow.Compare{Path: flow.MustPath("$.total"), Op: flow.Gt, Value: 100.0}
	b := bundle(workflow("route", "Route",
		&flow.State{Name: "Route", Kind: flow.Choice, Default: "Done",
			Rules: []flow.Rule{{Name: "big", When: when, Next: "Done"}}},
		&flow.State{Name: "Done", Kind: flow.Succeed}))
	s := newServer(t, b, api.Options{})
	d := s.get("/v1/workflows/route").want(t, 200, "")
	route := d.json["states"].([]any)[0].(map[string]any)
	got, _ := json.Marshal(route["transitions"])
	if want := `[{"on":"choice","rule":"big","to":"Done","when":"$.total \u003e 100"},{"on":"default","to":"Done"}]`; string(got) != want {
		t.Errorf("transitions %s, want %s", got, want)
	}
}

// TestConsoleIsServedFromTheBinary fetches the console: every file from
// the embedded set, with its type, a policy that keeps it to its origin,
// an ETag, gzip when asked for, and no reference to any other host. The
// files need no token; the API behind them does.
func TestConsoleIsServedFromTheBinary(t *testing.T) {
	s := newServer(t, newFixture().bundle, api.Options{Token: "secret"})
	s.token = ""
	// raw sends a request as it is: no redirect followed, no gzip undone.
	raw := func(path string, header ...string) *http.Response {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := raw("/ui"); r.StatusCode != 301 || r.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %d to %q, want 301 to /ui/", r.StatusCode, r.Header.Get("Location"))
	}
	index := s.get("/ui/").want(t, 200, "")
	if ct := index.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") ||
		!strings.Contains(string(index.body), `<script type="module" src="app.js">`) {
		t.Fatalf("index: %s\n%s", ct, index.body)
	}
	if csp := index.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("policy %q", csp)
	}
	files, err := fs.ReadDir(ui.Files, ".")
	if err != nil || len(files) < 5 {
		t.Fatalf("embedded files: %v, %v", files, err)
	}
	total := 0
	for _, f := range files {
		r := s.get("/ui/"+f.Name()).want(t, 200, "")
		want := map[string]string{".js": "text/javascript", ".css": "text/css", ".html": "text/html"}[path.Ext(f.Name())]
		if want == "" || !strings.HasPrefix(r.header.Get("Content-Type"), want) {
			t.Errorf("%s: type %q", f.Name(), r.header.Get("Content-Type"))
		}
		for _, ref := range []string{"http://", "https://", "//fonts.", "@import"} {
			if strings.Contains(string(r.body), ref) {
				t.Errorf("%s refers to %q: the console must work offline", f.Name(), ref)
			}
		}
		total += len(r.body)
		etag := r.header.Get("ETag")
		if again := s.do("GET", "/ui/"+f.Name(), nil, "If-None-Match", etag); etag == "" || again.status != 304 {
			t.Errorf("%s: ETag %q, a second fetch answers %d, want 304", f.Name(), etag, again.status)
		}
	}
	if resp := raw("/ui/app.css", "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength >= int64(len(s.get("/ui/app.css").body)) {
		t.Errorf("app.css: encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), resp.ContentLength)
	}
	t.Logf("console: %d files, %d bytes", len(files), total)
	s.get("/ui/nope.js").want(t, 404, api.CodeNotFound)
	s.get("/v1/instances").want(t, 401, api.CodeUnauthorized)
}
