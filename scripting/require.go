package scripting

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// modules lets files of a bundle require each other (SPEC 1.6 allows
// require inside the scripts directory only). Every file runs once per
// state: in lexical order, or earlier when another file requires it, and
// require returns what the file returned.
type modules struct {
	protos  map[string]*lua.FunctionProto // by path
	values  map[string]lua.LValue         // files that ran: their result
	started map[string]bool               // files that began running
	concat  *lua.LFunction                // every file's hidden `..` (concat.go)
}

func newModules(protos []*lua.FunctionProto, concat *lua.LFunction) *modules {
	m := &modules{protos: map[string]*lua.FunctionProto{}, values: map[string]lua.LValue{}, started: map[string]bool{},
		concat: concat}
	for _, p := range protos {
		m.protos[p.SourceName] = p
	}
	return m
}

// modulePath maps "lib.util", "lib/util" or "lib/util.lua" to the path of
// a file of the bundle.
func modulePath(name string) string {
	if strings.HasSuffix(name, ".lua") {
		return name
	}
	return strings.ReplaceAll(name, ".", "/") + ".lua"
}

// require is the Lua global.
func (m *modules) require(L *lua.LState) int {
	name := L.CheckString(1)
	path := modulePath(name)
	if v, ok := m.values[path]; ok {
		L.Push(v)
		return 1
	}
	proto, ok := m.protos[path]
	switch {
	case !ok:
		L.RaiseError("require %q: the scripts directory has no %s", name, path)
	case m.started[path]:
		L.RaiseError("require %q: %s is still loading (a require cycle?) or failed to load", name, path)
	}
	m.started[path] = true
	L.Push(L.NewFunctionFromProto(proto))
	L.Push(m.concat)
	L.Call(1, 1)
	v := L.Get(-1)
	if v == lua.LNil {
		v = lua.LTrue
	}
	m.values[path] = v
	return 1
}
