package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		d.mu.Lock()
		d.calls = append(d.calls, downstreamCall{r.URL.Path, r.Header.Get("traceparent")})
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d.url = "http://" + ln.Addr().String()
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
