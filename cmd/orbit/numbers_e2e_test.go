package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
)

// numbersScripts pass an order through an HTTP routine and a plugin, and
// one of its numbers through Lua.
const numbersScripts = `
routine "echo.http"  { http = { method = "POST", url = "${ECHO_URL}/echo" } }
routine "echo.guest" { wasm = { plugin = "guest", func = "echo" } }
routine "lua.id"     { lua = function(input, ctx) return input end }

workflow "numbers" {
  start = "Http",
  states = {
    Http   = task { routine = "echo.http", input = "$.order", result = "$.http", next = "Plugin" },
    Plugin = task { routine = "echo.guest", input = "$.http", result = "$.plugin", next = "Lua" },
    Lua    = task { routine = "lua.id", input = "$.plugin.entity_id", result = "$.lua" },
  },
}
`

// TestNumbersPassAlongExactly starts an instance of the real binary with
// an id past 2^53 and checks that it reaches an HTTP service, a plugin,
// the output and the history exactly as sent, and that only Lua, whose
// numbers are doubles, rounds it (issue: 9007199254740993 became
// 9007199254740992 from the first task on).
func TestNumbersPassAlongExactly(t *testing.T) {
	const order = `{"entity_id":9007199254740993,"price":1.10,"qty":3}`
	b, err := pluginstest.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Remove)
	plugins := t.TempDir()
	pluginstest.AddPlugin(t, plugins, map[string]any{"name": "guest"}, b.Module("guest"))
	scripts := t.TempDir()
	if err := os.WriteFile(filepath.Join(scripts, "numbers.lua"), []byte(numbersScripts), 0o644); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var received []string
	echo := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})

	// The later --scripts is the one serve reads.
	s := serve(t, []string{"ORBIT_SCRIPT_ENV=ECHO_URL", "ECHO_URL=" + echo},
		filepath.Join(t.TempDir(), "orbit.db"), "--scripts", scripts, "--plugins", plugins)
	a := s.start("numbers", "?wait=30s", `{"order": `+order+`}`).must(t, 200)
	if a.str("status") != "SUCCEEDED" {
		t.Fatalf("instance %s", a)
	}
	mu.Lock()
	if len(received) != 1 || received[0] != order {
		t.Errorf("the HTTP service received %q, want %s", received, order)
	}
	mu.Unlock()

	var inst struct{ Output map[string]json.RawMessage }
	if err := json.Unmarshal(a.body, &inst); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"order", "http", "plugin"} {
		if got := string(inst.Output[k]); got != order {
			t.Errorf("output.%s = %s, want %s", k, got, order)
		}
	}
	if got := string(inst.Output["lua"]); got != "9007199254740992" {
		t.Errorf("output.lua = %s, want the id rounded to a double, as the docs say", got)
	}

	h := s.do("GET", "/v1/instances/"+a.str("id")+"/history", "").must(t, 200)
	var hist struct {
		Events []struct {
			Type   string
			State  string
			Input  json.RawMessage
			Output json.RawMessage
		}
	}
	if err := json.Unmarshal(h.body, &hist); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, ev := range hist.Events {
		switch {
		case ev.Type == "ExecutionStarted":
			seen["started"] = string(ev.Input)
		case ev.Type == "TaskScheduled" && ev.State == "Plugin":
			seen["plugin's input"] = string(ev.Input)
		case ev.Type == "TaskSucceeded" && ev.State == "Plugin":
			seen["plugin's output"] = string(ev.Output)
		}
	}
	for what, got := range seen {
		if !strings.Contains(got, order) {
			t.Errorf("history: %s is %s, want %s in it", what, got, order)
		}
	}
	if len(seen) != 3 {
		t.Errorf("history lacks events: found %v in %s", seen, h.body)
	}
}
