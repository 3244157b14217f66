// Package scripting loads a directory of Lua scripts (SPEC section 1) into a
// *flow.Bundle: routines, workflows, extensions and observers written with
// the DSL globals routine, workflow, task, choice, ..., observe and extend.
//
// # Execution
//
// A Lua function belongs to one *lua.LState, and an LState is not safe for
// concurrent use. Each bundle therefore owns a pool of prepared states: every
// state of the pool has run all bundle files in the same order, so the N-th
// Lua function the DSL registered (an input, output, when, routine, ...) has
// the same index in every state. The flow.Expr, flow.Cond and flow.Routine
// values built from Lua functions hold only (pool, index); a call borrows a
// state, runs function #index under the Lua deadline (Options.LuaTimeout)
// and gives the state back. A state whose call hit the deadline is dropped,
// not reused. States are created lazily, never per call. Scripts must not
// keep anything in globals between calls: two calls may run in two states.
//
// A fail state's error and cause are literal strings unless they start
// with "$", which makes them paths; functions of (data, ctx) work too.
//
// # JSON bridge
//
// Data crosses between Go (nil, bool, float64, string, []any, map[string]any)
// and Lua as follows. A Lua table whose keys are exactly 1..n is an array; any
// other non-empty table is an object (number keys become strings). An empty
// table is an object {} unless it came from a JSON array or was marked with
// json.array(t), which keeps [] round trips exact. JSON null inside an array
// becomes json.null (Lua tables cannot hold nil, and positions must survive);
// inside an object a null member is dropped, so `data.x == nil` holds. Lua
// functions, coroutines and userdata other than json.null are not JSON and
// fail the conversion.
//
// # Sandbox
//
// Scripts get Lua's base library without dofile, loadfile, load, loadstring,
// module, getfenv, setfenv, collectgarbage and _printregs; string, table
// and math; json.encode/decode/null/array; log.info/warn/error and print
// (routed to the logger); env(name). There is no os, io, debug, coroutine
// or channel. require("lib.util") (or "lib/util") reaches only files of the
// bundle: every file runs once per state, in lexical order or earlier when
// required, and require returns what the file returned.
//
// # Limits
//
// Nothing a script does may take the process down (limits.go): every
// library function that can allocate in proportion to its arguments checks
// the size first, `..` is compiled into a call of a checked function
// (concat.go), the pattern functions run Orbit's own matcher, which checks
// the deadline while it backtracks (pattern.go), and at most one call per
// core runs at once. A call stopped by its deadline is discarded whatever
// it returned.
//
// # Isolation
//
// Once the bundle's top-level code has run in a state, seal freezes the
// globals table and the libraries: each is left empty, reading through its
// metatable from a hidden table, so that every write reaches a metamethod.
// A call's globals go to an overlay dropped when the state is put back;
// writes to the libraries are errors. Tables that top-level code keeps in
// locals are not frozen: they are the bundle's to keep constant.
package scripting
