package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
)

// TestServeNamesThePluginsFlag checks that a plugins directory that does
// not load stops the start with lines that each name --plugins and the
// directory, so that nobody takes them for a problem of the scripts, and
// that the ceilings come from their flags and environment variables.
func TestServeNamesThePluginsFlag(t *testing.T) {
	dir := t.TempDir()
	for name, manifest := range map[string]string{
		"fraud": `{"name": "fraud", "module": "fraud.wasm"}`,
		"big":   `{"name": "big", "module": "big.wasm", "memory_limit": "64MiB"}`,
	} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "plugin.json"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, errOut, code := runOrbit(t, []string{"ORBIT_PLUGIN_MAX_MEMORY=32MiB"}, "serve", "--listen", "127.0.0.1:0",
		"--scripts", "testdata/serve", "--data", filepath.Join(t.TempDir(), "orbit.db"), "--plugins", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errOut)
	}
	for _, want := range []string{
		`module: "fraud.wasm" cannot be read`,
		`memory_limit: "64MiB" is over the ceiling of 32MiB set by --plugin-max-memory`,
	} {
		found := false
		for _, line := range strings.Split(errOut, "\n") {
			if strings.Contains(line, want) {
				found = true
				if !strings.Contains(line, "--plugins "+dir+": ") {
					t.Errorf("line %q does not name --plugins %s", line, dir)
				}
			}
		}
		if !found {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	_, errOut, code = runOrbit(t, nil, "serve", "--plugin-max-memory", "8GiB")
	if code != 2 || !strings.Contains(errOut, "--plugin-max-memory 8GiB is over the 4GiB") {
		t.Fatalf("--plugin-max-memory 8GiB: exit %d, stderr %q", code, errOut)
	}
}

// TestServeWithAHookOfAnAbsentWorkflow serves scripts of the user's own
// beside the example plugins, whose audit hook names place_order: the
// sidecar starts, its log and GET /v1/plugins say the hook waits, and a
// reload that brings place_order applies it (issue: orbit serve --scripts
// mywf refused to start).
func TestServeWithAHookOfAnAbsentWorkflow(t *testing.T) {
	b, err := pluginstest.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Remove)
	scripts := t.TempDir()
	orbittest.WriteFile(t, filepath.Join(scripts, "mine.lua"), `workflow "mine" { start = "Done", states = { Done = succeed {} } }`+"\n")
	s := serve(t, noFlaky, filepath.Join(t.TempDir(), "orbit.db"),
		"--scripts", scripts, "--plugins", b.Examples(t, "http://127.0.0.1:9"))

	waits := false
	for _, line := range s.proc.Tail() {
		waits = waits || strings.Contains(line, `--plugins: `) && strings.Contains(line, `hook of workflow \"place_order\" waits`)
	}
	if !waits {
		t.Errorf("the log does not say the hook waits:\n%s", strings.Join(s.proc.Tail(), "\n"))
	}
	auditActive := func(a answer) (bool, bool) {
		var body struct {
			Plugins []struct {
				Name  string
				Hooks []struct {
					Workflow string
					Active   bool
				}
			}
		}
		if err := json.Unmarshal(a.body, &body); err != nil {
			t.Fatal(err)
		}
		for _, p := range body.Plugins {
			if p.Name == "audit" && len(p.Hooks) == 1 && p.Hooks[0].Workflow == "place_order" {
				return p.Hooks[0].Active, true
			}
		}
		return false, false
	}
	if active, found := auditActive(s.do("GET", "/v1/plugins", "").must(t, 200)); !found || active {
		t.Fatalf("GET /v1/plugins: audit's hook found %v, active %v", found, active)
	}

	orbittest.WriteFile(t, filepath.Join(scripts, "order.lua"),
		`workflow "place_order" { start = "Save", states = { Save = pass { value = "saved" } } }`+"\n")
	orbittest.Until(t, 2*orbittest.Timeout, "the hook applied after the reload", func() (answer, error) {
		return s.do("GET", "/v1/plugins", ""), nil
	}, func(a answer) bool { active, _ := auditActive(a); return active })
	s.start("place_order", "?wait=10s", `{}`).must(t, 200)
}
