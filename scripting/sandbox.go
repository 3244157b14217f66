package scripting

import (
	"context"
	"log/slog"
	"os"

	lua "github.com/yuin/gopher-lua"
)

// removedBase are base functions a script must not reach: they load code
// from outside the bundle, change function environments or expose internals.
var removedBase = []string{"dofile", "loadfile", "load", "loadstring", "require", "module",
	"getfenv", "setfenv", "collectgarbage", "_printregs", "newproxy", "_GOPHER_LUA_VERSION"}

// maxRep bounds string.rep, one of the few library calls that can eat
// memory faster than the deadline can stop it.
const maxRep = 16 << 20

// newVM makes a sandboxed Lua state (SPEC 1.6) with the bundle's host
// functions. It has run no script yet.
func newVM(cfg *config) *vm {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: 256, RegistrySize: 1024, RegistryMaxSize: 1 << 20})
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
	L.SetContext(v.dl)
	v.limitRep()
	v.openJSON()
	v.openLog()
	L.SetGlobal("env", L.NewFunction(func(L *lua.LState) int {
		if val, ok := os.LookupEnv(L.CheckString(1)); ok {
			L.Push(lua.LString(val))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	v.ctxProxy = v.newCtxProxy()
	return v
}

func (v *vm) limitRep() {
	strlib, ok := v.L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	rep, ok := strlib.RawGetString("rep").(*lua.LFunction)
	if !ok {
		return
	}
	strlib.RawSetString("rep", v.L.NewFunction(func(L *lua.LState) int {
		if size, n := len(L.CheckString(1)), L.CheckInt(2); size > 0 && n > maxRep/size {
			L.RaiseError("string.rep: result longer than %d bytes", maxRep)
		}
		return rep.GFunction(L)
	}))
}

// openLog installs log.info/warn/error and print. Extra arguments are slog
// key/value pairs; the running instance and state are added when known.
func (v *vm) openLog() {
	L := v.L
	logAt := func(level slog.Level) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			v.log(level, L.ToStringMeta(L.Get(1)).String(), 2)
			return 0
		})
	}
	t := L.NewTable()
	t.RawSetString("info", logAt(slog.LevelInfo))
	t.RawSetString("warn", logAt(slog.LevelWarn))
	t.RawSetString("error", logAt(slog.LevelError))
	L.SetGlobal("log", t)
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		msg := ""
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				msg += "\t"
			}
			msg += L.ToStringMeta(L.Get(i)).String()
		}
		v.log(slog.LevelInfo, msg, L.GetTop()+1)
		return 0
	}))
}

func (v *vm) log(level slog.Level, msg string, firstAttr int) {
	if v.quiet {
		return
	}
	logger := v.cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	L := v.L
	args := []any{"source", trimWhere(L.Where(1))}
	if c := v.cur; c != nil {
		args = append(args, "instance", c.Instance, "state", c.State)
	}
	for i := firstAttr; i <= L.GetTop(); i++ {
		val, err := v.fromLua(L.Get(i))
		if err != nil {
			val = L.Get(i).String()
		}
		args = append(args, val)
	}
	logger.Log(context.Background(), level, msg, args...)
}
