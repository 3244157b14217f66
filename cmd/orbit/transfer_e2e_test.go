package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
)

// stop ends a sidecar with SIGTERM and waits for it.
func (s *sidecar) stop() {
	s.t.Helper()
	if err := s.proc.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	if err := s.proc.Wait(); err != nil {
		s.t.Fatalf("orbit serve after SIGTERM: %v", err)
	}
}

// mustRun runs an orbit command that must succeed and returns its stderr.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	_, errOut, code := runOrbit(t, nil, args...)
	if code != 0 {
		t.Fatalf("orbit %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return errOut
}

// refused runs an orbit command that must fail with a message holding want.
func refused(t *testing.T, want string, args ...string) {
	t.Helper()
	_, errOut, code := runOrbit(t, nil, args...)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("orbit %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), code, errOut, want)
	}
}

// TestMoveBboltToNATSAndBack runs instances on a bbolt store until some
// have ended and others wait on events, timers and a kept event; stops the
// sidecar, exports the data file and imports it into NATS; serves it there
// with two sidecars and sends the events: every instance ends once, with
// each step called once, its history contiguous and its timer fired once.
// Then the NATS store goes back into a new data file, which a bbolt
// sidecar serves with every instance as it ended. Each move refuses a
// store a sidecar serves, and an import refuses a store that holds
// something unless --force, which then skips what is there.
func TestMoveBboltToNATSAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a store between two real sidecars and a NATS server")
	}
	d := startStepDownstream(t)
	env := []string{"ORBIT_SCRIPT_ENV=STEP_URL", "STEP_URL=" + d.url}
	dir := t.TempDir()
	data, export := filepath.Join(dir, "orbit.db"), filepath.Join(dir, "orbit.export")

	s := serve(t, env, data, "--scripts", "testdata/move")
	const n = 4
	kinds := []string{"quick", "gated", "napper", "early", "overdue"}
	for _, wf := range kinds[:4] {
		for i := range n {
			s.start(wf, fmt.Sprintf("?id=%s-%d", wf, i), fmt.Sprintf(`{"n":%d}`, i)).must(t, 201)
		}
	}
	for i := range n {
		s.status(fmt.Sprintf("quick-%d", i), "SUCCEEDED")
		s.waitsFor(fmt.Sprintf("gated-%d", i), "event")
		s.waitsFor(fmt.Sprintf("napper-%d", i), "timer")
		s.waitsFor(fmt.Sprintf("early-%d", i), "timer")
		s.do("POST", fmt.Sprintf("/v1/instances/early-%d/events/go", i), fmt.Sprintf(`{ "early" : %d }`, i)).must(t, 202)
	}
	refused(t, "in use by another process", "export", "--data", data, export)
	// Last, and the sidecar stops as soon as they wait: the overdue
	// timers fall due only while the store is being moved.
	var overdueAt time.Time
	for i := range n {
		s.start("overdue", fmt.Sprintf("?id=overdue-%d", i), fmt.Sprintf(`{"n":%d}`, i)).must(t, 201)
	}
	for i := range n {
		a := s.waitsFor(fmt.Sprintf("overdue-%d", i), "timer")
		until, err := time.Parse(time.RFC3339Nano, a.waiting()["until"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if until.After(overdueAt) {
			overdueAt = until
		}
	}
	s.stop()

	mustRun(t, "export", "--data", data, export)
	// The overdue timers fall due before the store they are moved to
	// serves them.
	time.Sleep(time.Until(overdueAt))
	nats := devnatstest.Start(t, 1)
	to := []string{"--store", "nats", "--nats-url", nats.URL()}
	out := mustRun(t, append([]string{"import", export}, to...)...)
	if !strings.Contains(out, "imported 20 instances (16 unfinished)") {
		t.Errorf("import said %q", out)
	}
	refused(t, "already holds 20 instances", append([]string{"import", export}, to...)...)
	if out := mustRun(t, append([]string{"import", "--force", export}, to...)...); !strings.Contains(out, "20 instances were there already") {
		t.Errorf("import --force said %q", out)
	}

	cs := []*sidecar{
		serve(t, env, filepath.Join(dir, "s1.db"), append([]string{"--scripts", "testdata/move"}, to...)...),
		serve(t, env, filepath.Join(dir, "s2.db"), append([]string{"--scripts", "testdata/move"}, to...)...),
	}
	for i := range n {
		cs[i%2].waitsFor(fmt.Sprintf("gated-%d", i), "event")
		cs[(i+1)%2].do("POST", fmt.Sprintf("/v1/instances/gated-%d/events/go", i), fmt.Sprintf(`"late %d"`, i)).must(t, 202)
	}
	want := map[string]func(i int) (string, map[string]int){
		"quick": func(i int) (string, map[string]int) {
			return fmt.Sprintf(`{"a":{"ok":true},"n":%d}`, i), map[string]int{"TaskSucceeded": 1}
		},
		"gated": func(i int) (string, map[string]int) {
			return fmt.Sprintf(`{"d":{"ok":true},"ev":"late %d","n":%d}`, i, i), map[string]int{"TaskSucceeded": 1, "EventReceived": 1}
		},
		"overdue": func(i int) (string, map[string]int) {
			return fmt.Sprintf(`{"a":{"ok":true},"b":{"ok":true},"n":%d}`, i), map[string]int{"TaskSucceeded": 2, "TimerFired": 1}
		},
		"early": func(i int) (string, map[string]int) {
			return fmt.Sprintf(`{"d":{"ok":true},"ev":{"early":%d},"n":%d}`, i, i), map[string]int{"TaskSucceeded": 1, "TimerFired": 1, "EventReceived": 1}
		},
	}
	want["napper"] = want["overdue"]
	lengths := map[string]int{}
	for _, wf := range kinds {
		for i := range n {
			id := fmt.Sprintf("%s-%d", wf, i)
			a := cs[i%2].ended(id)
			output, counts := want[wf](i)
			if a.str("status") != "SUCCEEDED" || a.output() != output {
				t.Errorf("%s ended %s with %s, want SUCCEEDED with %s", id, a.str("status"), a.output(), output)
			}
			types := cs[(i+1)%2].contiguous(id)
			counts["ExecutionSucceeded"] = 1
			for typ, c := range counts {
				if types[typ] != c {
					t.Errorf("%s: %d %s events, want %d (history %v)", id, types[typ], typ, c, types)
				}
			}
			for _, e := range types {
				lengths[id] += e
			}
		}
	}
	d.mu.Lock()
	if len(d.calls) != 7*n {
		t.Errorf("%d idempotency keys called, want %d", len(d.calls), 7*n)
	}
	for key, c := range d.calls {
		if c != 1 {
			t.Errorf("step %s called %d times", key, c)
		}
	}
	d.mu.Unlock()

	// And back into a new data file.
	refused(t, "a sidecar serves the store", append([]string{"export", "back.export"}, to...)...)
	for _, c := range cs {
		c.stop()
	}
	back, backData := filepath.Join(dir, "back.export"), filepath.Join(dir, "back.db")
	mustRun(t, append([]string{"export", back}, to...)...)
	if out := mustRun(t, "import", "--data", backData, back); !strings.Contains(out, "imported 20 instances (0 unfinished)") {
		t.Errorf("import into bbolt said %q", out)
	}
	s = serve(t, env, backData, "--scripts", "testdata/move")
	for id, length := range lengths {
		if a := s.do("GET", "/v1/instances/"+id, "").must(t, 200); a.str("status") != "SUCCEEDED" {
			t.Errorf("%s came back %s", id, a.str("status"))
		}
		got := 0
		for _, c := range s.contiguous(id) {
			got += c
		}
		if got != length {
			t.Errorf("%s came back with %d events, had %d", id, got, length)
		}
	}
}

// TestExportImportThroughAPipe copies one data file into a new one through
// a pipe, and the copy exports to the same stream (but its header); an
// export file cut short is refused before anything is written.
func TestExportImportThroughAPipe(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	ids := stopped(t, from, 3)

	export := exec.Command(orbit(t), "export", "--data", from, "-")
	imp := exec.Command(orbit(t), "import", "--data", to, "-")
	pipe, err := export.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var exportErr, importErr bytes.Buffer
	export.Stderr, imp.Stderr = &exportErr, &importErr
	if err := export.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		t.Fatalf("import: %v\n%s", err, importErr.String())
	}
	if err := export.Wait(); err != nil {
		t.Fatalf("export: %v\n%s", err, exportErr.String())
	}
	if !strings.Contains(importErr.String(), "imported 3 instances (3 unfinished)") {
		t.Errorf("import said %q", importErr.String())
	}

	// The copy holds what the original does: their exports differ only
	// in the header, which names the file, and so in the digest.
	a, _, code := runOrbit(t, nil, "export", "--data", from, "-")
	b, _, code2 := runOrbit(t, nil, "export", "--data", to, "-")
	body := func(export string) string {
		_, rest, _ := strings.Cut(export, "\n")
		rest, _, _ = strings.Cut(rest, `"sha256"`)
		return rest
	}
	restA, restB := body(a), body(b)
	if code != 0 || code2 != 0 || restA != restB || strings.Count(restA, `"kind":"instance"`) != 3 {
		t.Fatalf("exports of the original and the copy differ (exit %d, %d):\n%.500s\n%.500s", code, code2, restA, restB)
	}

	cut := filepath.Join(dir, "cut.export")
	if err := os.WriteFile(cut, []byte(a[:len(a)-len(a)/3]), 0o600); err != nil {
		t.Fatal(err)
	}
	never := filepath.Join(dir, "never.db")
	refused(t, "nothing was written", "import", "--data", never, cut)
	if _, err := os.Stat(never); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused import left %s: %v", never, err)
	}

	s := serve(t, noFlaky, to)
	for _, id := range ids {
		s.waitsFor(id, "event")
	}
}
