package scripting

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Declarative choice conditions of the DSL:
//
//	when = all { gt("$.total", 100), any { eq("$.country", "DE"), eq("$.vip", true) } }
//
// Each builder returns the finished flow.Cond in a userdata, so a mistake
// (a bad path, a function among the members) is raised at the line that
// wrote it. Unlike a when function, such a condition can be drawn and
// converted to other formats.

var junctions = map[string]flow.Junction{"all": flow.All, "any": flow.Any, "none": flow.None}

// setCondBuilders installs all, any, none and the comparisons as globals.
func setCondBuilders(L *lua.LState, v *vm) {
	for name, j := range junctions {
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			members := condArgs(L)
			k := &flow.Connective{Junction: j, Conds: make([]flow.Cond, 0, len(members))}
			for i, m := range members {
				c := condOf(m)
				if c == nil {
					L.RaiseError("%s: member %d must be a condition (eq, ne, lt, lte, gt, gte, all, any, none), got %s", name, i+1, m.Type())
				}
				k.Conds = append(k.Conds, c)
			}
			if len(k.Conds) == 0 {
				L.RaiseError("%s needs at least one condition", name)
			}
			L.Push(condValue(L, k))
			return 1
		}))
	}
	for op := flow.Eq; op <= flow.Gte; op++ {
		name := op.String()
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			src := L.CheckString(1)
			p, err := flow.ParsePath(src)
			if err != nil {
				L.ArgError(1, err.Error())
			}
			if L.GetTop() < 2 {
				L.RaiseError("%s(path, value) needs a value to compare with", name)
			}
			val, err := v.fromLua(L.Get(2))
			if err != nil {
				L.ArgError(2, err.Error())
			}
			L.Push(condValue(L, &flow.Compare{Path: p, Op: op, Value: val}))
			return 1
		}))
	}
}

// condArgs accepts both all { a, b } and all(a, b).
func condArgs(L *lua.LState) []lua.LValue {
	if t, ok := L.Get(1).(*lua.LTable); ok && L.GetTop() == 1 {
		out := make([]lua.LValue, 0, t.Len())
		for i := 1; i <= t.Len(); i++ {
			out = append(out, t.RawGetInt(i))
		}
		return out
	}
	out := make([]lua.LValue, 0, L.GetTop())
	for i := 1; i <= L.GetTop(); i++ {
		out = append(out, L.Get(i))
	}
	return out
}

func condValue(L *lua.LState, c flow.Cond) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = c
	return ud
}

// condOf returns the condition a builder made, or nil.
func condOf(v lua.LValue) flow.Cond {
	if ud, ok := v.(*lua.LUserData); ok {
		if c, ok := ud.Value.(flow.Cond); ok {
			return c
		}
	}
	return nil
}
