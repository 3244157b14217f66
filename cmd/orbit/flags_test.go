package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Scripts read only the variables --script-env (or ORBIT_SCRIPT_ENV)
// exposes, in every command that loads them.
func TestScriptEnvFlag(t *testing.T) {
	dir := t.TempDir()
	src := `routine "r" { http = { url = "${ORBIT_FLAG_TEST_BASE}/x" } }`
	if err := os.WriteFile(filepath.Join(dir, "r.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ORBIT_FLAG_TEST_BASE", "http://127.0.0.1:1")
	t.Setenv("ORBIT_SCRIPT_ENV", "")
	for _, c := range []struct {
		env  string // ORBIT_SCRIPT_ENV
		args []string
		code int
		out  string
	}{
		{"", nil, 1, "r.lua:1: routine \"r\", http: url: environment variable ORBIT_FLAG_TEST_BASE is not exposed to scripts (add it to --script-env)"},
		{"", []string{"--script-env", "ORBIT_FLAG_TEST_*"}, 0, "ok: 0 workflows"},
		{"ORBIT_FLAG_TEST_BASE", nil, 0, "ok: 0 workflows"},
		{"ORBIT_FLAG_TEST_BASE", []string{"--script-env", "OTHER"}, 1, "is not exposed to scripts"},
		{"", []string{"--script-env", "NOT-A-NAME"}, 2, ""},
		{"NOT-A-NAME", nil, 2, ""},
	} {
		t.Setenv("ORBIT_SCRIPT_ENV", c.env)
		var stdout, stderr bytes.Buffer
		code := cmdValidate(append(c.args, dir), &stdout, &stderr)
		if code != c.code || !strings.Contains(stdout.String(), c.out) {
			t.Errorf("ORBIT_SCRIPT_ENV=%q validate %v: exit %d, stdout %q, stderr %q", c.env, c.args, code, stdout.String(), stderr.String())
		}
		if code == 2 && !strings.Contains(stderr.String(), "neither a variable name nor a PREFIX* pattern") {
			t.Errorf("a bad list is not explained: %q", stderr.String())
		}
	}
}
