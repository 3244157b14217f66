package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
