package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// orbit is the real binary, built once per test run.
func orbit(t *testing.T) string {
	t.Helper()
	return orbittest.Binary(t)
}

// runOrbit runs the binary to its end and returns stdout, stderr and the
// exit code.
func runOrbit(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(orbit(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestRunExample(t *testing.T) {
	out, errOut, code := runOrbit(t, nil, "run", "testdata/run", "greet", "--input", `{"name":"Ada"}`)
	if code != 0 || strings.TrimSpace(out) != `{"greeting":"hello, Ada"}` {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runOrbit(t, nil, "run", "testdata/run", "greet", "--json", "--input", `{"name":"Ada"}`)
	if code != 0 || !strings.Contains(out, `"status":"SUCCEEDED"`) || !strings.Contains(out, `"output":{"greeting":"hello, Ada"}`) {
		t.Fatalf("--json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runOrbit(t, nil, "run", "testdata/run", "refuse", "--input", `{}`)
	if code != 1 || out != "" || strings.TrimSpace(errOut) != "Greeting.Refused: no name given" {
		t.Fatalf("failure: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runOrbit(t, nil, "run", "testdata/run", "nope")
	if code != 1 || !strings.Contains(errOut, `unknown workflow "nope"`) {
		t.Fatalf("unknown workflow: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateRefusesBrokenScripts(t *testing.T) {
	cases := map[string]string{
		"unknown_target.lua":  `unknown_target.lua:4: workflow "w", state "A": next "Nowhere" is not a state of this workflow`,
		"unreachable.lua":     `unreachable.lua:6: workflow "w", state "Orphan": unreachable from start "A"`,
		"missing_start.lua":   `missing_start.lua:2: workflow "w": missing start`,
		"unknown_routine.lua": `unknown_routine.lua:4: workflow "w", state "A": unknown routine "nope"`,
		"unknown_field.lua":   `unknown_field.lua:4: workflow "w", state "A": unknown field "colour"`,
		"syntax.lua":          `syntax.lua:3:`,
	}
	for file, want := range cases {
		out, errOut, code := runOrbit(t, nil, "validate", filepath.Join("testdata/broken", file))
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, stdout %q (want %q), stderr %q", file, code, out, want, errOut)
		}
		if _, errOut, code := runOrbit(t, nil, "run", filepath.Join("testdata/broken", file), "w"); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("run %s: exit %d, stderr %q", file, code, errOut)
		}
	}
	out, _, code := runOrbit(t, nil, "validate", "testdata/run")
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("valid bundle: exit %d, %q", code, out)
	}
}

func TestGraph(t *testing.T) {
	out, _, code := runOrbit(t, nil, "graph", "testdata/run", "greet")
	if code != 0 || !strings.HasPrefix(out, "digraph") || !strings.Contains(out, "Greet") {
		t.Fatalf("dot: exit %d, %q", code, out)
	}
	out, _, code = runOrbit(t, nil, "graph", "testdata/run", "greet", "--format", "mermaid")
	if code != 0 || !strings.HasPrefix(out, "flowchart") {
		t.Fatalf("mermaid: exit %d, %q", code, out)
	}
	out, _, code = runOrbit(t, nil, "graph", "testdata/run", "greet", "--format", "svg")
	if code != 0 || !strings.HasPrefix(out, "<svg") || !strings.Contains(out, `data-state="Greet"`) || !strings.HasSuffix(out, "</svg>\n") {
		t.Fatalf("svg: exit %d, %q", code, out)
	}
	if _, _, code = runOrbit(t, nil, "graph", "testdata/run", "greet", "--format", "png"); code != 2 {
		t.Errorf("format png: exit %d, want 2", code)
	}
}

func TestSandboxStopsHostileScripts(t *testing.T) {
	for _, wf := range []string{"use_os", "use_io", "use_load", "spin"} {
		_, errOut, code := runOrbit(t, nil, "run", "testdata/hostile", wf, "--lua-timeout", "50ms")
		if code != 1 || !strings.Contains(errOut, "States.") {
			t.Errorf("%s: exit %d, stderr %q", wf, code, errOut)
		}
	}
}

// downstream is a loopback service that records Idempotency-Keys and can
// hold calls until released.
type downstream struct {
	mu     sync.Mutex
	keys   []string
	hold   bool
	called chan struct{}
}

func startDownstream(t *testing.T) (*downstream, string) {
	d := &downstream{hold: true, called: make(chan struct{}, 16)}
	url := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		d.mu.Lock()
		d.keys = append(d.keys, r.Header.Get("Idempotency-Key"))
		hold := d.hold
		d.mu.Unlock()
		d.called <- struct{}{}
		if hold {
			<-r.Context().Done() // the caller dies first
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"charged":true}`)
	})
	return d, url
}

// TestKillDuringTaskAndWait kills orbit with SIGKILL inside a task and
// inside a wait, and shows each instance finishing when the same command
// runs again on the same data file; the re-run task keeps its key.
func TestKillDuringTaskAndWait(t *testing.T) {
	down, url := startDownstream(t)
	env := []string{"CHARGE_URL=" + url, "ORBIT_SCRIPT_ENV=CHARGE_URL"}
	dir := t.TempDir()

	// Inside a task.
	data := filepath.Join(dir, "task.db")
	args := []string{"run", "testdata/kill", "charge", "--data", data, "--id", "order-7", "--input", `{"amount":5}`}
	cmd := startOrbit(t, env, args...)
	<-down.called
	cmd.Kill(t)
	down.mu.Lock()
	down.hold = false
	down.mu.Unlock()
	out, errOut, code := runOrbit(t, env, args...)
	if code != 0 || strings.TrimSpace(out) != `{"amount":5,"charge":{"charged":true}}` {
		t.Fatalf("after restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	down.mu.Lock()
	keys := append([]string(nil), down.keys...)
	down.mu.Unlock()
	if len(keys) != 2 || keys[0] != "order-7/Charge/1" || keys[1] != keys[0] {
		t.Fatalf("Idempotency-Keys %v, want the same key twice", keys)
	}

	// Inside a wait.
	data = filepath.Join(dir, "wait.db")
	args = []string{"run", "testdata/kill", "nap", "--data", data, "--id", "nap-1"}
	cmd = startOrbit(t, env, args...)
	cmd.WaitForLine(t, "waits in state Nap: timer")
	cmd.Kill(t)
	out, errOut, code = runOrbit(t, env, args...)
	if code != 0 || strings.TrimSpace(out) != `"rested"` {
		t.Fatalf("after restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// An interrupted run without --data says that its instance is gone with
// the temporary store and how to keep one (issue: it did not say so).
func TestRunInterruptedWithoutDataSaysTheInstanceIsLost(t *testing.T) {
	env := []string{"CHARGE_URL=http://127.0.0.1:9", "ORBIT_SCRIPT_ENV=CHARGE_URL"} // the bundle's, never called here
	cmd := startOrbit(t, env, "run", "testdata/kill", "nap", "--id", "nap-2")
	cmd.WaitForLine(t, "waits in state Nap: timer")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	line := cmd.WaitForLine(t, "nap-2 is lost")
	if !strings.Contains(line, "--data FILE --id ID") {
		t.Errorf("the run said %q", line)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("an interrupted run exited 0")
	}
}

// startOrbit runs the binary with its stderr read line by line; it is
// killed when the test ends.
func startOrbit(t *testing.T, env []string, args ...string) *orbittest.Process {
	t.Helper()
	return orbittest.Start(t, orbit(t), env, args...)
}

// TestCrashLoopIsQuarantined kills orbit with SIGKILL each time an
// instance's step runs. It is resumed twice; the third run sets it aside
// as FAILED with States.Quarantined instead of running the step again.
func TestCrashLoopIsQuarantined(t *testing.T) {
	data := filepath.Join(t.TempDir(), "loop.db")
	args := []string{"run", "testdata/crashloop", "crashloop", "--data", data, "--id", "loop-1", "--lua-timeout", "1h"}
	for range 3 { // the first run and two resumes
		cmd := startOrbit(t, nil, args...)
		cmd.WaitForLine(t, "spinning in Spin")
		cmd.Kill(t)
	}
	_, errOut, code := runOrbit(t, nil, append(args, "--json")...)
	want := "States.Quarantined: resumed 2 times without completing a step: the sidecar stopped during state Spin each time; redrive runs it again"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("fourth run: exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, "spinning in Spin") {
		t.Fatal("the quarantined step ran again")
	}
}
