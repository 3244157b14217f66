package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// sidecar is a running `orbit serve` on an OS-chosen loopback port.
type sidecar struct {
	t      *testing.T
	proc   *orbittest.Process
	addr   string
	banner string // the startup line
	token  string
	http   *http.Client
}

// serve starts `orbit serve` on the test bundle with data in the given
// file and returns once it listens; the startup line names the port (a
// "listening" record with --log-format json).
func serve(t *testing.T, env []string, data string, extra ...string) *sidecar {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--scripts", "testdata/serve", "--data", data}, extra...)
	// The bundles served read these; a later entry of env overrides it.
	env = append([]string{"ORBIT_SCRIPT_ENV=FLAKY_URL,SHOP_URL"}, env...)
	r := startOrbit(t, env, args...)
	addr, banner, err := r.Listening(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &sidecar{t: t, proc: r, addr: addr, banner: banner, http: &http.Client{Timeout: 30 * time.Second}}
}

// logged returns the lines the sidecar has logged since it listened.
func (s *sidecar) logged() []string { return s.proc.Logged() }

// flakyDownstream answers 500 until recovered, for the redrive test.
func flakyDownstream(t *testing.T) (string, *atomic.Bool) {
	t.Helper()
	var ok atomic.Bool
	url := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if !ok.Load() {
			w.WriteHeader(500)
			io.WriteString(w, `{"down": true}`)
			return
		}
		io.WriteString(w, `{"up": true}`)
	})
	return "FLAKY_URL=" + url, &ok
}

// serveHTTP serves handler on loopback until the test ends and returns its
// base URL. Connections still open at the end are cut, not waited for.
func serveHTTP(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL
}

// noFlaky satisfies the bundle's ${FLAKY_URL} in tests that never call it.
var noFlaky = []string{"FLAKY_URL=http://127.0.0.1:9"}

type answer struct {
	status int
	header http.Header
	body   []byte
	obj    map[string]any
}

func (s *sidecar) do(method, path, body string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	json.Unmarshal(b, &a.obj)
	return a
}

// must checks the status and returns the answer.
func (a answer) must(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

func (a answer) str(key string) string { s, _ := a.obj[key].(string); return s }

func (a answer) code() string {
	e, _ := a.obj["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) waiting() map[string]any { w, _ := a.obj["waiting"].(map[string]any); return w }

func (a answer) output() string { b, _ := json.Marshal(a.obj["output"]); return string(b) }

func (s *sidecar) start(wf, query, input string) answer {
	s.t.Helper()
	return s.do("POST", "/v1/workflows/"+wf+"/instances"+query, input)
}

// String shows the answer in failure messages.
func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// until polls an instance until it answers 200 and cond holds; a whole
// process under test gets twice the usual time.
func (s *sidecar) until(id, what string, cond func(answer) bool) answer {
	s.t.Helper()
	return orbittest.Until(s.t, 2*orbittest.Timeout, "instance "+id+" "+what, func() (answer, error) {
		a := s.do("GET", "/v1/instances/"+id, "")
		if a.status != 200 {
			return a, errors.New(a.String())
		}
		return a, nil
	}, cond)
}

func (s *sidecar) status(id, status string) answer {
	s.t.Helper()
	return s.until(id, status, func(a answer) bool { return a.str("status") == status })
}

func (s *sidecar) waitsFor(id, kind string) answer {
	s.t.Helper()
	return s.until(id, "waiting for "+kind, func(a answer) bool { return a.waiting()["kind"] == kind })
}

func TestServeSyncAndIdempotentStart(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"))
	a := s.start("echo", "?wait=10s", `{"n": 1}`).must(t, 200)
	if a.str("status") != "SUCCEEDED" || a.output() != `{"n":1}` {
		t.Fatalf("sync start answered %s", a.body)
	}
	s.start("approval", "?id=order-1", `{"n": 1}`).must(t, 201)
	again := s.start("approval", "?id=order-1", `{"n":1}`).must(t, 200)
	if again.str("id") != "order-1" || again.str("started_at") == "" {
		t.Fatalf("repeated start answered %s", again.body)
	}
	if a := s.start("approval", "?id=order-1", `{"n": 2}`); a.status != 409 || a.code() != "conflict" {
		t.Fatalf("other input answered %d %s", a.status, a.body)
	}
	if a := s.start("nope", "", `{}`); a.status != 404 || a.code() != "unknown_workflow" {
		t.Fatalf("unknown workflow answered %d %s", a.status, a.body)
	}
	if a := s.start("echo", "", `{"n":`); a.status != 400 || a.code() != "bad_request" {
		t.Fatalf("bad JSON answered %d %s", a.status, a.body)
	}
}

func TestServeEarlyEventIsKept(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"))
	id := s.start("late", "", `{}`).must(t, 201).str("id")
	s.waitsFor(id, "timer")
	s.do("POST", "/v1/instances/"+id+"/events/approved", `{"by": "ada"}`).must(t, 202)
	if a := s.status(id, "SUCCEEDED"); a.output() != `{"approval":{"by":"ada"}}` {
		t.Fatalf("output %s, want the early event's payload", a.output())
	}
	if a := s.do("POST", "/v1/instances/"+id+"/events/approved", `{}`); a.status != 409 || a.code() != "ended" {
		t.Fatalf("event to an ended instance answered %d %s", a.status, a.body)
	}
	if a := s.do("POST", "/v1/instances/nope/events/approved", `{}`); a.status != 404 {
		t.Fatalf("event to an unknown instance answered %d %s", a.status, a.body)
	}
}

func TestServeCancelCascadesToChild(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"))
	id := s.start("parent", "", `{}`).must(t, 201).str("id")
	child, _ := s.waitsFor(id, "child").waiting()["instance"].(string)
	s.waitsFor(child, "event")
	s.do("POST", "/v1/instances/"+id+"/cancel", "").must(t, 202)
	if a := s.status(id, "CANCELLED"); a.str("error") != "States.Cancelled" {
		t.Fatalf("cancelled parent %s", a.body)
	}
	s.status(child, "CANCELLED")
	s.do("POST", "/v1/instances/"+id+"/cancel", "").must(t, 409)
}

func TestServePauseResumeAndRedrive(t *testing.T) {
	flaky, up := flakyDownstream(t)
	s := serve(t, []string{flaky}, filepath.Join(t.TempDir(), "orbit.db"))
	id := s.start("approval", "", `{}`).must(t, 201).str("id")
	s.waitsFor(id, "event")
	s.do("POST", "/v1/instances/"+id+"/pause", "").must(t, 202)
	s.waitsFor(id, "paused")
	s.do("POST", "/v1/instances/"+id+"/events/approved", `true`).must(t, 202)
	if a := s.do("GET", "/v1/instances/"+id, "").must(t, 200); a.str("status") != "PAUSED" {
		t.Fatalf("a paused instance took its event: %s", a.body)
	}
	s.do("POST", "/v1/instances/"+id+"/resume", "").must(t, 202)
	s.status(id, "SUCCEEDED")

	f := s.start("flaky", "?wait=10s", `{}`).must(t, 200)
	if f.str("status") != "FAILED" || f.str("error") != "Http.500" {
		t.Fatalf("flaky answered %s", f.body)
	}
	up.Store(true)
	s.do("POST", "/v1/instances/"+f.str("id")+"/redrive", "").must(t, 202)
	if a := s.status(f.str("id"), "SUCCEEDED"); a.output() != `{"answer":{"up":true}}` {
		t.Fatalf("redriven output %s", a.output())
	}
}

func TestServeListPages(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"))
	for i := range 5 {
		s.start("echo", "?wait=10s", fmt.Sprintf(`{"i":%d}`, i)).must(t, 200)
	}
	s.start("approval", "", `{}`).must(t, 201)
	seen := map[string]bool{}
	q := url.Values{"workflow": {"echo"}, "limit": {"2"}}
	for pages := 1; ; pages++ {
		a := s.do("GET", "/v1/instances?"+q.Encode(), "").must(t, 200)
		items, _ := a.obj["instances"].([]any)
		for _, it := range items {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		next := a.str("next_cursor")
		if next == "" {
			break
		}
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 instances")
		}
		q.Set("cursor", next)
	}
	if len(seen) != 5 {
		t.Fatalf("paging saw %d instances, want 5", len(seen))
	}
}

func TestServeTokenPayloadLimitAndHealth(t *testing.T) {
	env := append([]string{"ORBIT_MAX_PAYLOAD=1KiB"}, noFlaky...)
	s := serve(t, env, filepath.Join(t.TempDir(), "orbit.db"), "--token", "s3cret")
	if a := s.do("GET", "/v1/workflows", ""); a.status != 401 || a.code() != "unauthorized" {
		t.Fatalf("no token answered %d %s", a.status, a.body)
	}
	s.token = "s3cret"
	wfs := s.do("GET", "/v1/workflows", "").must(t, 200)
	if list, _ := wfs.obj["workflows"].([]any); len(list) != 7 {
		t.Fatalf("workflows %s", wfs.body)
	}
	big := `"` + strings.Repeat("x", 1024) + `"`
	if a := s.start("echo", "", big); a.status != 413 || a.code() != "payload_too_large" {
		t.Fatalf("large input answered %d %s", a.status, a.body)
	}
	s.do("GET", "/healthz", "").must(t, 200)
	s.do("GET", "/readyz", "").must(t, 200)
	s.start("echo", "?wait=10s", `{}`).must(t, 200)
	m := s.do("GET", "/metrics", "").must(t, 200)
	if !bytes.Contains(m.body, []byte(`orbit_instances_started_total{workflow="echo"} 1`)) {
		t.Fatalf("metrics lack the start:\n%s", m.body)
	}
	d := s.do("GET", "/v1/workflows/parent", "").must(t, 200)
	if states, _ := d.obj["states"].([]any); len(states) != 2 || d.str("start") != "Child" {
		t.Fatalf("workflow detail %s", d.body)
	}
	g := s.do("GET", "/v1/workflows/parent/graph?format=mermaid", "").must(t, 200)
	if !strings.HasPrefix(string(g.body), "flowchart") {
		t.Fatalf("mermaid graph %q", g.body)
	}
	if g := s.do("GET", "/v1/workflows/parent/graph", "").must(t, 200); !strings.HasPrefix(string(g.body), "digraph") {
		t.Fatalf("dot graph %q", g.body)
	}
	s.do("GET", "/v1/plugins", "").must(t, 200)
	if a := s.do("DELETE", "/v1/workflows", ""); a.status != 405 || a.code() != "method_not_allowed" {
		t.Fatalf("DELETE answered %d %s", a.status, a.body)
	}
	if a := s.do("GET", "/v2", ""); a.status != 404 || a.code() != "not_found" {
		t.Fatalf("unknown path answered %d %s", a.status, a.body)
	}
}

func TestServeInFlightBound(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"), "--max-in-flight", "1")
	held := make(chan int, 1)
	go func() {
		// The polling below may take the one slot first: try again then.
		for {
			resp, err := http.Post("http://"+s.addr+"/v1/workflows/approval/instances?wait=1m&id=held", "application/json", nil)
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 429 {
				held <- resp.StatusCode
				return
			}
		}
	}()
	a := orbittest.Until(t, 2*orbittest.Timeout, "a 429 with a request held",
		func() (answer, error) { return s.do("GET", "/v1/instances/held", ""), nil },
		func(a answer) bool { return a.status == 429 })
	if a.code() != "too_many_requests" || a.header.Get("Retry-After") == "" {
		t.Fatalf("429 answer %v %s", a.header, a.body)
	}
	// A shutdown answers the held start at once.
	if err := s.proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status := <-held; status != 201 {
		t.Fatalf("held start answered %d on shutdown, want 201", status)
	}
}

func TestServeRefusesBrokenScripts(t *testing.T) {
	_, errOut, code := runOrbit(t, nil, "serve", "--listen", "127.0.0.1:0", "--scripts", "testdata/broken",
		"--data", filepath.Join(t.TempDir(), "orbit.db"))
	if code != 1 || !strings.Contains(errOut, "syntax.lua:3: ") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// A missing folder names the flag that chose it (issue: only "stat
	// mywf: no such file or directory").
	_, errOut, code = runOrbit(t, nil, "serve", "--listen", "127.0.0.1:0", "--scripts", "testdata/absent",
		"--data", filepath.Join(t.TempDir(), "orbit.db"))
	if code != 1 || !strings.Contains(errOut, "--scripts testdata/absent: no such file or directory") {
		t.Fatalf("a missing scripts folder: exit %d, stderr %q", code, errOut)
	}
}

func TestClientCommands(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"), "--token", "tk")
	env := []string{"ORBIT_ADDR=" + s.addr, "ORBIT_TOKEN=tk"}
	out, errOut, code := runOrbit(t, env, "start", "echo", "--input", `{"hi":1}`, "--wait", "10s")
	if code != 0 || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, `{"hi":1}`) {
		t.Fatalf("start --wait: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runOrbit(t, env, "start", "approval", "--id", "cli-1", "--json")
	if code != 0 || !strings.Contains(out, `"id":"cli-1"`) {
		t.Fatalf("start --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = runOrbit(t, env, "start", "approval", "--id", "cli-1", "--input", `{"other":1}`)
	if code != 1 || !strings.Contains(errOut, "conflict") {
		t.Fatalf("conflicting start: exit %d, stderr %q", code, errOut)
	}
	s.token = "tk"
	s.waitsFor("cli-1", "event")
	// A misspelt event is refused with the names the instance can await.
	if _, errOut, code = runOrbit(t, env, "send", "cli-1", "aproved"); code != 1 || !strings.Contains(errOut, "unknown_event") || !strings.Contains(errOut, `"approved"`) {
		t.Fatalf("send of a misspelt event: exit %d, stderr %q", code, errOut)
	}
	if out, errOut, code = runOrbit(t, env, "send", "cli-1", "approved", "--input", `"yes"`); code != 0 || !strings.Contains(out, "takes it now") {
		t.Fatalf("send: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, _, code = runOrbit(t, env, "get", "cli-1", "--wait", "10s"); code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("get --wait: exit %d, %q", code, out)
	}
	out, _, code = runOrbit(t, env, "get", "cli-1")
	if code != 0 || !strings.Contains(out, "status    SUCCEEDED") {
		t.Fatalf("get: exit %d, %q", code, out)
	}
	out, _, code = runOrbit(t, env, "history", "cli-1")
	if code != 0 || !strings.Contains(out, "EventReceived") || !strings.HasPrefix(out, "SEQ") {
		t.Fatalf("history: exit %d, %q", code, out)
	}
	out, _, code = runOrbit(t, env, "list", "--workflow", "approval")
	if code != 0 || !strings.Contains(out, "cli-1") || strings.Contains(out, "echo") {
		t.Fatalf("list: exit %d, %q", code, out)
	}
	// An idempotency key is any printable text; the list finds it.
	for range 2 {
		if out, errOut, code = runOrbit(t, env, "start", "approval", "--id", "magento/quote/7"); code != 0 || !strings.Contains(out, "magento/quote/7") {
			t.Fatalf("start --id with a key: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	}
	out, _, code = runOrbit(t, env, "list", "--key", "magento/quote/7")
	if code != 0 || strings.Count(out, "approval") != 1 {
		t.Fatalf("list --key: exit %d, %q", code, out)
	}
	// The "more:" hint continues the same listing: SUCCEEDED ones only.
	runOrbit(t, env, "start", "echo", "--input", `{"hi":2}`, "--wait", "10s")
	out, _, code = runOrbit(t, env, "list", "--status", "succeeded", "--limit", "1")
	for pages := 1; ; pages++ {
		if code != 0 || strings.Contains(out, "WAITING") || strings.Count(out, "SUCCEEDED") != 1 {
			t.Fatalf("page %d of list --status succeeded --limit 1: exit %d, %q", pages, code, out)
		}
		_, more, ok := strings.Cut(out, "more: orbit ")
		if !ok {
			if pages != 3 {
				t.Fatalf("%d pages of SUCCEEDED instances, want 3", pages)
			}
			break
		}
		out, _, code = runOrbit(t, env, strings.Fields(more)...)
	}
	_, errOut, code = runOrbit(t, env, "cancel", "cli-1")
	if code != 1 || !strings.Contains(errOut, "ended") {
		t.Fatalf("cancel of an ended instance: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runOrbit(t, []string{"ORBIT_ADDR=" + s.addr}, "get", "cli-1")
	if code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Fatalf("get without token: exit %d, stderr %q", code, errOut)
	}
}

func TestServeStopsCleanlyOnSIGTERM(t *testing.T) {
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"))
	s.start("approval", "", `{}`).must(t, 201)
	if err := s.proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.proc.Wait(); err != nil {
		t.Fatalf("orbit serve after SIGTERM: %v", err)
	}
}

// TestServeKill9Resumes kills the sidecar while instances wait on a timer,
// an event, a child and a concurrency queue, and one holds an early event, restarts it on the same data
// file, and shows every one of them finishing.
func TestServeKill9Resumes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "orbit.db")
	s := serve(t, noFlaky, data)
	approval := s.start("approval", "", `{}`).must(t, 201).str("id")
	parent := s.start("parent", "", `{}`).must(t, 201).str("id")
	first := s.start("serial", "?id=serial-1", `{"key": "k"}`).must(t, 201).str("id")
	s.waitsFor(first, "event")
	second := s.start("serial", "?id=serial-2", `{"key": "k"}`).must(t, 201).str("id")
	if w := s.waitsFor(second, "concurrency").waiting(); w["key"] != "k" {
		t.Fatalf("queued instance waits for %v", w)
	}
	s.waitsFor(approval, "event")
	child, _ := s.waitsFor(parent, "child").waiting()["instance"].(string)
	s.waitsFor(child, "event")
	late := s.start("late", "", `{}`).must(t, 201).str("id")
	s.waitsFor(late, "timer")
	s.do("POST", "/v1/instances/"+late+"/events/approved", `"early"`).must(t, 202)
	nap := s.start("nap", "", `{}`).must(t, 201).str("id") // last, so its timer is still ahead
	s.waitsFor(nap, "timer")

	s.proc.Kill(t)
	s = serve(t, noFlaky, data)
	// The timers may have run out before the kill on a slow machine, so
	// the count is not exact; the others still wait.
	if !strings.Contains(s.banner, "resumed ") || strings.Contains(s.banner, "resumed 0 instances") {
		t.Errorf("startup line %q does not count the unfinished instances", s.banner)
	}

	s.do("POST", "/v1/instances/"+approval+"/events/approved", `"ok"`).must(t, 202)
	s.do("POST", "/v1/instances/"+child+"/events/approved", `"fine"`).must(t, 202)
	s.do("POST", "/v1/instances/"+first+"/events/go", `1`).must(t, 202)
	s.waitsFor(second, "event")
	s.do("POST", "/v1/instances/"+second+"/events/go", `2`).must(t, 202)

	if a := s.status(nap, "SUCCEEDED"); a.output() != `"rested"` {
		t.Errorf("nap output %s", a.output())
	}
	if a := s.status(late, "SUCCEEDED"); a.output() != `{"approval":"early"}` {
		t.Errorf("late output %s, want the event kept across the kill", a.output())
	}
	if a := s.status(approval, "SUCCEEDED"); a.output() != `{"approval":"ok"}` {
		t.Errorf("approval output %s", a.output())
	}
	if a := s.status(parent, "SUCCEEDED"); a.output() != `{"both":["fine","b"],"child":{"approval":"fine"}}` {
		t.Errorf("parent output %s", a.output())
	}
	if a := s.status(first, "SUCCEEDED"); a.output() != `{"go":1,"key":"k"}` {
		t.Errorf("first serial output %s", a.output())
	}
	if a := s.status(second, "SUCCEEDED"); a.output() != `{"go":2,"key":"k"}` {
		t.Errorf("second serial output %s", a.output())
	}
}
