package scripting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// fields reads one DSL table. Every getter marks its field as known and
// reports a wrong type as a problem; done reports the fields nobody asked
// for, which is how typos surface.
type fields struct {
	l    *loader
	t    *lua.LTable
	pos  flow.Pos
	what string // who owns the table, e.g. `workflow "w", state "A"`
	seen map[string]bool
}

func (l *loader) fields(t *lua.LTable, pos flow.Pos, what string) *fields {
	return &fields{l: l, t: t, pos: pos, what: what, seen: map[string]bool{}}
}

func (f *fields) problem(format string, args ...any) {
	f.l.problem(f.pos, f.what+": "+fmt.Sprintf(format, args...))
}

func (f *fields) wrongType(name, want string, got lua.LValue) {
	f.problem("field %q must be %s, got %s", name, want, got.Type())
}

// get returns a field's raw value (LNil when absent).
func (f *fields) get(name string) lua.LValue {
	f.seen[name] = true
	return f.t.RawGetString(name)
}

// has reports whether a field is present, marking it known.
func (f *fields) has(name string) bool { return f.get(name) != lua.LNil }

func (f *fields) str(name string) string {
	switch v := f.get(name).(type) {
	case *lua.LNilType:
	case lua.LString:
		return string(v)
	default:
		f.wrongType(name, "a string", v)
	}
	return ""
}

func (f *fields) num(name string) (float64, bool) {
	switch v := f.get(name).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		return float64(v), true
	default:
		f.wrongType(name, "a number", v)
	}
	return 0, false
}

// count reads a non-negative whole number.
func (f *fields) count(name string) (int, bool) {
	n, ok := f.num(name)
	if !ok {
		return 0, false
	}
	if n < 0 || n != math.Trunc(n) || n > math.MaxInt32 {
		f.problem("field %q must be a whole number >= 0, got %v", name, n)
		return 0, false
	}
	return int(n), true
}

func (f *fields) boolean(name string) bool {
	switch v := f.get(name).(type) {
	case *lua.LNilType:
	case lua.LBool:
		return bool(v)
	default:
		f.wrongType(name, "true or false", v)
	}
	return false
}

func (f *fields) duration(name string) time.Duration {
	s := f.str(name)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		f.problem("field %q: bad duration %q (write it like \"500ms\", \"2s\", \"5m\")", name, s)
		return 0
	}
	return d
}

func (f *fields) path(name string) *flow.Path {
	s := f.str(name)
	if s == "" {
		return nil
	}
	p, err := flow.ParsePath(s)
	if err != nil {
		f.problem("field %q: %s", name, err)
		return nil
	}
	return p
}

// expr reads a path string or a function(data, ctx).
func (f *fields) expr(name string) flow.Expr {
	switch v := f.get(name).(type) {
	case *lua.LNilType:
	case lua.LString:
		return f.path(name)
	case *lua.LFunction:
		return luaExpr{f.l.register(v)}
	default:
		f.wrongType(name, "a path string or a function(data, ctx)", v)
	}
	return nil
}

// text reads fail's error and cause: a literal string, a path ("$...") or
// a function of data.
func (f *fields) text(name string) flow.Expr {
	v, ok := f.get(name).(lua.LString)
	if ok && !strings.HasPrefix(string(v), "$") {
		return flow.Const{Value: string(v)}
	}
	return f.expr(name)
}

// strings reads a list of strings.
func (f *fields) strings(name string) []string {
	v := f.get(name)
	if v == lua.LNil {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		f.wrongType(name, "a list of strings", v)
		return nil
	}
	out := []string{}
	for i, e := range f.list(t, name) {
		s, ok := e.(lua.LString)
		if !ok {
			f.problem("field %q: entry %d must be a string, got %s", name, i+1, e.Type())
			continue
		}
		out = append(out, string(s))
	}
	return out
}

// stringMap reads a table of string keys to string values (headers, query).
func (f *fields) stringMap(name string) map[string]string {
	v := f.get(name)
	if v == lua.LNil {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		f.wrongType(name, "a table of strings", v)
		return nil
	}
	out := map[string]string{}
	t.ForEach(func(k, e lua.LValue) {
		ks, kok := k.(lua.LString)
		es, eok := e.(lua.LString)
		if !kok || !eok {
			f.problem("field %q: %s = %s must map a string to a string", name, k.String(), e.Type())
			return
		}
		out[string(ks)] = string(es)
	})
	return out
}

// table reads a nested table field (nil when absent or wrong).
func (f *fields) table(name string) *lua.LTable {
	switch v := f.get(name).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		return v
	default:
		f.wrongType(name, "a table", v)
	}
	return nil
}

// list returns the array part 1..n of t, reporting other keys.
func (f *fields) list(t *lua.LTable, name string) []lua.LValue {
	n := t.Len()
	out := make([]lua.LValue, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, t.RawGetInt(i))
	}
	t.ForEach(func(k, _ lua.LValue) {
		if i, ok := k.(lua.LNumber); !ok || int(i) < 1 || int(i) > n || float64(i) != math.Trunc(float64(i)) {
			f.problem("field %q must be a list, but has the key %s", name, k.String())
		}
	})
	return out
}

// tables reads a list of tables (retry, catch, branches).
func (f *fields) tables(name string) []*lua.LTable {
	t := f.table(name)
	if t == nil {
		return nil
	}
	var out []*lua.LTable
	for i, e := range f.list(t, name) {
		et, ok := e.(*lua.LTable)
		if !ok {
			f.problem("field %q: entry %d must be a table, got %s", name, i+1, e.Type())
			continue
		}
		out = append(out, et)
	}
	return out
}

// done reports unknown fields. With arrayOK the array part 1..n is allowed
// (a choice's rules). A table's keys come in no fixed order, so they are
// reported sorted: the same script always gets the same report.
func (f *fields) done(arrayOK bool) {
	n := 0
	if arrayOK {
		n = f.t.Len()
	}
	var msgs []string
	f.t.ForEach(func(k, _ lua.LValue) {
		switch key := k.(type) {
		case lua.LString:
			if !f.seen[string(key)] {
				msgs = append(msgs, fmt.Sprintf("unknown field %q", string(key)))
			}
		case lua.LNumber:
			if int(key) < 1 || int(key) > n {
				msgs = append(msgs, fmt.Sprintf("unexpected list entry [%s]", key.String()))
			}
		default:
			msgs = append(msgs, fmt.Sprintf("unexpected key %s", k.String()))
		}
	})
	slices.Sort(msgs)
	for _, m := range msgs {
		f.problem("%s", m)
	}
}
