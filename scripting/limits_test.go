package scripting

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// loadRoutine loads one file defining routine "r" with body as its Lua
// function's body.
func loadRoutine(t *testing.T, opt Options, body string) flow.Routine {
	t.Helper()
	b, err := LoadSources([]flow.Source{{Path: "r.lua", Body: []byte("routine \"r\" { lua = function(input, ctx)\n" + body + "\nend }")}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b.Routines["r"]
}

// Each of these asks for more memory than the machine has, or than the
// limits allow, in one library call or one `..`: the size must be refused
// before anything is allocated, or the test process dies.
func TestMemoryBombsFailBeforeAllocating(t *testing.T) {
	const bigString = `local s = string.rep("x", 16 * 2^20)` // the longest allowed
	for _, c := range []struct{ name, body, want string }{
		{"table.concat of 1 TiB", bigString + `
local t = {}
for i = 1, 2^16 do t[i] = s end
return table.concat(t)`, "r.lua:5: table.concat: the result would be longer than 16 MiB"},
		{"one chain of .. over the limit", `local s = string.rep("x", 2^20)
return s..s..s..s..s..s..s..s..s..s..s..s..s..s..s..s..s`, "r.lua:3: ..: the result would be longer than 16 MiB"},
		{".. doubling", `local s = "x"
for i = 1, 64 do s = s .. s end`, "r.lua:3: ..: the result would be longer than 16 MiB"},
		{"string.rep of 1 TiB", `return string.rep(string.rep("x", 2^20), 2^20)`, "string.rep: the result would be longer than 16 MiB"},
		{"string.format width", `return string.format("%999999999d", 1)`, "invalid format (width or precision too long)"},
		{"string.format of many strings", bigString + `
local t = {}
for i = 1, 200 do t[i] = s end
return string.format(string.rep("%s", 200), unpack(t))`, "string.format: the result would be longer than 16 MiB"},
		{"string.format with a * width", `return string.format("%*d", 2^30, 1)`, "invalid option '%*' to 'format'"},
		{"string.gsub replacement growth", `local nine = string.rep("y", 9 * 2^20)
return string.gsub("xx", "x", { x = nine })`, "string.gsub: the result would be longer than 16 MiB"},
		{"json.encode of shared big strings", `local s = string.rep("x", 2^23)
return json.encode({ s, s, s })`, "json.encode: more than 16 MiB as JSON"},
		{"json.decode of a million values", `return json.decode("[" .. string.rep("0,", 2^20) .. "0]")`, "json.decode: the text holds more than 1048576 values"},
		{"string.byte of a whole string", `return string.byte(string.rep("x", 2^20), 1, -1)`, "string.byte: string slice too long"},
		{"unpack of 1e8 values", `return unpack({}, 1, 1e8)`, "too many results to unpack"},
		{"many strings in one call", `local s = string.rep("x", 2^24 - 16)
local t = {}
for i = 1, 20 do t[i] = s .. i end`, "r.lua:4: ..: this call has created more than 128 MiB of strings and tables"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := loadRoutine(t, Options{LuaTimeout: time.Minute}, c.body)
			_, err := r.Call(context.Background(), nil, nil)
			wantError(t, err, flow.ErrTaskFailed, c.want)
		})
	}
}

// An integer key far beyond a table's end must not fill the gap: gopher-lua
// appended 60 million nils in one instruction.
func TestSparseKeysStayInTheHashPart(t *testing.T) {
	r := loadRoutine(t, Options{}, `local t = {}
t[60000000] = true
return { n = #t, far = t[60000000] }`)
	out, err := r.Call(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := out.(map[string]any); m["n"] != 0.0 || m["far"] != true {
		t.Errorf("sparse table: %v", m)
	}
}

// Work that one library call does cannot be stopped between VM
// instructions: these would run for hours (or, for the table graph, ever)
// if nothing inside them checked the deadline or their size.
func TestLongLibraryCallsAreBounded(t *testing.T) {
	const timeout = 50 * time.Millisecond
	for _, c := range []struct {
		name, body string
		limit      time.Duration
		errName    string
		want       string
	}{
		{"pattern backtracking", `return string.find(string.rep("a", 5000), string.rep("a*", 8) .. "b")`,
			timeout, flow.ErrRuntime, "lua call exceeded 50ms"},
		{"gsub backtracking", `return string.gsub(string.rep("a", 5000), string.rep("a*", 8) .. "b", "")`,
			timeout, flow.ErrRuntime, "lua call exceeded 50ms"},
		{"gmatch backtracking", `for m in string.gmatch(string.rep("a", 5000), string.rep("a*", 8) .. "b") do end`,
			timeout, flow.ErrRuntime, "lua call exceeded 50ms"},
		// Time enough to meet the size limit rather than the deadline.
		{"json.encode of shared sub-tables", `local t = { string.rep("x", 2^20) }
for i = 1, 60 do t = { t, t } end
return json.encode(t)`, time.Minute, flow.ErrTaskFailed, "r.lua:4: json.encode: more than 16 MiB as JSON"},
		{"a result of shared sub-tables", `local t = {}
for i = 1, 60 do t = { t, t } end
return t`, time.Minute, flow.ErrTaskFailed, "r.lua:1: the function returned more than 1048576 values"},
		// An error's cause is cut to 32 KiB: a larger table is not
		// converted whole to say so.
		{"a large error object", `local t = { string.rep("x", 2^16) }
for i = 1, 30 do t = { t, t } end
error(t)`, time.Minute, flow.ErrTaskFailed, "r.lua:4: table: 0x"},
		{"a pattern too deep for the stack", `return string.find(string.rep("x", 1000), string.rep("x?", 1000))`,
			timeout, flow.ErrTaskFailed, "r.lua:2: pattern too complex"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := loadRoutine(t, Options{LuaTimeout: c.limit}, c.body)
			_, err := r.Call(context.Background(), nil, nil)
			wantError(t, err, c.errName, c.want)
		})
	}
}

// Loading runs top-level code under a deadline too; a pattern there took
// 6.4 s to load.
func TestLoadTimePatternIsBounded(t *testing.T) {
	src := "local x = 1\nstring.find(string.rep('a', 5000), string.rep('a*', 8) .. 'b')"
	b, err := LoadSources([]flow.Source{{Path: "slow.lua", Body: []byte(src)}}, Options{LuaTimeout: 10 * time.Millisecond})
	assertProblem(t, b, err, "slow.lua:2: the script ran longer than 100ms at load time (an endless loop?)")
}

// Cancelling an instance cancels its task's context, which must stop a
// Lua call even inside a library function.
func TestCancelStopsALibraryCall(t *testing.T) {
	r := loadRoutine(t, Options{LuaTimeout: time.Hour},
		`return string.find(string.rep("a", 5000), string.rep("a*", 8) .. "b")`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := r.Call(ctx, nil, nil)
	wantError(t, err, flow.ErrCancelled, "cancelled while Lua was running")
}

// The VM checks the deadline between instructions only; the library's own
// loops must check it too. Here the deadline has passed before a library
// function is called straight from Go, where no instruction runs: each
// must notice within its loop.
func TestLibraryLoopsCheckTheDeadline(t *testing.T) {
	pool := loadRoutine(t, Options{}, "return 1").(luaRoutine).pool
	long := lua.LString(strings.Repeat("a", 5000))
	for _, c := range []struct {
		name string
		fn   func(v *vm) lua.LValue
		args func(v *vm) []lua.LValue
	}{
		{"string.find", libFunc("string", "find"), strArgs(long, lua.LString(strings.Repeat("a*", 8)+"b"))},
		{"string.match", libFunc("string", "match"), strArgs(long, lua.LString(strings.Repeat("a*", 8)+"b"))},
		{"string.gsub", libFunc("string", "gsub"), strArgs(long, lua.LString("a"), lua.LString("b"))},
		{"table.sort", libFunc("table", "sort"), func(v *vm) []lua.LValue { return []lua.LValue{numbers(v, 5000)} }},
		{"table.concat", libFunc("table", "concat"), func(v *vm) []lua.LValue { return []lua.LValue{numbers(v, 5000)} }},
		{"json.encode", libFunc("json", "encode"), func(v *vm) []lua.LValue { return []lua.LValue{numbers(v, 5000)} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := pool.get(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.put(v)
			v.broken = true // its deadline fires for good
			v.dl.fire(expired)
			err = v.L.CallByParam(lua.P{Fn: c.fn(v), NRet: 1, Protect: true}, c.args(v)...)
			if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
				t.Errorf("%s after the deadline: %v", c.name, err)
			}
		})
	}
}

func libFunc(lib, name string) func(v *vm) lua.LValue {
	return func(v *vm) lua.LValue {
		return v.L.GetField(v.L.GetGlobal(lib), name)
	}
}

func strArgs(args ...lua.LValue) func(v *vm) []lua.LValue {
	return func(*vm) []lua.LValue { return args }
}

// numbers is {n, n-1, ..., 1}.
func numbers(v *vm, n int) *lua.LTable {
	t := v.L.CreateTable(n, 0)
	for i := range n {
		t.RawSetInt(i+1, lua.LNumber(n-i))
	}
	return t
}

// A call that ran past its deadline is discarded, whatever it returns: a
// script can catch the deadline's error with pcall and still return.
func TestOverrunCallIsDiscarded(t *testing.T) {
	for _, body := range []string{
		`local function loop() while true do end end
return xpcall(loop, loop)`,
		`return pcall(function() while true do end end)`,
	} {
		r := loadRoutine(t, Options{LuaTimeout: 20 * time.Millisecond}, body)
		out, err := r.Call(context.Background(), nil, nil)
		if err == nil {
			t.Errorf("%s: returned %v after its deadline", body, out)
			continue
		}
		wantError(t, err, flow.ErrRuntime, "lua call exceeded 20ms")
	}
}

// Orbit's pattern matcher and string functions pass the Lua 5.1 test
// suite's pattern and string tests.
func TestLua51StringSuite(t *testing.T) {
	for _, name := range []string{"pm.lua", "strings.lua"} {
		body, err := os.ReadFile(filepath.Join("testdata", "lua51", name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = LoadSources([]flow.Source{{Path: name, Body: body}}, Options{LuaTimeout: time.Second, Logger: quietLogger})
		var ps flow.Problems
		if errors.As(err, &ps) || err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// What a call leaves in a table that top-level code keeps is not reset
// (docs/scripts.md, "Isolation"), so a script could grow the process by a
// little on every call, without end: each call stayed within its limits
// while the pooled interpreter kept everything. An interpreter is retired
// once its calls together have created as much as one call may (here 4 MiB
// of strings a call, so after 32 calls), or run as long.
func TestInterpretersThatHoardAreRetired(t *testing.T) {
	src := "local hoard = {}\nroutine \"r\" { lua = function()\nhoard[#hoard + 1] = string.rep(\"x\", 2^22)\nreturn #hoard end }"
	b, err := LoadSources([]flow.Source{{Path: "hoard.lua", Body: []byte(src)}}, Options{LuaTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Routines["r"]
	most, resets := 0.0, 0
	for i := range 48 {
		out, err := r.Call(context.Background(), nil, nil)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		n := out.(float64)
		if n < most {
			resets++
		}
		most = max(most, n)
	}
	if resets == 0 || most > maxCallAlloc>>22 {
		t.Fatalf("after 48 calls the hoard held up to %v × 4 MiB and was reset %d times", most, resets)
	}

	// The time a state's calls take adds up the same way: building tables
	// of numbers is charged nothing, but takes time.
	pool := r.(luaRoutine).pool
	v, err := pool.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	v.spentTime = pool.cfg.timeout
	pool.put(v)
	if again, err := pool.get(nil); err != nil || again == v {
		t.Fatalf("a state that ran as long as one call may was kept (%v)", err)
	} else {
		pool.put(again)
	}
}
