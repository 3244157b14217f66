package scripting

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// applyExtensions runs the extend() functions (SPEC 1.4), each with a
// handle on its workflow: by priority, lower first, and among equals in
// the order the extend calls ran, which is the files' path order (a
// required file runs where it is required).
func (l *loader) applyExtensions() {
	slices.SortStableFunc(l.exts, func(a, b extension) int { return cmp.Compare(a.priority, b.priority) })
	for _, e := range l.exts {
		w, ok := l.b.Workflows[e.workflow]
		if !ok {
			l.unresolved(e.pos, fmt.Sprintf("extend: unknown workflow %q", e.workflow))
			continue
		}
		w.Index()
		L := l.vm.L
		L.Push(e.fn)
		L.Push(l.extensionAPI(w))
		if !l.loadCall(1, e.pos) {
			return
		}
	}
}

// extendOptions reads the table between an extension's name and its
// function.
func (l *loader) extendOptions(t *lua.LTable, e extension) int {
	f := l.fields(t, e.pos, fmt.Sprintf("extend %q", e.workflow))
	n, _ := f.num("priority")
	if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
		f.problem("field %q must be a whole number, got %v", "priority", n)
		n = 0
	}
	f.done(false)
	return int(n)
}

// extensionAPI is the `wf` an extension receives; every method reports
// problems at the line that called it.
func (l *loader) extensionAPI(w *flow.Workflow) *lua.LTable {
	L := l.vm.L
	api := L.NewTable()
	method := func(name string, fn func(L *lua.LState, pos flow.Pos, what string)) {
		api.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			l.checkLoading(L, "wf:"+name)
			fn(L, whereToPos(L.Where(1)), fmt.Sprintf("extend %q, %s", w.Name, name))
			return 0
		}))
	}
	method("add_state", func(L *lua.LState, pos flow.Pos, what string) {
		name, sp := L.CheckString(2), l.checkSpec(L, 3)
		if findState(w, name) != nil {
			l.problem(pos, fmt.Sprintf("%s: state %q already exists", what, name))
			return
		}
		l.addState(w, &w.Machine, name, sp)
	})
	method("insert_after", func(L *lua.LState, pos flow.Pos, what string) {
		m, old := l.target(w, L.CheckString(2), pos, what)
		name, sp := L.CheckString(3), l.checkSpec(L, 4)
		if old == nil {
			return
		}
		if old.Kind == flow.Choice || old.Kind == flow.Succeed || old.Kind == flow.Fail {
			l.problem(pos, fmt.Sprintf("%s: cannot insert after the %s state %q", what, old.Kind, old.Name))
			return
		}
		s := l.addState(w, m, name, sp)
		if s.Next == "" {
			s.Next = old.Next
		}
		old.Next = name
	})
	method("insert_before", func(L *lua.LState, pos flow.Pos, what string) {
		m, old := l.target(w, L.CheckString(2), pos, what)
		name, sp := L.CheckString(3), l.checkSpec(L, 4)
		if old == nil {
			return
		}
		s := l.addState(w, m, name, sp)
		retarget(m, old.Name, name, s)
		if s.Next == "" {
			s.Next = old.Name
		}
	})
	method("add_catch", func(L *lua.LState, pos flow.Pos, what string) {
		_, s := l.target(w, L.CheckString(2), pos, what)
		t := L.CheckTable(3)
		if s != nil {
			s.Catch = append(s.Catch, l.catcher(t, pos, what))
		}
	})
	method("add_retry", func(L *lua.LState, pos flow.Pos, what string) {
		_, s := l.target(w, L.CheckString(2), pos, what)
		t := L.CheckTable(3)
		if s != nil {
			s.Retry = append(s.Retry, l.retrier(t, pos, what))
		}
	})
	method("set", func(L *lua.LState, pos flow.Pos, what string) {
		_, s := l.target(w, L.CheckString(2), pos, what)
		field, value := L.CheckString(3), L.Get(4)
		if s != nil {
			l.set(w, s, field, value, pos)
		}
	})
	method("replace_routine", func(L *lua.LState, pos flow.Pos, what string) {
		old, repl := L.CheckString(2), L.CheckString(3)
		if !l.replay && !l.known(repl) && !l.pluginRoutine(repl) {
			l.unresolved(pos, fmt.Sprintf("%s: unknown routine %q", what, repl))
			return
		}
		n := 0
		for _, m := range w.Machines {
			for _, s := range m.States {
				if s.Kind == flow.Task && s.RoutineName == old {
					s.RoutineName = repl
					n++
				}
			}
		}
		if n == 0 {
			l.problem(pos, fmt.Sprintf("%s: no task of workflow %q uses routine %q", what, w.Name, old))
		}
	})
	return api
}

func (l *loader) pluginRoutine(name string) bool {
	return l.cfg.plugins != nil && l.cfg.plugins.Routines()[name] != nil
}

func (l *loader) checkSpec(L *lua.LState, n int) *stateSpec {
	sp := spec(L.Get(n))
	if sp == nil {
		L.ArgError(n, "a state built with task{...}, choice{...}, ... expected")
	}
	return sp
}

// target finds the state an extension names, reporting it when missing.
func (l *loader) target(w *flow.Workflow, name string, pos flow.Pos, what string) (*flow.Machine, *flow.State) {
	for _, k := range machineKeys(w) {
		if s := w.Machines[k].States[name]; s != nil {
			return w.Machines[k], s
		}
	}
	l.problem(pos, fmt.Sprintf("%s: workflow %q has no state %q", what, w.Name, name))
	return nil, nil
}

func (l *loader) addState(w *flow.Workflow, m *flow.Machine, name string, sp *stateSpec) *flow.State {
	s := l.state(w.Name, name, sp, nil)
	m.States[name] = s
	m.Order = append(m.Order, name)
	w.Index()
	return s
}

// set replaces one field of a state: the state's table is copied with the
// new value and read again, and only that field is taken over, so checks
// and defaults are the ones a written field gets.
func (l *loader) set(w *flow.Workflow, s *flow.State, field string, value lua.LValue, pos flow.Pos) {
	sp := l.specs[s]
	if sp == nil {
		// A state of a declarative format has no Lua table to rebuild it
		// from; the other methods work on any state.
		l.problem(pos, fmt.Sprintf("extend %q, set: state %q is not written in Lua (it comes from %s); set works on Lua states only", w.Name, s.Name, s.Pos.File))
		return
	}
	t := l.vm.L.NewTable()
	sp.t.ForEach(func(k, v lua.LValue) { t.RawSet(k, v) })
	t.RawSetString(field, value)
	fresh := l.state(w.Name, s.Name, &stateSpec{kind: sp.kind, t: t, pos: sp.pos}, &pos)
	if !copyField(s, fresh, field) {
		l.problem(pos, fmt.Sprintf("extend %q, set: field %q of state %q cannot be set", w.Name, field, s.Name))
		return
	}
	l.specs[s] = &stateSpec{kind: sp.kind, t: t, pos: sp.pos}
}

// copyField copies the struct fields that one DSL field fills.
func copyField(dst, src *flow.State, field string) bool {
	switch field {
	case "next":
		dst.Next = src.Next
	case "input":
		dst.Input = src.Input
	case "output":
		dst.Output = src.Output
	case "result":
		dst.Result, dst.DiscardResult = src.Result, src.DiscardResult
	case "routine":
		dst.RoutineName = src.RoutineName
	case "timeout":
		dst.Timeout = src.Timeout
	case "retry":
		dst.Retry = src.Retry
	case "catch":
		dst.Catch = src.Catch
	case "default":
		dst.Default = src.Default
	case "value":
		dst.Value, dst.HasValue = src.Value, src.HasValue
	case "duration", "seconds", "until":
		dst.WaitFor, dst.Until = src.WaitFor, src.Until
	case "event":
		dst.Event = src.Event
	case "items":
		dst.Items = src.Items
	case "max_concurrency":
		dst.MaxConcurrency = src.MaxConcurrency
	case "workflow":
		dst.Workflow = src.Workflow
	case "version":
		dst.Version = src.Version
	case "error":
		dst.Error = src.Error
	case "cause":
		dst.Cause = src.Cause
	default:
		return false
	}
	return true
}

// retarget points every transition to from inside m at to, except the
// new state's own.
func retarget(m *flow.Machine, from, to string, skip *flow.State) {
	if m.Start == from {
		m.Start = to
	}
	for _, s := range m.States {
		if s == skip {
			continue
		}
		if s.Next == from {
			s.Next = to
		}
		if s.Default == from {
			s.Default = to
		}
		for i := range s.Rules {
			if s.Rules[i].Next == from {
				s.Rules[i].Next = to
			}
		}
		for i := range s.Catch {
			if s.Catch[i].Next == from {
				s.Catch[i].Next = to
			}
		}
	}
}

// findState looks a state up in every machine of a workflow.
func findState(w *flow.Workflow, name string) *flow.State {
	if w.Machines == nil {
		w.Index()
	}
	for _, m := range w.Machines {
		if s := m.States[name]; s != nil {
			return s
		}
	}
	return nil
}

func machineKeys(w *flow.Workflow) []string { return slices.Sorted(maps.Keys(w.Machines)) }
