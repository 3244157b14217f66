package main_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// scriptVersion is a workflow that awaits an event and then says which
// version of the script finished it.
func scriptVersion(v string) string {
	return `workflow "gate" {
  version = "` + v + `",
  start = "Gate",
  states = {
    Gate = await { event = "go", next = "Sign" },
    Sign = pass { value = "finished on ` + v + `" },
  },
}
`
}

// TestHotReloadPinsVersions edits the scripts under a running sidecar:
// new instances take the new version, waiting ones finish on the one they
// started on, a broken edit leaves the last good bundle serving and shows
// its problem, and a SIGKILL and restart keep every instance on its version.
func TestHotReloadPinsVersions(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "gate.lua")
	orbittest.WriteFile(t, script, scriptVersion("v1"))
	data := filepath.Join(t.TempDir(), "orbit.db")
	s := serve(t, nil, data, "--scripts", dir)

	s.start("gate", "?id=one", `{}`).must(t, 201)
	s.waitsFor("one", "event")

	orbittest.WriteFile(t, script, scriptVersion("v2"))
	s.untilWorkflows("version v2", func(body string) bool { return strings.Contains(body, `"version":"v2"`) })
	if a := s.start("gate", "?id=two", `{}`).must(t, 201); a.str("version") != "v2" {
		t.Fatalf("new instance on %s", a.body)
	}
	s.waitsFor("two", "event")

	// A broken edit: v2 keeps serving, and the problem is shown.
	orbittest.WriteFile(t, script, "workflow \"gate\" {\n  start = \"Nowhere\",\n  states = { A = succeed {} },\n}\n")
	s.untilWorkflows("the reload problem", func(body string) bool { return strings.Contains(body, "gate.lua:") })
	if a := s.start("gate", "?id=three", `{}`).must(t, 201); a.str("version") != "v2" {
		t.Fatalf("after a broken edit a new instance runs %s", a.body)
	}
	s.waitsFor("three", "event")

	// SIGHUP after fixing the script works as well as the watcher.
	orbittest.WriteFile(t, script, scriptVersion("v3"))
	s.proc.Process.Signal(syscall.SIGHUP)
	s.untilWorkflows("version v3", func(body string) bool { return strings.Contains(body, `"version":"v3"`) })

	// Crash and restart: each instance stays on the version it started on.
	s.proc.Process.Signal(syscall.SIGKILL)
	s.proc.Wait()
	s = serve(t, nil, data, "--scripts", dir)
	for id, want := range map[string]string{"one": "v1", "two": "v2", "three": "v2"} {
		s.do("POST", "/v1/instances/"+id+"/events/go", `{}`).must(t, 202)
		a := s.status(id, "SUCCEEDED")
		if a.output() != `"finished on `+want+`"` || a.str("version") != want {
			t.Errorf("%s finished %s on %s, want %s", id, a.output(), a.str("version"), want)
		}
	}
}

// untilWorkflows polls GET /v1/workflows until cond holds on its body.
func (s *sidecar) untilWorkflows(what string, cond func(string) bool) {
	s.t.Helper()
	orbittest.Until(s.t, 2*orbittest.Timeout, "GET /v1/workflows showing "+what,
		func() (answer, error) { return s.do("GET", "/v1/workflows", ""), nil },
		func(a answer) bool { return a.status == 200 && cond(string(a.body)) })
}
