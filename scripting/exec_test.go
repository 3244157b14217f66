package scripting

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func routineOf(t *testing.T, b *flow.Bundle, name string) flow.Routine {
	t.Helper()
	r := b.Routines[name]
	if r == nil {
		t.Fatalf("routine %q missing", name)
	}
	return r
}

func wantError(t *testing.T, err error, name, causePart string) {
	t.Helper()
	var fe *flow.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *flow.Error", err, err)
	}
	if fe.Name != name || !strings.Contains(fe.Cause, causePart) {
		t.Errorf("error %s: %q, want %s containing %q", fe.Name, fe.Cause, name, causePart)
	}
}

func TestLuaRoutines(t *testing.T) {
	b := loadGood(t, Options{})
	ctx := context.Background()
	c := &flow.Context{State: "Authorize", ItemIndex: -1}
	out, err := routineOf(t, b, "tax.compute").Call(ctx, map[string]any{"amount": 100.0}, c)
	if err != nil || !reflect.DeepEqual(out, map[string]any{"tax": 20.0, "state": "Authorize"}) {
		t.Errorf("tax.compute: %#v, %v", out, err)
	}
	_, err = routineOf(t, b, "fail.named").Call(ctx, nil, c)
	if fe, ok := err.(*flow.Error); !ok || *fe != (flow.Error{Name: "Payment.Declined", Cause: "card declined"}) {
		t.Errorf("named error: %#v", err)
	}
	_, err = routineOf(t, b, "fail.plain").Call(ctx, nil, c)
	wantError(t, err, flow.ErrTaskFailed, "routines.lua:17: boom")
}

func TestExpressionsPathAndFunction(t *testing.T) {
	b := loadGood(t, Options{})
	w := b.Workflows["place_order"]
	data := map[string]any{"payment": map[string]any{"tax": 12.0}, "express": true,
		"order": map[string]any{"id": "o1", "lines": []any{1.0, 2.0}}}
	c := &flow.Context{ItemIndex: 3}

	ok, err := w.States["Route"].Rules[0].When.Test(data, c)
	if err != nil || !ok {
		t.Errorf("function when: %v, %v", ok, err)
	}
	data["payment"] = map[string]any{"tax": 1.0}
	if ok, _ := w.States["Route"].Rules[0].When.Test(data, c); ok {
		t.Error("function when should be false for tax 1")
	}
	if ok, err := w.States["Route"].Rules[1].When.Test(data, c); err != nil || !ok {
		t.Errorf("path when: %v, %v", ok, err)
	}
	if v, err := w.States["Authorize"].Input.Eval(data, c); err != nil || v.(map[string]any)["id"] != "o1" {
		t.Errorf("path input: %v, %v", v, err)
	}
	if v, err := w.States["Each"].Iterator.States["Line"].Output.Eval(data, c); err != nil || v != 3.0 {
		t.Errorf("function output with ctx.item_index: %v, %v", v, err)
	}
	if v, err := w.States["Until"].Until.Eval(nil, c); err != nil || v != "2030-01-01T00:00:00Z" {
		t.Errorf("function until: %v, %v", v, err)
	}
}

const exprBundle = `
workflow "w" {
  start = "A",
  states = {
    A = pass {
      input = function(data, ctx)
        return data.missing.field
      end,
      output = function(data, ctx)
        error({ error = "Custom", cause = "no" })
      end,
      next = "B",
    },
    B = choice {
      { when = function(data, ctx) while true do end end, next = "C" },
      default = "C",
    },
    C = succeed {
      output = function(data, ctx) return data.n + 1 end,
    },
  },
}
`

func TestExpressionErrorsAreRuntimeWithPosition(t *testing.T) {
	b, err := LoadSources([]flow.Source{{Path: "x/expr.lua", Body: []byte(exprBundle)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := b.Workflows["w"].States
	_, err = st["A"].Input.Eval(map[string]any{}, nil)
	wantError(t, err, flow.ErrRuntime, "x/expr.lua:7: attempt to index a non-table object(nil) with key 'field'")
	_, err = st["A"].Output.Eval(map[string]any{}, nil)
	wantError(t, err, flow.ErrRuntime, `x/expr.lua:10: {"cause":"no","error":"Custom"}`)
}

func TestDeadlineStopsRunawayCallsAndPoolRecovers(t *testing.T) {
	// Long enough that a loaded machine does not stop the calls that must
	// succeed; short enough that the runaway ones end quickly.
	opt := Options{LuaTimeout: 200 * time.Millisecond}
	b := loadGood(t, opt)
	_, err := routineOf(t, b, "spin").Call(context.Background(), nil, nil)
	wantError(t, err, flow.ErrRuntime, "lua call exceeded 200ms (stopped at routines.lua:23)")
	out, err := routineOf(t, b, "echo").Call(context.Background(), "still here", nil)
	if err != nil || out != "still here" {
		t.Errorf("after a timeout: %v, %v", out, err)
	}

	eb, err := LoadSources([]flow.Source{{Path: "expr.lua", Body: []byte(exprBundle)}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	st := eb.Workflows["w"].States
	_, err = st["B"].Rules[0].When.Test(nil, nil)
	wantError(t, err, flow.ErrRuntime, "lua call exceeded 200ms (stopped at expr.lua:15)")
	for range 3 {
		if v, err := st["C"].Output.Eval(map[string]any{"n": 1.0}, nil); err != nil || v != 2.0 {
			t.Errorf("after a timeout: %v, %v", v, err)
		}
	}
}

func TestRoutineHonoursTheCallersContext(t *testing.T) {
	b := loadGood(t, Options{LuaTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := routineOf(t, b, "spin").Call(ctx, nil, nil)
	wantError(t, err, flow.ErrTimeout, "")
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = routineOf(t, b, "spin").Call(cctx, nil, nil)
	wantError(t, err, flow.ErrCancelled, "")
}

func TestSandbox(t *testing.T) {
	b := loadGood(t, Options{})
	names := []any{"os", "io", "debug", "load", "loadstring", "dofile", "loadfile", "module",
		"getfenv", "setfenv", "collectgarbage", "coroutine", "channel", "package", "newproxy"}
	out, err := routineOf(t, b, "probe").Call(context.Background(), map[string]any{"names": names}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, present := range out.(map[string]any) {
		if present != false {
			t.Errorf("%s is reachable", name)
		}
	}
	out, err = routineOf(t, b, "probe").Call(context.Background(),
		map[string]any{"names": []any{"string", "table", "math", "json", "log", "env", "pcall", "print"}}, nil)
	for name, present := range out.(map[string]any) {
		if present != true || err != nil {
			t.Errorf("%s is missing (%v)", name, err)
		}
	}
	_, err = routineOf(t, b, "run").Call(context.Background(), map[string]any{"fn": "loadstring", "arg": "return 1"}, nil)
	wantError(t, err, flow.ErrTaskFailed, "routines.lua:60: attempt to call a non-function object")

	for _, src := range []string{"os.exit(1)", "io.open('/etc/passwd')", "load('return 1')()", "require('os')", "require('../secret')", "debug.getinfo(1)", "dofile('/etc/passwd')", "string.rep('x', 1e9)"} {
		_, err := LoadSources([]flow.Source{{Path: "s.lua", Body: []byte(src)}}, Options{})
		var ps flow.Problems
		if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Pos.File != "s.lua" || ps[0].Pos.Line != 1 {
			t.Errorf("%s at load: %v", src, err)
		}
	}
}

func TestEnvAndLogging(t *testing.T) {
	t.Setenv("ORBIT_TEST_VALUE", "hello")
	src := `routine "r" { lua = function(input, ctx)
  log.info("called", "n", 1)
  print("printed", 2)
  return { v = env("ORBIT_TEST_VALUE"), missing = env("ORBIT_TEST_UNSET") }
end }`
	var buf strings.Builder
	b, err := LoadSources([]flow.Source{{Path: "e.lua", Body: []byte(src)}}, Options{Logger: newTextLogger(&buf), Env: exposeTest(t)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Routines["r"].Call(context.Background(), nil, &flow.Context{Instance: "i1", State: "S", ItemIndex: -1})
	if err != nil || !reflect.DeepEqual(out, map[string]any{"v": "hello"}) {
		t.Errorf("env: %#v, %v", out, err)
	}
	logs := buf.String()
	for _, want := range []string{`msg=called instance=i1 workflow="" version="" state=S source=e.lua:2 n=1`, `msg="printed\t2" instance=i1 workflow="" version="" state=S source=e.lua:3`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs %q lack %q", logs, want)
		}
	}
}

func TestCtxFieldsAndReadOnly(t *testing.T) {
	b := loadGood(t, Options{})
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &flow.Context{Instance: "i-1", Workflow: "place_order", Version: "v1", State: "S", Attempt: 2, Visit: 3,
		StartedAt: start, Now: start.Add(time.Second), IdempotencyKey: "i-1/S/3", ItemIndex: 0}
	out, err := routineOf(t, b, "ctx.dump").Call(context.Background(), nil, c)
	want := map[string]any{"instance": "i-1", "workflow": "place_order", "version": "v1", "state": "S",
		"attempt": 2.0, "visit": 3.0, "started_at": "2026-01-02T03:04:05.000Z", "now": "2026-01-02T03:04:06.000Z",
		"idempotency_key": "i-1/S/3", "item_index": 0.0}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Errorf("ctx: %#v, %v", out, err)
	}
	c.ItemIndex = -1
	out, _ = routineOf(t, b, "ctx.dump").Call(context.Background(), nil, c)
	if _, has := out.(map[string]any)["item_index"]; has {
		t.Error("item_index outside a map")
	}
	_, err = routineOf(t, b, "ctx.write").Call(context.Background(), nil, c)
	wantError(t, err, flow.ErrTaskFailed, "routines.lua:43: ctx is read-only (tried to set state)")
}

func TestHTTPRoutine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
	}))
	defer srv.Close()
	t.Setenv("ORBIT_TEST_URL", srv.URL)
	src := `routine "get" { http = { method = "GET", url = "${ORBIT_TEST_URL}/orders/{id}", timeout = "2s" } }`
	b, err := LoadSources([]flow.Source{{Path: "h.lua", Body: []byte(src)}}, Options{Env: exposeTest(t)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Routines["get"].Call(context.Background(), map[string]any{"id": "o1"}, &flow.Context{ItemIndex: -1})
	if err != nil || !reflect.DeepEqual(out, map[string]any{"path": "/orders/o1"}) {
		t.Errorf("http routine: %#v, %v", out, err)
	}

	src = "\nroutine \"get\" { http = { url = \"${ORBIT_TEST_UNSET_VAR}/x\" } }"
	b, err = LoadSources([]flow.Source{{Path: "h.lua", Body: []byte(src)}}, Options{Env: exposeTest(t)})
	assertProblem(t, b, err, `h.lua:2: routine "get", http: url: environment variable ORBIT_TEST_UNSET_VAR is not set`)
	src = "routine \"get\" { http = { url = \"http://x\", retries = 2 } }"
	b, err = LoadSources([]flow.Source{{Path: "h.lua", Body: []byte(src)}}, Options{})
	assertProblem(t, b, err, `h.lua:1: routine "get", http: unknown field "retries"`)

	// pipeline = true is read, written back by the unparser, and refused
	// where it cannot work, at load.
	src = `routine "get" { http = { method = "POST", url = "${ORBIT_TEST_URL}/orders", pipeline = true } }`
	if b, err = LoadSources([]flow.Source{{Path: "h.lua", Body: []byte(src)}}, Options{Env: exposeTest(t)}); err != nil {
		t.Fatal(err)
	}
	if s, ok := httpcall.SpecOf(b.Routines["get"]); !ok || !s.Pipeline {
		t.Errorf("pipeline = true read as %+v", s)
	}
	var back strings.Builder
	(&unparser{b: b}).routine(&back, "get")
	if !strings.Contains(back.String(), "pipeline = true") {
		t.Errorf("unparsed without its pipeline: %s", back.String())
	}
	src = "\n\nroutine \"get\" { http = { url = \"https://x.example/a\", pipeline = true } }"
	b, err = LoadSources([]flow.Source{{Path: "h.lua", Body: []byte(src)}}, Options{})
	assertProblem(t, b, err, `h.lua:3: routine "get", http: pipeline: works with http:// URLs only, not https://`)
}

const migrateBundle = `
local kept
workflow "w" {
  start = "A",
  concurrency = { key = function(input) return input.customer end, limit = 1 },
  migrate = function(from, state, data)
    data.from = from
    return state .. "2", data
  end,
  states = { A = pass {} },
}
extend("w", function(wf) kept = wf end)
routine "late" { lua = function(input)
  if input == "workflow" then workflow "x" { start = "A", states = {} } end
  if input == "extend" then kept:set("A", "next", "A") end
  return "no"
end }
`

func TestMigrateConcurrencyAndLateDefinitions(t *testing.T) {
	b, err := LoadSources([]flow.Source{{Path: "m.lua", Body: []byte(migrateBundle)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := b.Workflows["w"]
	state, data, err := w.Migrate("v0", "A", map[string]any{"n": 1.0})
	if err != nil || state != "A2" || !reflect.DeepEqual(data, map[string]any{"n": 1.0, "from": "v0"}) {
		t.Errorf("migrate: %q %#v %v", state, data, err)
	}
	if key, err := w.Concurrency.Key.Eval(map[string]any{"customer": "c1"}, nil); err != nil || key != "c1" {
		t.Errorf("concurrency key: %v, %v", key, err)
	}
	for _, input := range []string{"workflow", "extend"} {
		_, err = b.Routines["late"].Call(context.Background(), input, nil)
		wantError(t, err, flow.ErrTaskFailed, "can only be used at load time")
	}
	if len(b.Workflows) != 1 || w.States["A"].Next != "" {
		t.Error("a call at run time changed the bundle")
	}
}

func TestRunawayRecursionAndCleanStack(t *testing.T) {
	src := `local function f(n) return f(n + 1) + 1 end
routine "deep" { lua = function(input) return f(1) end }
routine "ok" { lua = function(input) return input end }`
	b, err := LoadSources([]flow.Source{{Path: "r.lua", Body: []byte(src)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Routines["deep"].Call(context.Background(), nil, nil)
	wantError(t, err, flow.ErrTaskFailed, "stack overflow")
	for range 3 {
		if out, err := b.Routines["ok"].Call(context.Background(), 1.0, nil); err != nil || out != 1.0 {
			t.Fatalf("after a stack overflow: %v, %v", out, err)
		}
	}
	p := b.Routines["ok"].(luaRoutine).pool
	v, err := p.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.put(v)
	if top := v.L.GetTop(); top != 0 {
		t.Errorf("%d values left on the Lua stack between calls", top)
	}
}

func TestRequireStaysInsideTheBundle(t *testing.T) {
	files := []flow.Source{
		{Path: "a.lua", Body: []byte(`local util = require("z.util")
routine "r" { lua = function() return { double = util.double(2), loads = loads, same = require("z/util") == util } end }`)},
		{Path: "z/util.lua", Body: []byte(`loads = (loads or 0) + 1
return { double = function(n) return n * 2 end }`)},
	}
	b, err := LoadSources(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Routines["r"].Call(context.Background(), nil, nil)
	if err != nil || !reflect.DeepEqual(out, map[string]any{"double": 4.0, "loads": 1.0, "same": true}) {
		t.Errorf("require: %#v, %v", out, err)
	}
	b, err = LoadSources([]flow.Source{{Path: "a.lua", Body: []byte("\nrequire('os')")}}, Options{})
	assertProblem(t, b, err, `a.lua:2: require "os": the scripts directory has no os.lua`)
	b, err = LoadSources([]flow.Source{{Path: "a.lua", Body: []byte("require('b')")}, {Path: "b.lua", Body: []byte("require('a')")}}, Options{})
	assertProblem(t, b, err, `b.lua:1: require "a": a.lua is still loading (a require cycle?) or failed to load`)
}
