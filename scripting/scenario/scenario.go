// Package scenario loads the XML scenario language of the service-isolation
// design Orbit comes from (SPEC 1.7) into the flow model, so such scenarios
// run on the same engine as Lua workflows.
//
// A file holds <scenario> and <routine> elements under any root element
// (Magento's own files use <config>). Several files may declare the same
// scenario: read in path order, a later file adds steps, adds catches,
// retries and decisions, or overrides attributes of a step, which is how
// one module extends another's scenario without copying it. Only once
// every file is read does a scenario become a flow.Workflow, so a step may
// name a step or routine that a later file declares.
package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Format is the XML scenario format: every *.xml file of a scripts
// directory.
type Format struct{}

// Suffix selects the format's files.
func (Format) Suffix() string { return ".xml" }

// Define reads the files in order, merges what they declare and adds the
// scenarios as workflows, their Observer steps as observers and the
// routines as http routines.
func (Format) Define(files []flow.Source, b *flow.Bundle, client *httpcall.Client, env httpcall.Env) flow.Problems {
	r := &reader{b: b, scenarios: map[string]*scen{}, routines: map[string]*routineDecl{}}
	for _, src := range files {
		root, line, err := parse(src.Body)
		if err != nil {
			r.problem(flow.Pos{File: src.Path, Line: max(line, 1)}, "%s", err)
			continue
		}
		r.file(src.Path, root)
	}
	r.buildRoutines(client, env)
	r.buildScenarios()
	return r.probs
}

// StepType is a step's xsi:type.
type StepType string

// The step types of SPEC 1.7.
const (
	TaskStep     StepType = "Task"
	ChoiceStep   StepType = "Choice"
	SuccessStep  StepType = "Success"
	FailureStep  StepType = "Failure"
	ObserverStep StepType = "Observer"
)

var stepTypes = []StepType{TaskStep, ChoiceStep, SuccessStep, FailureStep, ObserverStep}

// stepAttrs are the attributes each step type takes.
var stepAttrs = map[StepType][]string{
	TaskStep:     {"name", "next", "routine", "inputPath", "outputPath", "exit"},
	ChoiceStep:   {"name", "next"},
	SuccessStep:  {"name", "inputPath", "outputPath"},
	FailureStep:  {"name", "error", "cause"},
	ObserverStep: {"name", "routine", "inputPath", "before", "after"},
}

// stepChildren are the child elements each step type takes.
var stepChildren = map[StepType][]string{
	TaskStep:     {"catch", "retry"},
	ChoiceStep:   {"choice"},
	ObserverStep: {"retry"},
}

// The routine types: the design's name and its Magento-specific alias.
const (
	webAPIRoutine        = "WebAPIRoutine"
	magentoWebAPIRoutine = "MagentoWebAPIRoutine"
)

// errorPath is where a catch puts {error, cause} when it names no
// outputPath: beside the scenario's data rather than in place of it, so
// the handler step still finds the data its inputPath points at.
const errorPath = "error"

type reader struct {
	b         *flow.Bundle
	probs     flow.Problems
	scenarios map[string]*scen
	order     []string // scenario names, first declaration first
	routines  map[string]*routineDecl
	rorder    []string
}

// scen is a scenario merged from every file that declares it.
type scen struct {
	name     string
	pos      flow.Pos
	start    string
	startPos flow.Pos
	steps    map[string]*step
	order    []string
}

// step is one merged step; a later file's attributes override.
type step struct {
	name      string
	typ       StepType
	pos       flow.Pos // first declaration
	next      string
	exit      bool
	routine   string
	input     *flow.Path
	output    *flow.Path
	before    string
	after     string
	errName   string
	cause     string
	catches   []flow.Catcher
	retries   []flow.Retrier
	decisions []decision
}

type decision struct {
	name, next string
	when       flow.Cond
	pos        flow.Pos
}

type routineDecl struct {
	name, method, url string
	timeout           time.Duration
	pos               flow.Pos
}

func (r *reader) problem(pos flow.Pos, format string, args ...any) {
	r.probs = append(r.probs, flow.Problem{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// file merges one file's declarations.
func (r *reader) file(path string, root *element) {
	seen := map[string]bool{}
	for _, e := range root.children {
		pos := flow.Pos{File: path, Line: e.line}
		switch e.name {
		case "scenario":
			r.scenario(e, pos, seen)
		case "routine":
			r.routine(e, pos)
		default:
			r.problem(pos, "unknown element <%s> in <%s>; a scenario file holds <scenario> and <routine> elements", e.name, root.name)
		}
	}
}

func (r *reader) scenario(e *element, pos flow.Pos, seen map[string]bool) {
	a := r.attrs(e, pos, "scenario", "name", "start")
	name := a.required("name")
	start, hasStart := a.get("start")
	if name == "" {
		return
	}
	if seen[name] {
		r.problem(pos, "scenario %q is declared twice in this file", name)
		return
	}
	seen[name] = true
	sc := r.scenarios[name]
	if sc == nil {
		sc = &scen{name: name, pos: pos, steps: map[string]*step{}}
		r.scenarios[name] = sc
		r.order = append(r.order, name)
	}
	if hasStart {
		sc.start, sc.startPos = start, pos
	}
	stepsHere := map[string]bool{}
	for _, c := range e.children {
		cpos := flow.Pos{File: pos.File, Line: c.line}
		if c.name != "step" {
			r.problem(cpos, "scenario %q: unknown element <%s>; a scenario holds <step> elements", name, c.name)
			continue
		}
		r.step(sc, c, cpos, stepsHere)
	}
}

func (r *reader) step(sc *scen, e *element, pos flow.Pos, here map[string]bool) {
	what := fmt.Sprintf("scenario %q, step", sc.name)
	name := ""
	for _, a := range e.plainAttrs() {
		if a.Name.Local == "name" && a.Name.Space == "" {
			name = a.Value
		}
	}
	if name == "" {
		r.problem(pos, "%s: missing attribute name", what)
		return
	}
	what = fmt.Sprintf("scenario %q, step %q", sc.name, name)
	if here[name] {
		r.problem(pos, "%s is declared twice in this file", what)
		return
	}
	here[name] = true
	st := sc.steps[name]
	typ, hasType := e.typeAttr()
	switch {
	case hasType && !slices.Contains(stepTypes, StepType(typ)):
		r.problem(pos, "%s: unknown xsi:type %q; use one of %s", what, typ, joinTypes())
		return
	case st == nil && !hasType:
		r.problem(pos, "%s: a new step needs an xsi:type (%s)", what, joinTypes())
		return
	case st != nil && hasType && StepType(typ) != st.typ:
		r.problem(pos, "%s: xsi:type %q differs from %q declared at %s", what, typ, st.typ, st.pos)
		return
	case st == nil:
		st = &step{name: name, typ: StepType(typ), pos: pos}
		sc.steps[name] = st
		sc.order = append(sc.order, name)
	}
	a := r.attrs(e, pos, what, stepAttrs[st.typ]...)
	a.required("name")
	next, hasNext := a.get("next")
	exit, hasExit := a.get("exit")
	switch {
	case hasNext && hasExit && exit == "true":
		r.problem(pos, "%s: a step has next or exit=\"true\", not both", what)
	case hasExit && exit != "true" && exit != "false":
		r.problem(pos, "%s: exit must be \"true\" or \"false\", got %q", what, exit)
	case hasExit:
		st.exit = exit == "true"
		if st.exit {
			st.next = ""
		}
	}
	if hasNext {
		st.next, st.exit = next, false
	}
	if v, ok := a.get("routine"); ok {
		st.routine = v
	}
	if p, ok := a.path("inputPath"); ok {
		st.input = p
	}
	if p, ok := a.path("outputPath"); ok {
		st.output = p
	}
	before, hasBefore := a.get("before")
	after, hasAfter := a.get("after")
	if hasBefore && hasAfter {
		r.problem(pos, "%s: an observer is either before or after a step, not both", what)
	} else if hasBefore {
		st.before, st.after = before, ""
	} else if hasAfter {
		st.before, st.after = "", after
	}
	if v, ok := a.get("error"); ok {
		st.errName = v
	}
	if v, ok := a.get("cause"); ok {
		st.cause = v
	}
	for _, c := range e.children {
		cpos := flow.Pos{File: pos.File, Line: c.line}
		if !slices.Contains(stepChildren[st.typ], c.name) {
			allowed := "no child elements"
			if cs := stepChildren[st.typ]; len(cs) > 0 {
				allowed = "<" + strings.Join(cs, ">, <") + ">"
			}
			r.problem(cpos, "%s: a %s step takes %s, not <%s>", what, st.typ, allowed, c.name)
			continue
		}
		switch c.name {
		case "catch":
			r.catch(st, c, cpos, what)
		case "retry":
			r.retry(st, c, cpos, what)
		case "choice":
			r.decision(st, c, cpos, what)
		}
	}
}

// exception reads a catch's or retry's error name. The design document
// spells the attribute "exceptoin"; files written from it load as they are.
func exception(a *attrs) string {
	if v, ok := a.get("exceptoin"); ok {
		return v
	}
	return a.required("exception")
}

// catch adds a catcher, replacing an earlier one of the same exception.
func (r *reader) catch(st *step, e *element, pos flow.Pos, what string) {
	a := r.attrs(e, pos, what+", catch", "exception", "exceptoin", "next", "outputPath")
	name := exception(a)
	c := flow.Catcher{Errors: []string{name}, Next: a.required("next"), Pos: pos}
	if p, ok := a.path("outputPath"); ok {
		c.Result = p
	} else {
		c.Result, _ = path(errorPath)
	}
	if i := slices.IndexFunc(st.catches, func(o flow.Catcher) bool { return o.Errors[0] == name }); i >= 0 {
		st.catches[i] = c
		return
	}
	st.catches = append(st.catches, c)
}

// retry adds a retrier, replacing an earlier one of the same exception:
// attempts retries after the first try, timeout milliseconds apart.
func (r *reader) retry(st *step, e *element, pos flow.Pos, what string) {
	a := r.attrs(e, pos, what+", retry", "exception", "exceptoin", "attempts", "timeout")
	name := exception(a)
	rt := flow.DefaultRetrier
	rt.Errors, rt.Pos, rt.Backoff = []string{name}, pos, 1
	if n, ok := a.count("attempts"); ok {
		rt.MaxAttempts = n
	}
	if ms, ok := a.count("timeout"); ok {
		rt.Interval = time.Duration(ms) * time.Millisecond
	}
	if i := slices.IndexFunc(st.retries, func(o flow.Retrier) bool { return o.Errors[0] == name }); i >= 0 {
		st.retries[i] = rt
		return
	}
	st.retries = append(st.retries, rt)
}

// decision adds a rule of a Choice step; a later decision of the same name
// replaces the earlier one.
func (r *reader) decision(st *step, e *element, pos flow.Pos, what string) {
	if t, ok := e.typeAttr(); ok && t != "Decision" {
		r.problem(pos, "%s: a choice has xsi:type \"Decision\", got %q", what, t)
		return
	}
	a := r.attrs(e, pos, what+", choice", "name", "next")
	d := decision{next: a.required("next"), pos: pos}
	d.name, _ = a.get("name")
	what = fmt.Sprintf("%s, choice %q", what, d.name)
	d.when = r.junction(flow.All, e.children, pos, what)
	if d.when == nil {
		return
	}
	if i := slices.IndexFunc(st.decisions, func(o decision) bool { return d.name != "" && o.name == d.name }); i >= 0 {
		st.decisions[i] = d
		return
	}
	st.decisions = append(st.decisions, d)
}

var connectives = map[string]flow.Junction{"and": flow.All, "or": flow.Any, "nor": flow.None}

// junction reads <connective> and <condition> elements joined by j. One
// member stands for itself.
func (r *reader) junction(j flow.Junction, es []*element, pos flow.Pos, what string) flow.Cond {
	k := &flow.Connective{Junction: j}
	for _, e := range es {
		cpos := flow.Pos{File: pos.File, Line: e.line}
		switch e.name {
		case "connective":
			a := r.attrs(e, cpos, what+", connective", "type")
			t, ok := a.get("type")
			if !ok {
				t = "and"
			}
			cj, known := connectives[t]
			if !known {
				r.problem(cpos, "%s: connective type %q must be and, or or nor", what, t)
				return nil
			}
			m := r.junction(cj, e.children, cpos, what)
			if m == nil {
				return nil
			}
			k.Conds = append(k.Conds, m)
		case "condition":
			c := r.condition(e, cpos, what)
			if c == nil {
				return nil
			}
			k.Conds = append(k.Conds, c)
		default:
			r.problem(cpos, "%s: unknown element <%s>; use <connective> or <condition>", what, e.name)
			return nil
		}
	}
	switch {
	case len(k.Conds) == 0:
		r.problem(pos, "%s: no conditions", what)
		return nil
	case len(k.Conds) == 1 && j == flow.All:
		return k.Conds[0]
	}
	return k
}

func (r *reader) condition(e *element, pos flow.Pos, what string) flow.Cond {
	a := r.attrs(e, pos, what+", condition", "type", "value")
	t := a.required("type")
	p, hasPath := a.path("value")
	if !hasPath && a.ok {
		r.problem(pos, "%s, condition: missing attribute value (the path to compare)", what)
	}
	op, ok := flow.ParseOp(t)
	if t != "" && !ok {
		r.problem(pos, "%s: condition type %q must be one of %s", what, t, flow.OpNames())
	}
	if !ok || p == nil {
		return nil
	}
	return &flow.Compare{Path: p, Op: op, Value: literal(e.text)}
}

// literal reads a condition's text: a number, true, false or null as such,
// anything else as a string.
func literal(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// routine merges a routine declaration; a later file overrides attributes.
func (r *reader) routine(e *element, pos flow.Pos) {
	typ, _ := e.typeAttr()
	if typ != webAPIRoutine && typ != magentoWebAPIRoutine {
		r.problem(pos, "routine: xsi:type must be %q (or %q), got %q", webAPIRoutine, magentoWebAPIRoutine, typ)
		return
	}
	a := r.attrs(e, pos, "routine", "name", "method", "url", "timeout")
	name := a.required("name")
	a.what = fmt.Sprintf("routine %q", name)
	if name == "" {
		return
	}
	d := r.routines[name]
	if d == nil {
		d = &routineDecl{name: name, pos: pos}
		r.routines[name] = d
		r.rorder = append(r.rorder, name)
	}
	if v, ok := a.get("method"); ok {
		d.method = v
	}
	if v, ok := a.get("url"); ok {
		d.url = v
	}
	if ms, ok := a.count("timeout"); ok {
		d.timeout = time.Duration(ms) * time.Millisecond
	}
}

func (r *reader) buildRoutines(client *httpcall.Client, env httpcall.Env) {
	for _, name := range r.rorder {
		d := r.routines[name]
		if _, dup := r.b.Routines[name]; dup {
			r.problem(d.pos, "routine %q is already defined by a script", name)
			continue
		}
		if d.url == "" {
			r.problem(d.pos, "routine %q: missing attribute url", name)
			continue
		}
		rt, err := httpcall.New(client, httpcall.Spec{Method: d.method, URL: d.url, Timeout: d.timeout, Env: env})
		if err != nil {
			r.problem(d.pos, "routine %q: %s", name, err)
			continue
		}
		r.b.Routines[name] = rt
	}
}

func (r *reader) buildScenarios() {
	for _, name := range r.order {
		sc := r.scenarios[name]
		if old := r.b.Workflows[name]; old != nil {
			r.problem(sc.pos, "scenario %q: a workflow of that name is already defined at %s", name, old.Pos)
			continue
		}
		w := &flow.Workflow{Name: name, Pos: sc.pos}
		w.Machine = flow.Machine{Start: sc.start, StartPos: cmp.Or(sc.startPos, sc.pos), Pos: sc.pos, States: map[string]*flow.State{}}
		for _, sn := range sc.order {
			st := sc.steps[sn]
			if st.typ == ObserverStep {
				r.observer(sc, st)
				continue
			}
			if w.Start == "" {
				w.Start = sn
			}
			w.States[sn] = r.state(sc, st)
			w.Order = append(w.Order, sn)
		}
		r.b.Workflows[name] = w
	}
}

func (r *reader) state(sc *scen, st *step) *flow.State {
	s := &flow.State{Name: st.name, Pos: st.pos, Input: expr(st.input)}
	switch st.typ {
	case TaskStep:
		s.Kind, s.RoutineName, s.Next = flow.Task, st.routine, st.next
		s.Catch, s.Retry = st.catches, st.retries
		// Without an outputPath a task's result is not kept: the design
		// says outputPath is where the result goes, and nowhere is nowhere.
		s.Result, s.DiscardResult = st.output, st.output == nil
		if st.next == "" && !st.exit {
			r.problem(st.pos, "scenario %q, step %q: a task needs next=\"...\" or exit=\"true\"", sc.name, st.name)
		}
	case ChoiceStep:
		s.Kind, s.Default = flow.Choice, st.next
		for _, d := range st.decisions {
			s.Rules = append(s.Rules, flow.Rule{Name: d.name, When: d.when, Next: d.next, Pos: d.pos})
		}
	case SuccessStep:
		s.Kind, s.Output = flow.Succeed, expr(st.output)
	case FailureStep:
		s.Kind = flow.Fail
		if st.errName != "" {
			s.Error = flow.Const{Value: st.errName}
		}
		if st.cause != "" {
			s.Cause = flow.Const{Value: st.cause}
		}
	}
	return s
}

// observer turns an Observer step into an observer of the step it names:
// after it, it sees the step's output; before it, the step's input, and
// the step waits for its first call.
func (r *reader) observer(sc *scen, st *step) {
	o := &flow.Observer{Name: st.name, Workflow: sc.name, RoutineName: st.routine, Input: expr(st.input), Retry: st.retries, Pos: st.pos}
	switch {
	case st.after != "":
		o.On, o.State = store.EventStateExited, st.after
	case st.before != "":
		o.On, o.State, o.Before = store.EventStateEntered, st.before, true
	default:
		r.problem(st.pos, "scenario %q, step %q: an observer needs before=\"Step\" or after=\"Step\"", sc.name, st.name)
		return
	}
	if o.RoutineName == "" {
		r.problem(st.pos, "scenario %q, step %q: an observer needs a routine", sc.name, st.name)
		return
	}
	r.b.Observers = append(r.b.Observers, o)
}

// expr keeps a nil path a nil Expr (the whole data), not a typed nil.
func expr(p *flow.Path) flow.Expr {
	if p == nil {
		return nil
	}
	return p
}

func joinTypes() string {
	names := make([]string, len(stepTypes))
	for i, t := range stepTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// attrs reads an element's attributes, reporting at once those the
// element does not take, which is how typos surface.
type attrs struct {
	r    *reader
	pos  flow.Pos
	what string
	m    map[string]string
	ok   bool // no problem reported yet
}

func (r *reader) attrs(e *element, pos flow.Pos, what string, allowed ...string) *attrs {
	a := &attrs{r: r, pos: pos, what: what, m: map[string]string{}, ok: true}
	for _, x := range e.plainAttrs() {
		key := x.Name.Local
		if x.Name.Space != "" {
			key = x.Name.Space + ":" + key
		}
		if !slices.Contains(allowed, key) {
			a.problem("unknown attribute %q; it takes %s", key, strings.Join(allowed, ", "))
			continue
		}
		a.m[key] = x.Value
	}
	return a
}

func (a *attrs) problem(format string, args ...any) {
	a.ok = false
	a.r.problem(a.pos, "%s: %s", a.what, fmt.Sprintf(format, args...))
}

func (a *attrs) get(name string) (string, bool) {
	v, ok := a.m[name]
	return v, ok
}

func (a *attrs) required(name string) string {
	v, ok := a.get(name)
	if !ok || v == "" {
		a.problem("missing attribute %s", name)
	}
	return v
}

func (a *attrs) path(name string) (*flow.Path, bool) {
	v, ok := a.get(name)
	if !ok {
		return nil, false
	}
	p, err := path(v)
	if err != nil {
		a.problem("%s: %s", name, err)
		return nil, false
	}
	return p, true
}

// count reads a whole number >= 0.
func (a *attrs) count(name string) (int, bool) {
	v, ok := a.get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		a.problem("%s must be a whole number >= 0, got %q", name, v)
		return 0, false
	}
	return n, true
}
