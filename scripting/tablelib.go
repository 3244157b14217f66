package scripting

import (
	"math"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// openTableLimits replaces the table functions that can allocate or loop
// without bound inside one Go call, and those that write into a table
// without metamethods, which must not reach the tables every call shares.
func (v *vm) openTableLimits(tab *lua.LTable) {
	orig := func(name string) lua.LGFunction { return tab.RawGetString(name).(*lua.LFunction).GFunction }
	insert, remove := orig("insert"), orig("remove")
	fns := map[string]lua.LGFunction{
		"concat": v.tableConcat,
		"sort":   v.tableSort,
		"insert": func(L *lua.LState) int {
			v.checkWritable("table.insert", L.CheckTable(1))
			return insert(L)
		},
		"remove": func(L *lua.LState) int {
			v.checkWritable("table.remove", L.CheckTable(1))
			return remove(L)
		},
	}
	for name, fn := range fns {
		tab.RawSetString(name, v.L.NewFunction(fn))
	}
}

// tableConcat is table.concat with gopher-lua's handling of the range; it
// adds the sizes up and charges them before building the result.
func (v *vm) tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := t.Len()
	i, j := L.OptInt(3, 1), L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i, j = max(min(i, n), 1), min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := len(sep) * (j - i)
	for k := i; k <= j; k++ {
		if (k-i)%pollEvery == pollEvery-1 {
			v.poll()
		}
		e := t.RawGetInt(k)
		if !lua.LVCanConvToString(e) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", e.Type().String(), k)
		}
		if size += len(lua.LVAsString(e)); size > maxString {
			break // alloc raises
		}
	}
	v.alloc("table.concat", size)
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		b.WriteString(lua.LVAsString(t.RawGetInt(k)))
		if k < j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// tableSort is table.sort of t[1..#t]; the deadline is checked between
// comparisons, which without a Lua comparator all run inside this call.
func (v *vm) tableSort(L *lua.LState) int {
	t := L.CheckTable(1)
	v.checkWritable("table.sort", t)
	s := &sorter{v: v, vals: make([]lua.LValue, t.Len())}
	if fn := L.Get(2); fn != lua.LNil {
		s.less = L.CheckFunction(2)
	}
	for i := range s.vals {
		s.vals[i] = t.RawGetInt(i + 1)
	}
	sort.Sort(s)
	for i, e := range s.vals {
		t.RawSetInt(i+1, e)
	}
	return 0
}

type sorter struct {
	v     *vm
	less  *lua.LFunction
	vals  []lua.LValue
	steps int
}

func (s *sorter) Len() int      { return len(s.vals) }
func (s *sorter) Swap(i, j int) { s.vals[i], s.vals[j] = s.vals[j], s.vals[i] }

func (s *sorter) Less(i, j int) bool {
	if s.steps++; s.steps%pollEvery == 0 {
		s.v.poll()
	}
	L := s.v.L
	if s.less == nil {
		return L.LessThan(s.vals[i], s.vals[j])
	}
	L.Push(s.less)
	L.Push(s.vals[i])
	L.Push(s.vals[j])
	L.Call(2, 1)
	ok := lua.LVAsBool(L.Get(-1))
	L.Pop(1)
	return ok
}

// unpack returns t[i], ..., t[j], at most maxResults of them: gopher-lua's
// pushes as many as asked, which for unpack({}, 1, 1e8) ran for minutes
// inside one call.
func (v *vm) unpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := float64(L.OptNumber(2, 1))
	j := float64(L.OptNumber(3, lua.LNumber(t.Len())))
	if i > j {
		return 0
	}
	if j-i >= maxResults || math.IsNaN(j-i) {
		L.RaiseError("too many results to unpack (more than %d)", maxResults)
	}
	for k := int(i); k <= int(j); k++ {
		L.Push(t.RawGet(lua.LNumber(k)))
	}
	return int(j) - int(i) + 1
}
