package scripting

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// kindFields says which shared fields a state kind takes (SPEC 1.1).
type kindFields struct{ next, input, result, timeout, retry, catch bool }

var kinds = map[flow.Kind]kindFields{
	flow.Task:     {next: true, input: true, result: true, timeout: true, retry: true, catch: true},
	flow.Choice:   {input: true},
	flow.Pass:     {next: true, input: true, result: true},
	flow.Wait:     {next: true, input: true},
	flow.Await:    {next: true, input: true, result: true, timeout: true, catch: true},
	flow.Parallel: {next: true, input: true, result: true, timeout: true, retry: true, catch: true},
	flow.Map:      {next: true, input: true, result: true, timeout: true, retry: true, catch: true},
	flow.Call:     {next: true, input: true, result: true, timeout: true, retry: true, catch: true},
	flow.Succeed:  {input: true},
	flow.Fail:     {},
}

func (l *loader) defineWorkflow(name string, t *lua.LTable, pos flow.Pos) {
	if old, dup := l.b.Workflows[name]; dup {
		l.problem(pos, fmt.Sprintf("workflow %q is already defined at %s", name, old.Pos))
		return
	}
	what := fmt.Sprintf("workflow %q", name)
	f := l.fields(t, pos, what)
	switch lang := f.str("language"); lang {
	case "", "lua":
	case LanguageASL:
		l.defineASL(name, f, pos)
		return
	default:
		f.problem("language %q must be \"lua\" (the default) or %q", lang, LanguageASL)
	}
	w := &flow.Workflow{Name: name, Pos: pos, Version: f.str("version"), Timeout: f.duration("timeout")}
	switch mode := f.str("mode"); mode {
	case "", "durable":
	case "express":
		w.Mode = flow.Express
	default:
		f.problem("mode %q must be \"durable\" or \"express\"", mode)
	}
	if ct := f.table("concurrency"); ct != nil {
		cf := l.fields(ct, pos, what+", concurrency")
		w.Concurrency = &flow.Concurrency{Key: cf.expr("key")}
		w.Concurrency.Limit, _ = cf.count("limit")
		cf.done(false)
	}
	switch fn := f.get("migrate").(type) {
	case *lua.LNilType:
	case *lua.LFunction:
		w.Migrate = migrateFunc(l.register(fn))
	default:
		f.wrongType("migrate", "a function(from_version, state, data)", fn)
	}
	w.Machine = *l.machine(f, name, pos)
	f.done(false)
	l.b.Workflows[name] = w
}

// machine reads start and states from f: a workflow, a branch or an
// iterator.
func (l *loader) machine(f *fields, wf string, pos flow.Pos) *flow.Machine {
	m := &flow.Machine{Start: f.str("start"), StartPos: pos, Pos: pos, States: map[string]*flow.State{}}
	t := f.table("states")
	if t == nil {
		return m
	}
	var names []string
	t.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok {
			f.problem("states: key %s must be a state name", k.String())
			return
		}
		if spec(v) == nil {
			f.problem("state %q must be built with task{...}, choice{...}, pass{...}, wait{...}, await{...}, parallel{...}, map{...}, call{...}, succeed{...} or fail{...}, got %s", string(name), v.Type())
			return
		}
		names = append(names, string(name))
	})
	// Sorted, so functions register in the same order in every state.
	sort.Strings(names)
	for _, name := range names {
		m.States[name] = l.state(wf, name, spec(t.RawGetString(name)), nil)
	}
	m.Order = names
	slices.SortStableFunc(m.Order, func(a, b string) int {
		return cmp.Compare(m.States[a].Pos.Line, m.States[b].Pos.Line)
	})
	return m
}

// state converts a builder's table into a named state. at, when set, is
// where problems are reported instead of the builder's line (set()).
func (l *loader) state(wf, name string, sp *stateSpec, at *flow.Pos) *flow.State {
	pos := sp.pos
	if at != nil {
		pos = *at
	}
	what := fmt.Sprintf("workflow %q, state %q", wf, name)
	f := l.fields(sp.t, pos, what)
	s := &flow.State{Name: name, Kind: sp.kind, Pos: sp.pos}
	l.specs[s] = sp
	kf := kinds[sp.kind]
	if kf.next {
		s.Next = f.str("next")
	}
	if kf.input {
		s.Input = f.expr("input")
		s.Output = f.expr("output")
	}
	if kf.result {
		switch v := f.get("result").(type) {
		case lua.LBool:
			if v {
				f.problem("result must be a path or false, got true")
			}
			s.DiscardResult = !bool(v)
		default:
			s.Result = f.path("result")
		}
	}
	if kf.timeout {
		s.Timeout = f.duration("timeout")
	}
	if kf.retry {
		for i, rt := range f.tables("retry") {
			s.Retry = append(s.Retry, l.retrier(rt, pos, fmt.Sprintf("%s, retry %d", what, i+1)))
		}
	}
	if kf.catch {
		for i, ct := range f.tables("catch") {
			s.Catch = append(s.Catch, l.catcher(ct, pos, fmt.Sprintf("%s, catch %d", what, i+1)))
		}
	}
	l.kindState(f, s, wf, pos)
	f.done(sp.kind == flow.Choice)
	return s
}

// kindState reads the fields only one kind has.
func (l *loader) kindState(f *fields, s *flow.State, wf string, pos flow.Pos) {
	switch s.Kind {
	case flow.Task:
		s.RoutineName = f.str("routine")
	case flow.Choice:
		for i := range f.t.Len() {
			e := f.t.RawGetInt(i + 1)
			rt, ok := e.(*lua.LTable)
			if !ok {
				f.problem("rule %d must be a table { when = ..., next = ... }, got %s", i+1, e.Type())
				continue
			}
			s.Rules = append(s.Rules, l.rule(rt, pos, fmt.Sprintf("%s, rule %d", f.what, i+1)))
		}
		s.Default = f.str("default")
		if f.has("next") {
			f.problem("a choice has no next: use rules { when = ..., next = ... } and default")
		}
	case flow.Pass:
		if v := f.get("value"); v != lua.LNil {
			val, err := l.vm.fromLua(v)
			if err != nil {
				f.problem("field \"value\": %s", err)
			}
			s.Value, s.HasValue = val, true
		}
	case flow.Wait:
		// Validate sees WaitFor and Until only, so two ways of giving a
		// duration can only be caught here.
		s.WaitFor = f.duration("duration")
		if sec, ok := f.num("seconds"); ok {
			if f.has("duration") {
				f.problem("a wait takes one of duration, seconds, until")
			}
			s.WaitFor = secondsDuration(sec)
		}
		s.Until = f.expr("until")
	case flow.Await:
		s.Event = f.str("event")
	case flow.Parallel:
		for i, bt := range f.tables("branches") {
			bf := l.fields(bt, pos, fmt.Sprintf("%s, branch %d", f.what, i+1))
			s.Branches = append(s.Branches, l.machine(bf, wf, pos))
			bf.done(false)
		}
	case flow.Map:
		s.Items = f.expr("items")
		s.MaxConcurrency, _ = f.count("max_concurrency")
		if it := f.table("iterator"); it != nil {
			itf := l.fields(it, pos, f.what+", iterator")
			s.Iterator = l.machine(itf, wf, pos)
			itf.done(false)
		}
	case flow.Call:
		s.Workflow = f.str("workflow")
		s.Version = f.str("version")
	case flow.Fail:
		s.Error = f.text("error")
		s.Cause = f.text("cause")
	}
}

func (l *loader) rule(t *lua.LTable, pos flow.Pos, what string) flow.Rule {
	f := l.fields(t, pos, what)
	r := flow.Rule{Pos: pos, Next: f.str("next"), Name: f.str("name")}
	switch w := f.get("when"); w.(type) {
	case *lua.LNilType, lua.LString, *lua.LFunction:
	default:
		if r.When = condOf(w); r.When == nil {
			f.wrongType("when", "a condition (all, any, none, eq, ne, lt, lte, gt, gte), a path string or a function(data, ctx)", w)
		}
		f.done(false)
		return r
	}
	switch w := f.expr("when").(type) {
	case nil:
	case luaExpr:
		r.When = luaCond(w)
	default:
		r.When = flow.Truthy{Expr: w}
	}
	f.done(false)
	return r
}

// retrier reads one retry entry over SPEC 1.3's defaults.
func (l *loader) retrier(t *lua.LTable, pos flow.Pos, what string) flow.Retrier {
	f := l.fields(t, pos, what)
	r := flow.DefaultRetrier
	r.Pos = pos
	r.Errors = f.strings("errors")
	if n, ok := f.count("max_attempts"); ok {
		r.MaxAttempts = n
	}
	if f.has("interval") {
		r.Interval = f.duration("interval")
	}
	if b, ok := f.num("backoff"); ok {
		r.Backoff = b
	}
	r.MaxDelay = f.duration("max_delay")
	switch j := f.str("jitter"); j {
	case "", "none":
	case "full":
		r.FullJitter = true
	default:
		f.problem("jitter %q must be \"none\" or \"full\"", j)
	}
	f.done(false)
	return r
}

func (l *loader) catcher(t *lua.LTable, pos flow.Pos, what string) flow.Catcher {
	f := l.fields(t, pos, what)
	c := flow.Catcher{Pos: pos, Errors: f.strings("errors"), Next: f.str("next"), Result: f.path("result")}
	f.done(false)
	return c
}

func secondsDuration(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }
