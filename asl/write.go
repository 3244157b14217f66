package asl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Writing a workflow as an ASL document (orbit convert --to asl). An ASL
// workflow, whether from a file or a Lua workflow with language = "asl",
// is its document. Any other (Lua, XML) is written when it uses only what
// ASL can say with the same meaning: paths, declarative conditions,
// routines named by their names. Everything else is a problem that names
// the place:
//   - a Lua function (input, output, a condition, items, error, cause);
//   - await and call states;
//   - durations that are not whole seconds (ASL counts seconds);
//   - error matchers by prefix ("Http.5*") or naming States.TaskFailed,
//     which ASL reads as every error but States.Timeout;
//   - an express workflow, a concurrency key, a migration function.
//
// A catch puts {"error", "cause"} into the data where ASL's catcher puts
// {"Error", "Cause"}, so each catcher is followed by a Pass state the
// writer adds, "<state> caught <n>", that renames the two fields; Orbit's
// States.PayloadTooLarge is matched as ASL's States.DataLimitExceeded, and
// a fail state without an error fails with Orbit's States.Fail. A Lua
// comparison of a string with a number or a boolean reads the string as
// that type; ASL compares like with like, so a literal that spells a
// number or a boolean is written as both.

// Document is the ASL document of workflow w of bundle b.
func Document(b *flow.Bundle, w *flow.Workflow) (*Node, error) {
	if doc, ok := w.Definition.(*Node); ok {
		return doc, nil
	}
	wr := &writer{w: w}
	doc := NewObject(1)
	if w.Version != "" && w.Version != b.Hash {
		doc.Set("Version", NewValue(1, w.Version), 1)
	}
	if w.Timeout > 0 {
		doc.Set("TimeoutSeconds", NewValue(1, wr.seconds(w.Timeout, fmt.Sprintf("workflow %q: timeout", w.Name))), 1)
	}
	if w.Mode == flow.Express {
		wr.cannot("workflow %q: express mode is the type of an AWS state machine, which its document does not say", w.Name)
	}
	if w.Concurrency != nil {
		wr.cannot("workflow %q: ASL has no concurrency key", w.Name)
	}
	if w.Migrate != nil {
		wr.cannot("workflow %q: migrate is a Lua function", w.Name)
	}
	wr.machine(doc, &w.Machine, fmt.Sprintf("workflow %q", w.Name))
	if len(wr.problems) > 0 {
		return nil, fmt.Errorf("workflow %q cannot be written in ASL:\n  %s", w.Name, strings.Join(wr.problems, "\n  "))
	}
	return doc, nil
}

type writer struct {
	w        *flow.Workflow
	problems []string
}

func (wr *writer) cannot(format string, args ...any) {
	wr.problems = append(wr.problems, fmt.Sprintf(format, args...))
}

// put puts key with the JSON value v into n.
func put(n *Node, key string, v any) { n.Set(key, NewValue(1, v), 1) }

// seconds is d in whole seconds, or a problem.
func (wr *writer) seconds(d time.Duration, what string) float64 {
	if d%time.Second != 0 || d < time.Second {
		wr.cannot("%s %s: ASL counts whole seconds from 1", what, d)
	}
	return float64(d / time.Second)
}

func (wr *writer) machine(doc *Node, m *flow.Machine, where string) {
	put(doc, "StartAt", m.Start)
	states := NewObject(1)
	for _, name := range m.Order {
		st := m.States[name]
		what := fmt.Sprintf("%s, state %q", where, name)
		n, extra := wr.state(st, what)
		states.Set(name, n, 1)
		for _, e := range extra {
			if m.States[e.name] != nil || states.Get(e.name) != nil {
				wr.cannot("%s: the state %q the writer adds for catch %d is taken", what, e.name, e.catch)
				continue
			}
			states.Set(e.name, e.state, 1)
		}
	}
	doc.Set("States", states, 1)
}

// added is a Pass state the writer adds after a catcher.
type added struct {
	name  string
	catch int
	state *Node
}

// asl names the ASL type of each state kind ASL has.
var aslType = map[flow.Kind]string{flow.Task: "Task", flow.Pass: "Pass", flow.Choice: "Choice", flow.Wait: "Wait",
	flow.Succeed: "Succeed", flow.Fail: "Fail", flow.Parallel: "Parallel", flow.Map: "Map"}

func (wr *writer) state(st *flow.State, what string) (*Node, []added) {
	n := NewObject(1)
	typ, ok := aslType[st.Kind]
	if !ok {
		wr.cannot("%s: ASL has no %s state", what, st.Kind)
		return n, nil
	}
	put(n, "Type", typ)
	if st.Finish != nil {
		wr.cannot("%s: its output is shaped by a function", what)
	}
	if st.Input != nil {
		wr.path(n, "InputPath", st.Input, what+", input")
	}
	if st.Timeout > 0 && st.Kind != flow.Task {
		wr.cannot("%s: ASL bounds the time of a Task only", what)
	}
	switch st.Kind {
	case flow.Task:
		put(n, "Resource", st.RoutineName)
		if st.TimeoutFrom != nil || st.HeartbeatFrom != nil {
			wr.cannot("%s: its timeout is read by a function", what)
		}
		if st.Timeout > 0 {
			put(n, "TimeoutSeconds", wr.seconds(st.Timeout, what+", timeout"))
		}
		if st.Heartbeat > 0 {
			put(n, "HeartbeatSeconds", wr.seconds(st.Heartbeat, what+", heartbeat"))
		}
	case flow.Pass:
		if st.HasValue {
			put(n, "Result", st.Value)
		}
	case flow.Choice:
		rules := NewArray(1)
		for i := range st.Rules {
			r := &st.Rules[i]
			rule := NewObject(1)
			if c := wr.cond(r.When, fmt.Sprintf("%s, rule %d", what, i+1)); c != nil {
				for _, k := range c.Keys() {
					rule.Set(k, c.Get(k), 1)
				}
			}
			put(rule, "Next", r.Next)
			rules.Append(rule)
		}
		n.Set("Choices", rules, 1)
		if st.Default != "" {
			put(n, "Default", st.Default)
		}
	case flow.Wait:
		switch {
		case st.Until != nil:
			wr.path(n, "TimestampPath", st.Until, what+", until")
		default:
			put(n, "Seconds", wr.seconds(st.WaitFor, what+", duration"))
		}
	case flow.Fail:
		wr.text(n, "Error", st.Error, flow.ErrFail, what+", error")
		wr.text(n, "Cause", st.Cause, "", what+", cause")
	case flow.Parallel:
		branches := NewArray(1)
		for i, b := range st.Branches {
			bn := NewObject(1)
			wr.machine(bn, b, fmt.Sprintf("%s, branch %d", what, i+1))
			branches.Append(bn)
		}
		n.Set("Branches", branches, 1)
	case flow.Map:
		wr.path(n, "ItemsPath", st.Items, what+", items")
		if st.MaxConcurrency > 0 {
			put(n, "MaxConcurrency", float64(st.MaxConcurrency))
		}
		if t := st.Tolerance; t != nil {
			if t.HasCount {
				put(n, "ToleratedFailureCount", float64(t.Count))
			}
			if t.HasPercent {
				put(n, "ToleratedFailurePercentage", t.Percent)
			}
		}
		if st.Limits != nil {
			wr.cannot("%s: its limits are read by a function", what)
		}
		proc := NewObject(1)
		if st.Iterator != nil {
			wr.machine(proc, st.Iterator, what+", iterator")
		}
		n.Set("ItemProcessor", proc, 1)
	}
	switch {
	case st.DiscardResult:
		put(n, "ResultPath", nil)
	case st.Result != nil:
		put(n, "ResultPath", st.Result.String())
	}
	if st.Output != nil {
		wr.path(n, "OutputPath", st.Output, what+", output")
	}
	if len(st.Retry) > 0 {
		retries := NewArray(1)
		for i := range st.Retry {
			retries.Append(wr.retrier(&st.Retry[i], fmt.Sprintf("%s, retry %d", what, i+1)))
		}
		n.Set("Retry", retries, 1)
	}
	var extra []added
	if len(st.Catch) > 0 {
		catches := NewArray(1)
		for i := range st.Catch {
			c := &st.Catch[i]
			cw := fmt.Sprintf("%s, catch %d", what, i+1)
			if c.Finish != nil {
				wr.cannot("%s: its output is shaped by a function", cw)
			}
			cn := NewObject(1)
			cn.Set("ErrorEquals", NewValue(1, wr.matchers(c.Errors, cw)), 1)
			// ASL's catcher writes {"Error", "Cause"}; a Pass state makes
			// them Orbit's {"error", "cause"} before the catch's next.
			at := "$"
			if c.Result != nil {
				at = c.Result.String()
			}
			name := fmt.Sprintf("%s caught %d", st.Name, i+1)
			put(cn, "ResultPath", at)
			put(cn, "Next", name)
			catches.Append(cn)
			rename := NewObject(1)
			put(rename, "Type", "Pass")
			field := func(k string) string {
				if at == "$" {
					return "$." + k
				}
				return at + "." + k
			}
			put(rename, "Parameters", map[string]any{"error.$": field("Error"), "cause.$": field("Cause")})
			put(rename, "ResultPath", at)
			put(rename, "Next", c.Next)
			extra = append(extra, added{name: name, catch: i + 1, state: rename})
		}
		n.Set("Catch", catches, 1)
	}
	switch st.Kind {
	case flow.Choice, flow.Succeed, flow.Fail:
	default:
		if st.Next != "" {
			put(n, "Next", st.Next)
		} else {
			put(n, "End", true)
		}
	}
	return n, extra
}

// path writes a path expression as field, or a problem for a function.
func (wr *writer) path(n *Node, field string, e flow.Expr, what string) {
	p, ok := e.(*flow.Path)
	if !ok {
		wr.cannot("%s is a function, not a path", what)
		return
	}
	put(n, field, p.String())
}

// text writes a fail state's error or cause: a constant, or a path as
// ErrorPath / CausePath; absent, def (when not empty).
func (wr *writer) text(n *Node, field string, e flow.Expr, def, what string) {
	switch x := e.(type) {
	case nil:
		if def != "" {
			put(n, field, def)
		}
	case flow.Const:
		s, _ := x.Value.(string)
		put(n, field, s)
	case *flow.Path:
		put(n, field+"Path", x.String())
	default:
		wr.cannot("%s is a function", what)
	}
}

func (wr *writer) retrier(r *flow.Retrier, what string) *Node {
	n := NewObject(1)
	n.Set("ErrorEquals", NewValue(1, wr.matchers(r.Errors, what)), 1)
	if r.Match != nil {
		wr.cannot("%s: its errors are matched by a function", what)
	}
	put(n, "IntervalSeconds", wr.seconds(r.Interval, what+", interval"))
	put(n, "MaxAttempts", float64(r.MaxAttempts))
	put(n, "BackoffRate", r.Backoff)
	if r.MaxDelay > 0 {
		put(n, "MaxDelaySeconds", wr.seconds(r.MaxDelay, what+", max_delay"))
	}
	if r.FullJitter {
		put(n, "JitterStrategy", "FULL")
	}
	return n
}

// matchers writes error matchers as ASL reads them to the same meaning.
func (wr *writer) matchers(errs []string, what string) []any {
	out := make([]any, 0, len(errs))
	for _, e := range errs {
		switch {
		case strings.HasSuffix(e, "*"):
			wr.cannot("%s: %q matches names by prefix, which ASL cannot", what, e)
		case e == flow.ErrTaskFailed:
			wr.cannot("%s: ASL reads %s as every error but States.Timeout, not that one name", what, e)
		case e == flow.ErrPayloadTooLarge:
			out = append(out, ErrDataLimitExceeded)
			continue
		}
		out = append(out, e)
	}
	return out
}

// cond writes a declarative condition as an ASL rule's condition.
func (wr *writer) cond(c flow.Cond, what string) *Node {
	switch k := c.(type) {
	case *flow.Compare:
		return wr.compare(k)
	case *flow.Connective:
		list := NewArray(1)
		for _, m := range k.Conds {
			if mc := wr.cond(m, what); mc != nil {
				list.Append(mc)
			}
		}
		n := NewObject(1)
		switch k.Junction {
		case flow.All:
			n.Set("And", list, 1)
		case flow.Any:
			n.Set("Or", list, 1)
		default:
			or := NewObject(1).Set("Or", list, 1)
			n.Set("Not", or, 1)
		}
		return n
	case flow.Truthy:
		if p, ok := k.Expr.(*flow.Path); ok {
			// Lua's truth: anything but null and false.
			v := NewValue(1, p.String())
			test := func(op string, lit any) *Node { return NewObject(1).Set("Variable", v, 1).Set(op, NewValue(1, lit), 1) }
			and := NewArray(1).Append(test("IsPresent", true)).
				Append(NewObject(1).Set("Not", test("IsNull", true), 1)).
				Append(NewObject(1).Set("Not", test("BooleanEquals", false), 1))
			return NewObject(1).Set("And", and, 1)
		}
	}
	wr.cannot("%s: the condition is a function", what)
	return nil
}

// compare writes a comparison with a literal as ASL's typed operators.
func (wr *writer) compare(k *flow.Compare) *Node {
	v := k.Path.String()
	test := func(op string, lit any) *Node {
		return NewObject(1).Set("Variable", NewValue(1, v), 1).Set(op, NewValue(1, lit), 1)
	}
	one := func(typ string, lit any) *Node {
		op := map[flow.Op]string{flow.Eq: "Equals", flow.Ne: "Equals", flow.Lt: "LessThan", flow.Lte: "LessThanEquals",
			flow.Gt: "GreaterThan", flow.Gte: "GreaterThanEquals"}[k.Op]
		return test(typ+op, lit)
	}
	var alts []*Node
	ordered := k.Op != flow.Eq && k.Op != flow.Ne
	switch lit := k.Value.(type) {
	case nil, bool:
		if ordered {
			wr.cannot("%s %s %v: ASL orders numbers, strings and timestamps only", v, k.Op.Symbol(), lit)
			return nil
		}
	}
	switch lit := k.Value.(type) {
	case nil:
		alts = append(alts, test("IsNull", true))
	case float64:
		alts = append(alts, one("Numeric", lit))
	case bool:
		alts = append(alts, one("Boolean", lit))
	case string:
		alts = append(alts, one("String", lit))
		// Lua reads a string as the number or boolean it spells when the
		// data holds one.
		if f, err := strconv.ParseFloat(strings.TrimSpace(lit), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			alts = append(alts, one("Numeric", f))
		} else if b, err := strconv.ParseBool(strings.TrimSpace(lit)); err == nil && !ordered {
			alts = append(alts, one("Boolean", b))
		}
	default:
		wr.cannot("%s %s %v: ASL compares a path with a string, a number, a boolean or null", v, k.Op.Symbol(), lit)
		return nil
	}
	c := alts[0]
	if len(alts) > 1 {
		or := NewArray(1)
		for _, a := range alts {
			or.Append(a)
		}
		c = NewObject(1).Set("Or", or, 1)
	}
	if k.Op == flow.Ne {
		c = NewObject(1).Set("Not", c, 1)
	}
	return c
}
