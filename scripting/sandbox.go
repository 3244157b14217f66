package scripting

import (
	lua "github.com/yuin/gopher-lua"
)

// removedBase are base functions a script must not reach: they load code
// from outside the bundle, change function environments or expose internals.
var removedBase = []string{"dofile", "loadfile", "load", "loadstring", "require", "module",
	"getfenv", "setfenv", "collectgarbage", "_printregs", "newproxy", "_GOPHER_LUA_VERSION"}

// sharedLibs are the library tables every call of a state reads; they are
// frozen once the bundle has run.
var sharedLibs = []string{"string", "table", "math", "json", "log"}

// newVM makes a sandboxed Lua state (SPEC 1.6) with the bundle's host
// functions. It has run no script yet.
func newVM(cfg *config) *vm {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 256, RegistrySize: 1024,
		RegistryMaxSize: registryMax, RegistryGrowStep: registryGrowStep})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range removedBase {
		L.SetGlobal(name, lua.LNil)
	}
	v := &vm{bridge: newBridge(L), cfg: cfg, dl: newDeadline()}
	v.bridge.dl = v.dl
	L.SetContext(v.dl)
	v.concatFn = L.NewFunction(v.concat)
	v.openLimits()
	v.openJSON()
	v.openLog()
	L.SetGlobal("env", L.NewFunction(func(L *lua.LState) int {
		if val, err := cfg.readEnv(L.CheckString(1)); err == nil {
			L.Push(lua.LString(val))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	v.ctxProxy = v.newCtxProxy()
	return v
}

// openLimits puts the checked library functions in place of gopher-lua's
// (stringlib.go, tablelib.go) and closes the ways a script could change
// what other calls see through values every call shares.
func (v *vm) openLimits() {
	L := v.L
	str := L.GetGlobal("string").(*lua.LTable)
	v.openStringLimits(str)
	v.openTableLimits(L.GetGlobal("table").(*lua.LTable))
	L.SetGlobal("unpack", L.NewFunction(v.unpack))

	// gopher-lua makes the string library its own metatable, so writing
	// to getmetatable("").__index changed every string of every later
	// call. Strings get a metatable of their own that scripts cannot reach.
	str.RawSetString("__index", lua.LNil)
	smt := L.NewTable()
	smt.RawSetString("__index", str)
	smt.RawSetString("__metatable", str)
	L.SetMetatable(lua.LString(""), smt)

	base := func(name string) lua.LGFunction { return L.GetGlobal(name).(*lua.LFunction).GFunction }
	setmt, rawset, rawget := base("setmetatable"), base("rawset"), base("rawget")
	// Lua 5.1 sets metatables of tables only; gopher-lua's would set the
	// one metatable all numbers, booleans or functions share.
	L.SetGlobal("setmetatable", L.NewFunction(func(L *lua.LState) int {
		L.CheckTable(1)
		return setmt(L)
	}))
	L.SetGlobal("rawset", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		if t == v.globals {
			v.setGlobal(L)
			L.SetTop(1)
			return 1
		}
		v.checkWritable("rawset", t)
		return rawset(L)
	}))
	L.SetGlobal("rawget", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		if f := v.frozen[t]; f != nil {
			L.Push(L.GetTable(t, L.CheckAny(2)))
			return 1
		}
		return rawget(L)
	}))
}

// frozenTable is a table every call of a state shares: a library, or the
// globals table. Its entries live in back; the table itself stays empty
// and reads reach back through its metatable, so any write — a new key or
// an old one — goes to __newindex.
type frozenTable struct {
	name string
	back *lua.LTable
	mt   *lua.LTable
}

// seal freezes what the bundle's top-level code built, once it has run:
// from now on no call can change the globals or the libraries for the
// calls after it. A call's own globals go to an overlay that put drops.
func (v *vm) seal() {
	L := v.L
	v.frozen = map[*lua.LTable]*frozenTable{}
	v.globals = L.G.Global
	g := v.freeze(v.globals, "the globals table", L.NewFunction(func(L *lua.LState) int {
		v.setGlobal(L)
		return 0
	}))
	v.globalsBase = g.back
	v.overlayMT = L.NewTable()
	v.overlayMT.RawSetString("__index", g.back)
	for _, name := range sharedLibs {
		if lib, ok := g.back.RawGetString(name).(*lua.LTable); ok && v.frozen[lib] == nil {
			v.freeze(lib, "the "+name+" library", L.NewFunction(func(L *lua.LState) int {
				L.RaiseError("%s cannot be changed during a call: every call of the workflow shares it (set %s at the top of a file instead)",
					name, L.Get(2).String())
				return 0
			}))
		}
	}
}

// freeze moves t's entries to a backing table and leaves t an empty view
// of it whose writes go to onWrite.
func (v *vm) freeze(t *lua.LTable, name string, onWrite *lua.LFunction) *frozenTable {
	L := v.L
	back := L.NewTable()
	var keys []lua.LValue
	t.ForEach(func(k, val lua.LValue) {
		back.RawSet(k, val)
		keys = append(keys, k)
	})
	for _, k := range keys {
		t.RawSet(k, lua.LNil)
	}
	back.Metatable = t.Metatable // a metatable top-level code set still applies
	mt := L.NewTable()
	mt.RawSetString("__index", back)
	mt.RawSetString("__newindex", onWrite)
	mt.RawSetString("__metatable", lua.LString("protected"))
	t.Metatable = mt
	f := &frozenTable{name: name, back: back, mt: mt}
	v.frozen[t] = f
	return f
}

// setGlobal is the globals table's __newindex during calls: the value goes
// to the call's overlay, which reads see first and put drops. (Setting a
// global of the bundle to nil therefore only hides it if the overlay can
// hold nil, which a Lua table cannot: the bundle's value stays visible.)
func (v *vm) setGlobal(L *lua.LState) {
	k := L.CheckAny(2)
	if k == lua.LNil {
		L.RaiseError("table index is nil")
	}
	if v.overlay == nil {
		v.overlay = L.NewTable()
		v.overlay.Metatable = v.overlayMT
		v.frozen[v.globals].mt.RawSetString("__index", v.overlay)
	}
	v.overlay.RawSet(k, L.Get(3))
}

// dropOverlay forgets the globals the last call set.
func (v *vm) dropOverlay() {
	if v.overlay != nil {
		v.frozen[v.globals].mt.RawSetString("__index", v.globalsBase)
		v.overlay = nil
	}
}

// checkWritable refuses a raw write into a table every call shares.
func (v *vm) checkWritable(what string, t *lua.LTable) {
	if f := v.frozen[t]; f != nil {
		v.L.RaiseError("%s: %s cannot be changed during a call, every call of the workflow shares it", what, f.name)
	}
	if t == v.ctxProxy {
		v.L.RaiseError("%s: ctx is read-only", what)
	}
}
