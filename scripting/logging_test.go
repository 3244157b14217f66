package scripting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

const loggingBundle = `
routine "flood" { lua = function()
  local line = string.rep("x", 1000)
  for i = 1, 10000 do log.info(line, "i", i) end
end }
routine "long" { lua = function() log.warn(string.rep("y", 2^20)) end }
routine "print" { lua = function()
  local s = string.rep("z", 2^20)
  print(s, s, s, s)
end }
routine "attr" { lua = function()
  local t = {}
  for i = 1, 10000 do t[i] = i end
  log.info("numbers", "list", t, "after", "kept")
end }
routine "note" { lua = function(input) log.info("noted", "amount", input.amount) end }
`

// A Lua call wrote 32 MiB of log per 100 ms. Now a call logs at most
// maxCallLog, each line at most maxLogLine, and says what it left out.
func TestScriptLoggingIsBoundedPerCall(t *testing.T) {
	var logs strings.Builder
	b, err := LoadSources([]flow.Source{{Path: "l.lua", Body: []byte(loggingBundle)}},
		Options{Logger: newTextLogger(&logs), LuaTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string) string {
		t.Helper()
		logs.Reset()
		if _, err := b.Routines[name].Call(context.Background(), nil, &flow.Context{Instance: "i-1", State: "S", ItemIndex: -1}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return logs.String()
	}

	for range 2 { // each call has a budget of its own
		out := call("flood")
		if n := strings.Count(out, "level=INFO"); n != 64 {
			t.Errorf("flood logged %d lines, want the 64 that fit in %d bytes", n, maxCallLog)
		}
		if len(out) > maxCallLog+16<<10 {
			t.Errorf("flood logged %d bytes", len(out))
		}
		if !strings.Contains(out, `level=WARN msg="a Lua call logged more than its limit; the rest of its lines were dropped" instance=i-1 workflow="" version="" state=S dropped_lines=9936 limit="64 KiB"`) {
			t.Errorf("no marker for the dropped lines:\n%s", tail(out))
		}
	}

	out := call("long")
	if !strings.Contains(out, `msg="`+strings.Repeat("y", maxLogLine)+`… [truncated: 1048576 bytes in all]"`) {
		t.Errorf("a long line is not cut with a marker:\n%.300s", out)
	}
	out = call("print")
	if !strings.Contains(out, `msg="`+strings.Repeat("z", maxLogLine)+`… [truncated: 4194307 bytes in all]"`) {
		t.Errorf("print of long strings is not cut with a marker:\n%.100s...%s", out, tail(out))
	}
	out = call("attr")
	if !strings.Contains(out, `msg=numbers`) || !strings.Contains(out, `list="[not logged: larger than the rest of the line]" after=kept`) {
		t.Errorf("a value too large for the line is not replaced by a marker:\n%.300s", out)
	}
}

func tail(s string) string { return s[max(0, len(s)-500):] }

// A line a script logs names the instance it ran for: id, workflow,
// version, state and the trace id of its traceparent.
func TestScriptLogNamesItsInstance(t *testing.T) {
	var logs strings.Builder
	b, err := LoadSources([]flow.Source{{Path: "l.lua", Body: []byte(loggingBundle)}}, Options{Logger: newTextLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	c := &flow.Context{Instance: "i-1", Workflow: "order", Version: "v2", State: "Charge", ItemIndex: -1,
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	if _, err := b.Routines["note"].Call(context.Background(), map[string]any{"amount": 5.0}, c); err != nil {
		t.Fatal(err)
	}
	want := `msg=noted instance=i-1 workflow=order version=v2 state=Charge trace_id=0af7651916cd43dd8448eb211c80319c source=l.lua:16 amount=5`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log line %q, want it to hold %q", logs.String(), want)
	}
}
