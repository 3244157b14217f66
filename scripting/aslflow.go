package scripting

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// A workflow with language = "asl" is an Amazon States Language state
// machine written in Lua (docs/scripts.md, "ASL workflows in Lua"): the
// structure in the DSL's words (start, states, next, default, routine,
// timeout, retry, catch, branches, iterator, max_concurrency, seconds,
// value, error, cause), the data flow in ASL's own in each `asl` table
// (InputPath, Parameters, ResultSelector, ResultPath, OutputPath, Assign,
// Arguments, Output, a choice rule's condition, ...). The loader turns the
// tables into the ASL document they spell and compiles it as it compiles
// a *.asl.json file, so the workflow has ASL's semantics throughout: its
// data flow, AWS's error names and matching, the context object.

// LanguageASL is the value of a workflow's language field that makes it
// an ASL state machine.
const LanguageASL = "asl"

// aslTypes names the ASL state type of each builder an ASL workflow may
// use.
var aslTypes = map[flow.Kind]string{flow.Task: "Task", flow.Pass: "Pass", flow.Choice: "Choice", flow.Wait: "Wait",
	flow.Succeed: "Succeed", flow.Fail: "Fail", flow.Parallel: "Parallel", flow.Map: "Map"}

// aslBuilder spells a Lua ASL workflow as an ASL document.
type aslBuilder struct {
	l  *loader
	wf string
}

// defineASL adds the ASL workflow the fields f of workflow name spell.
func (l *loader) defineASL(name string, f *fields, pos flow.Pos) {
	a := &aslBuilder{l: l, wf: name}
	doc := asl.NewObject(pos.Line)
	if q := f.str("query_language"); q != "" {
		doc.Set("QueryLanguage", asl.NewValue(pos.Line, q), pos.Line)
	}
	if v := f.str("version"); v != "" {
		doc.Set("Version", asl.NewValue(pos.Line, v), pos.Line)
	}
	a.seconds(doc, f, "timeout", "TimeoutSeconds", pos.Line)
	// The type of an AWS state machine is no part of its document: the
	// DSL's mode says it.
	express := false
	switch mode := f.str("mode"); mode {
	case "", "durable":
	case "express":
		express = true
	default:
		f.problem("mode %q must be \"durable\" or \"express\"", mode)
	}
	a.machine(doc, f, pos)
	f.done(false)
	l.probs = append(l.probs, asl.Compile(name, pos.File, doc, l.b)...)
	if w := l.b.Workflows[name]; w != nil && express {
		w.Mode = flow.Express
	}
}

// machine spells start, states and the asl table of a workflow, a branch
// or an iterator into doc.
func (a *aslBuilder) machine(doc *asl.Node, f *fields, pos flow.Pos) {
	a.extra(doc, f, pos.Line)
	if start := f.str("start"); start != "" {
		doc.Set("StartAt", asl.NewValue(pos.Line, start), pos.Line)
	}
	t := f.table("states")
	if t == nil {
		return
	}
	type named struct {
		name string
		sp   *stateSpec
	}
	var states []named
	t.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		sp := spec(v)
		if !ok || sp == nil {
			f.problem("states: %s must name a state built with task{...}, choice{...}, pass{...}, wait{...}, map{...}, parallel{...}, succeed{...} or fail{...}", k.String())
			return
		}
		states = append(states, named{string(name), sp})
	})
	// In the order they are written, as an ASL file lists them.
	slices.SortFunc(states, func(x, y named) int {
		return cmp.Or(cmp.Compare(x.sp.pos.Line, y.sp.pos.Line), strings.Compare(x.name, y.name))
	})
	obj := asl.NewObject(pos.Line)
	for _, s := range states {
		obj.Set(s.name, a.state(s.name, s.sp), s.sp.pos.Line)
	}
	doc.Set("States", obj, pos.Line)
}

// state spells one state.
func (a *aslBuilder) state(name string, sp *stateSpec) *asl.Node {
	line := sp.pos.Line
	f := a.l.fields(sp.t, sp.pos, fmt.Sprintf("workflow %q, state %q", a.wf, name))
	n := asl.NewObject(line)
	typ, ok := aslTypes[sp.kind]
	if !ok {
		f.problem("an ASL workflow has no %s state (ASL has Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map)", sp.kind)
		return n
	}
	n.Set("Type", asl.NewValue(line, typ), line)
	set := func(key string, v any) { n.Set(key, asl.NewValue(line, v), line) }
	switch sp.kind {
	case flow.Task:
		if r := f.str("routine"); r != "" {
			set("Resource", r)
		}
		a.seconds(n, f, "timeout", "TimeoutSeconds", line)
	case flow.Pass:
		if v := f.get("value"); v != lua.LNil {
			val, err := a.l.vm.fromLua(v)
			if err != nil {
				f.problem("field \"value\": %s", err)
			}
			set("Result", val)
		}
	case flow.Wait:
		if sec, ok := f.num("seconds"); ok {
			set("Seconds", sec)
		}
	case flow.Fail:
		for _, k := range []struct{ lua, asl string }{{"error", "Error"}, {"cause", "Cause"}} {
			if s := f.str(k.lua); s != "" {
				set(k.asl, s)
			}
		}
	case flow.Choice:
		rules := asl.NewArray(line)
		for i := range f.t.Len() {
			rt, ok := f.t.RawGetInt(i + 1).(*lua.LTable)
			if !ok {
				f.problem("rule %d must be a table { asl = { ... }, next = ... }", i+1)
				continue
			}
			rf := a.l.fields(rt, sp.pos, fmt.Sprintf("%s, rule %d", f.what, i+1))
			rn := asl.NewObject(line)
			a.extra(rn, rf, line)
			a.next(rn, rf, line, false)
			rf.done(false)
			rules.Append(rn)
		}
		n.Set("Choices", rules, line)
		if d := f.str("default"); d != "" {
			set("Default", d)
		}
	case flow.Parallel:
		branches := asl.NewArray(line)
		for i, bt := range f.tables("branches") {
			bf := a.l.fields(bt, sp.pos, fmt.Sprintf("%s, branch %d", f.what, i+1))
			b := asl.NewObject(line)
			a.machine(b, bf, sp.pos)
			bf.done(false)
			branches.Append(b)
		}
		n.Set("Branches", branches, line)
	case flow.Map:
		if it := f.table("iterator"); it != nil {
			itf := a.l.fields(it, sp.pos, f.what+", iterator")
			proc := asl.NewObject(line)
			a.machine(proc, itf, sp.pos)
			itf.done(false)
			n.Set("ItemProcessor", proc, line)
		}
		if c, ok := f.count("max_concurrency"); ok {
			set("MaxConcurrency", float64(c))
		}
	}
	for i, rt := range f.tables("retry") {
		a.retrier(n, rt, sp.pos, fmt.Sprintf("%s, retry %d", f.what, i+1))
	}
	for i, ct := range f.tables("catch") {
		a.catcher(n, ct, sp.pos, fmt.Sprintf("%s, catch %d", f.what, i+1))
	}
	a.extra(n, f, line)
	a.next(n, f, line, sp.kind != flow.Choice && sp.kind != flow.Succeed && sp.kind != flow.Fail)
	f.done(sp.kind == flow.Choice)
	return n
}

// next spells next as Next, or its absence as End when the state ends
// its machine there.
func (a *aslBuilder) next(n *asl.Node, f *fields, line int, endable bool) {
	switch next := f.str("next"); {
	case next != "":
		n.Set("Next", asl.NewValue(line, next), line)
	case endable:
		n.Set("End", asl.NewValue(line, true), line)
	}
}

func (a *aslBuilder) retrier(n *asl.Node, t *lua.LTable, pos flow.Pos, what string) {
	f := a.l.fields(t, pos, what)
	r := asl.NewObject(pos.Line)
	set := func(key string, v any) { r.Set(key, asl.NewValue(pos.Line, v), pos.Line) }
	a.errors(r, f, pos.Line)
	a.seconds(r, f, "interval", "IntervalSeconds", pos.Line)
	if n, ok := f.count("max_attempts"); ok {
		set("MaxAttempts", float64(n))
	}
	if b, ok := f.num("backoff"); ok {
		set("BackoffRate", b)
	}
	a.seconds(r, f, "max_delay", "MaxDelaySeconds", pos.Line)
	if j := f.str("jitter"); j != "" {
		set("JitterStrategy", strings.ToUpper(j))
	}
	a.extra(r, f, pos.Line)
	f.done(false)
	n.Set("Retry", orArray(n.Get("Retry"), pos.Line).Append(r), pos.Line)
}

func (a *aslBuilder) catcher(n *asl.Node, t *lua.LTable, pos flow.Pos, what string) {
	f := a.l.fields(t, pos, what)
	c := asl.NewObject(pos.Line)
	a.errors(c, f, pos.Line)
	if next := f.str("next"); next != "" {
		c.Set("Next", asl.NewValue(pos.Line, next), pos.Line)
	}
	a.extra(c, f, pos.Line)
	f.done(false)
	n.Set("Catch", orArray(n.Get("Catch"), pos.Line).Append(c), pos.Line)
}

// errors spells a retrier's or catcher's errors as ErrorEquals.
func (a *aslBuilder) errors(n *asl.Node, f *fields, line int) {
	if errs := f.strings("errors"); errs != nil {
		list := make([]any, len(errs))
		for i, e := range errs {
			list[i] = e
		}
		n.Set("ErrorEquals", asl.NewValue(line, list), line)
	}
}

// seconds spells a duration field (luaName) as a whole number of
// seconds (aslName).
func (a *aslBuilder) seconds(n *asl.Node, f *fields, luaName, aslName string, line int) {
	if !f.has(luaName) {
		return
	}
	d := f.duration(luaName)
	if d%time.Second != 0 {
		f.problem("field %q: ASL counts whole seconds, not %s", luaName, d)
		return
	}
	n.Set(aslName, asl.NewValue(line, float64(d/time.Second)), line)
}

// extra copies the asl table's fields into n: ASL's own names for what the
// DSL has no word for. A field the DSL spells too is a problem.
func (a *aslBuilder) extra(n *asl.Node, f *fields, line int) {
	t := f.table("asl")
	if t == nil {
		return
	}
	v, err := a.l.vm.fromLua(t)
	m, isObj := v.(map[string]any)
	if err != nil || !isObj {
		f.problem("field \"asl\" must be a table of ASL fields: %v", err)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if n.Get(k) != nil {
			f.problem("asl.%s is also given by a field of the state; give it once", k)
			continue
		}
		n.Set(k, asl.NewValue(line, m[k]), line)
	}
}

// orArray is n, or a new array when n is nil.
func orArray(n *asl.Node, line int) *asl.Node {
	if n == nil {
		return asl.NewArray(line)
	}
	return n
}
