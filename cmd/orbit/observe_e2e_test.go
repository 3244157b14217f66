package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/internal/otlptest"
)

// callDownstream is a loopback service for testdata/observe that records
// the path and traceparent of every call.
type callDownstream struct {
	url   string
	mu    sync.Mutex
	calls []downstreamCall
}

type downstreamCall struct{ path, traceparent string }

func startCallDownstream(t *testing.T) *callDownstream {
	t.Helper()
	d := &callDownstream{}
	d.url = serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		d.mu.Lock()
		d.calls = append(d.calls, downstreamCall{r.URL.Path, r.Header.Get("traceparent")})
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	return d
}

// env is what testdata/observe needs to reach the downstream.
func (d *callDownstream) env() []string {
	return []string{"DOWNSTREAM_URL=" + d.url, "ORBIT_SCRIPT_ENV=DOWNSTREAM_URL"}
}

// call returns the traceparent of the call to path, waiting for it.
func (d *callDownstream) call(t *testing.T, path string) string {
	t.Helper()
	return orbittest.Until(t, 2*orbittest.Timeout, "a call to "+path, func() (string, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, c := range d.calls {
			if c.path == path {
				return c.traceparent, nil
			}
		}
		return "", errors.New("not called")
	}, func(string) bool { return true })
}

// startTraced starts an instance of wf with id, as a traced caller does:
// with a traceparent header.
func (s *sidecar) startTraced(wf, id, input, traceparent string) {
	s.t.Helper()
	req, err := http.NewRequest("POST", "http://"+s.addr+"/v1/workflows/"+wf+"/instances?id="+id, strings.NewReader(input))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", traceparent)
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		s.t.Fatalf("start %s: %d %s", wf, resp.StatusCode, body)
	}
}

// logRecord is the JSON line the sidecar logged with msg.
func (s *sidecar) logRecord(msg string) map[string]any {
	s.t.Helper()
	return orbittest.Until(s.t, 2*orbittest.Timeout, "a log line "+msg, func() (map[string]any, error) {
		for _, line := range s.logged() {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				return nil, fmt.Errorf("a log line is not JSON: %q", line)
			}
			if rec["msg"] == msg {
				return rec, nil
			}
		}
		return nil, errors.New("not logged")
	}, func(map[string]any) bool { return true })
}

// With --log-format json every line is a JSON object, and a line about an
// instance names it: id, workflow, version, state and the trace id of the
// request that started it.
func TestServeLogsJSONNamingTheInstance(t *testing.T) {
	down := startCallDownstream(t)
	s := serve(t, down.env(), filepath.Join(t.TempDir(), "orbit.db"), "--scripts", "testdata/observe", "--log-format", "json")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	s.startTraced("traced", "log-1", `{"amount": 5}`, "00-"+traceID+"-00f067aa0ba902b7-01")
	s.waitsFor("log-1", "event")

	rec := s.logRecord("noted")
	want := map[string]any{"level": "INFO", "instance": "log-1", "workflow": "traced", "state": "Note", "trace_id": traceID, "amount": 5.0}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log line %v: %s is %v, want %v", rec, k, rec[k], v)
		}
	}
	if v, _ := rec["version"].(string); v == "" {
		t.Errorf("log line %v names no version", rec)
	}
	for _, line := range s.logged() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if _, about := rec["instance"]; !about {
			continue
		}
		for _, k := range []string{"workflow", "version", "state", "trace_id"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("a line about an instance has no %s: %q", k, line)
			}
		}
	}
}

// scrape returns the sidecar's /metrics text.
func (s *sidecar) scrape() string {
	s.t.Helper()
	return string(s.do("GET", "/metrics", "").must(s.t, 200).body)
}

// hasSample reports whether the exposition holds a sample line starting
// with series whose value is not 0.
func hasSample(metrics, series string) bool {
	for _, line := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok && rest != "0" {
			return true
		}
	}
	return false
}

// The starting request's trace reaches each downstream call with Orbit's
// spans in between — the call's own client span, under the step's span,
// under a run segment, under the start span, under the caller's span —
// and it does across a SIGKILL between two steps: the restarted sidecar
// goes on in the same trace. A collector stand-in on loopback receives
// the spans over OTLP/HTTP. The metrics of each process show the run.
func TestServeTracesAcrossARestart(t *testing.T) {
	col := otlptest.Start(t)
	down := startCallDownstream(t)
	env := append(down.env(), "OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_SERVICE_NAME=orbit-e2e")
	data := filepath.Join(t.TempDir(), "orbit.db")
	s := serve(t, env, data, "--scripts", "testdata/observe")
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	s.startTraced("traced", "trace-1", `{"amount": 5}`, "00-"+traceID+"-"+callerSpan+"-01")
	s.waitsFor("trace-1", "event")
	first := down.call(t, "/first")

	// Before the kill: this process's spans are exported (the segment
	// ends as the instance parks), and its metrics show the steps so far.
	firstSegment := col.Wait(t, "the first run segment", func(sp *otlptest.Span) bool { return sp.GetName() == "run traced" })
	lua := col.Wait(t, "the Lua routine's span", func(sp *otlptest.Span) bool { return sp.GetName() == "lua note" })
	for _, series := range []string{
		`orbit_instances_started_total{workflow="traced"}`,
		`orbit_step_duration_seconds_count{kind="http",state="First",workflow="traced"}`,
		`orbit_step_duration_seconds_count{kind="lua",state="Note",workflow="traced"}`,
		`orbit_lua_call_duration_seconds_count{use="routine"}`,
		`orbit_instances_waiting{kind="event"}`,
		`orbit_store_commit_duration_seconds_count`,
		`orbit_store_checkpoints_per_commit_count`,
		`orbit_http_requests_total{method="POST",route="/v1/workflows/{}/instances",status="201"}`,
	} {
		if m := s.scrape(); !hasSample(m, series) {
			t.Errorf("the first process's metrics have no %s", series)
		}
	}
	s.proc.Kill(t)

	s = serve(t, env, data, "--scripts", "testdata/observe")
	s.do("POST", "/v1/instances/trace-1/events/go", `1`).must(t, 202)
	s.status("trace-1", "SUCCEEDED")
	second := down.call(t, "/second")

	segments := map[string]bool{}
	for path, tp := range map[string]string{"/first": first, "/second": second} {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != traceID {
			t.Fatalf("the call to %s carried traceparent %q, not in the caller's trace %s", path, tp, traceID)
		}
		call := col.Span(t, parts[2])
		if call.GetName() != "POST" || call.GetKind().String() != "SPAN_KIND_CLIENT" || call.Attr("http.response.status_code") != "200" ||
			call.Attr("url.full") != down.url+path {
			t.Errorf("the call to %s is span %v (kind %s, attributes %v)", path, call, call.GetKind(), call.GetAttributes())
		}
		state := map[string]string{"/first": "First", "/second": "Second"}[path]
		step := col.Span(t, call.Parent())
		if step.GetName() != "step "+state || step.Attr("orbit.state") != state || step.Attr("orbit.routine") != strings.ToLower(state) {
			t.Errorf("the call to %s is under %v, want Orbit's step span of %s", path, step, state)
		}
		segment := col.Span(t, step.Parent())
		if segment.GetName() != "run traced" || segment.Attr("orbit.instance") != "trace-1" {
			t.Errorf("step %s is under %v, want a run segment of trace-1", state, segment)
		}
		segments[segment.ID()] = true
		start := col.Span(t, segment.Parent())
		if start.GetName() != "start traced" || start.Parent() != callerSpan || start.Trace() != traceID {
			t.Errorf("the run segment is under %v, want the start span under the caller's span %s", start, callerSpan)
		}
		if start.Service != "orbit-e2e" {
			t.Errorf("spans come from service %q, want OTEL_SERVICE_NAME's", start.Service)
		}
	}
	if len(segments) != 2 || !segments[firstSegment.ID()] {
		t.Errorf("the steps before and after the restart ran in segments %v; want two, the first %s", segments, firstSegment.ID())
	}
	if step := col.Span(t, lua.Parent()); step.GetName() != "step Note" {
		t.Errorf("the Lua routine's span is under %v, want step Note", step)
	}
	for _, series := range []string{
		`orbit_instances_ended_total{status="SUCCEEDED",workflow="traced"}`,
		`orbit_step_duration_seconds_count{kind="http",state="Second",workflow="traced"}`,
		`orbit_http_requests_total{method="POST",route="/v1/instances/{}/events/{}",status="202"}`,
	} {
		if m := s.scrape(); !hasSample(m, series) {
			t.Errorf("the second process's metrics have no %s", series)
		}
	}
}
