package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
)

func TestPluginInspect(t *testing.T) {
	b, err := pluginstest.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Remove)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cmdPlugin(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, _ := run("inspect", "--cache", b.CacheDir, b.Module("guest"))
	if code != 0 || !strings.Contains(out, "kind:   reactor") || !strings.Contains(out, "echo(i32, i32) -> i64  (callable") ||
		!strings.Contains(out, "orbit.http_request(i32, i32, i32, i32) -> i32") || !strings.Contains(out, "fits the Orbit plugin ABI") {
		t.Fatalf("inspect guest: exit %d\n%s", code, out)
	}

	code, out, _ = run("inspect", "--json", "--cache", b.CacheDir, b.Module("command"))
	var rep struct {
		Kind string `json:"kind"`
		Fits bool   `json:"fits"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Kind != "command" || !rep.Fits {
		t.Fatalf("inspect --json command: exit %d, %v\n%s", code, err, out)
	}

	empty := filepath.Join(t.TempDir(), "empty.wasm")
	if err := os.WriteFile(empty, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run("inspect", empty)
	if code != 1 || !strings.Contains(out, "does not fit") || !strings.Contains(out, "orbit_abi_version") {
		t.Fatalf("inspect empty module: exit %d\n%s", code, out)
	}

	if code, _, _ := run("inspect", filepath.Join(t.TempDir(), "absent.wasm")); code != 1 {
		t.Fatalf("inspect of a missing file: exit %d, want 1", code)
	}
	for _, args := range [][]string{nil, {"list"}, {"inspect"}, {"inspect", "a.wasm", "b.wasm"}} {
		if code, _, _ := run(args...); code != 2 {
			t.Fatalf("orbit plugin %v: exit %d, want 2", args, code)
		}
	}
}
