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

// --log-format and --log-level (or ORBIT_LOG_FORMAT and ORBIT_LOG_LEVEL)
// choose the lines' shape and the least severe level logged; a wrong value
// is refused, naming the choices.
func TestLogFlags(t *testing.T) {
	for _, c := range []struct {
		args, env  []string
		info, json bool // an info line is logged; lines are JSON
	}{
		{nil, nil, true, false},
		{[]string{"--log-format", "json"}, nil, true, true},
		{[]string{"--log-level", "warn"}, nil, false, false},
		{nil, []string{"ORBIT_LOG_FORMAT=JSON", "ORBIT_LOG_LEVEL=error"}, false, true},
		{[]string{"--log-level", "error", "-v"}, nil, true, false},
	} {
		for _, kv := range c.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		fs := newFlags("serve", "", &bytes.Buffer{})
		lf := addLogFlags(fs)
		if _, _, ok := parse(fs, c.args); !ok {
			t.Fatalf("%v: refused", c.args)
		}
		if err := fromEnv(fs); err != nil {
			t.Fatalf("%v %v: %v", c.args, c.env, err)
		}
		var out bytes.Buffer
		log := lf.logger(&out)
		log.Info("hello", "instance", "i-1")
		log.Error("broken")
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if got := strings.Contains(out.String(), "hello"); got != c.info {
			t.Errorf("%v %v: info logged %v, want %v: %q", c.args, c.env, got, c.info, out.String())
		}
		if got := strings.HasPrefix(lines[0], "{"); got != c.json {
			t.Errorf("%v %v: JSON %v, want %v: %q", c.args, c.env, got, c.json, out.String())
		}
		for _, kv := range c.env {
			k, _, _ := strings.Cut(kv, "=")
			os.Unsetenv(k)
		}
	}
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}} {
		var stderr bytes.Buffer
		fs := newFlags("serve", "", &stderr)
		addLogFlags(fs)
		if _, code, ok := parse(fs, args); ok || code != 2 || !strings.Contains(stderr.String(), "use ") {
			t.Errorf("%v: accepted (exit %d): %q", args, code, stderr.String())
		}
	}
}
