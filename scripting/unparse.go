package scripting

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// LuaScript writes a loaded workflow as a Lua script of the DSL, with the
// http routines its tasks and observers call and its observers, so that a
// definition written in a declarative format (XML, ASL) can move to Lua
// (`orbit convert`). Only the declarative parts of a workflow can be
// written: paths, constants, declarative conditions, http routines. A Lua
// function, or a routine of another kind, is named in the error, or, for a
// routine, left to the bundle that defines it with a comment saying so.
func LuaScript(b *flow.Bundle, workflow string) (string, error) {
	w := b.Workflows[workflow]
	if w == nil {
		return "", fmt.Errorf("no workflow %q", workflow)
	}
	u := &unparser{b: b, routines: map[string]bool{}}
	var body strings.Builder
	if doc, ok := w.Definition.(*asl.Node); ok {
		// An ASL workflow is written from its document: what its hooks
		// do cannot be read back from them.
		u.aslWorkflow(&body, w, doc)
	} else {
		u.workflow(&body, w)
	}
	var obs []*flow.Observer
	for _, o := range b.Observers {
		if o.Workflow == w.Name && o.RoutineName != "" {
			obs = append(obs, o)
			u.routines[o.RoutineName] = true
		}
	}
	for _, o := range obs {
		u.observer(&body, o)
	}
	if len(u.problems) > 0 {
		return "", fmt.Errorf("workflow %q cannot be written in Lua:\n  %s", workflow, strings.Join(u.problems, "\n  "))
	}
	var out strings.Builder
	fmt.Fprintf(&out, "-- Workflow %q, converted by orbit convert.\n\n", w.Name)
	for _, name := range slices.Sorted(maps.Keys(u.routines)) {
		u.routine(&out, name)
	}
	out.WriteString(body.String())
	return out.String(), nil
}

type unparser struct {
	b        *flow.Bundle
	routines map[string]bool // names the workflow calls
	problems []string
}

func (u *unparser) cannot(format string, args ...any) {
	u.problems = append(u.problems, fmt.Sprintf(format, args...))
}

func (u *unparser) routine(out *strings.Builder, name string) {
	s, ok := httpcall.SpecOf(u.b.Routines[name])
	if !ok {
		fmt.Fprintf(out, "-- routine %s is not an http routine; the bundle that runs this script must define it.\n\n", luaString(name))
		return
	}
	fmt.Fprintf(out, "routine %s {\n  http = { method = %s, url = %s", luaString(name), luaString(cmpOr(s.Method, "GET")), luaString(s.URL))
	if s.Timeout > 0 {
		fmt.Fprintf(out, ", timeout = %s", luaString(duration(s.Timeout)))
	}
	if s.FullResponse {
		out.WriteString(", full_response = true")
	}
	if s.Pipeline {
		out.WriteString(", pipeline = true")
	}
	for _, m := range []struct {
		name string
		kv   map[string]string
	}{{"headers", s.Headers}, {"query", s.Query}} {
		if len(m.kv) == 0 {
			continue
		}
		fmt.Fprintf(out, ", %s = {", m.name)
		for i, k := range slices.Sorted(maps.Keys(m.kv)) {
			if i > 0 {
				out.WriteString(",")
			}
			fmt.Fprintf(out, " [%s] = %s", luaString(k), luaString(m.kv[k]))
		}
		out.WriteString(" }")
	}
	out.WriteString(" },\n}\n\n")
}

func (u *unparser) workflow(out *strings.Builder, w *flow.Workflow) {
	fmt.Fprintf(out, "workflow %s {\n", luaString(w.Name))
	if w.Version != "" && w.Version != u.b.Hash {
		fmt.Fprintf(out, "  version = %s,\n", luaString(w.Version))
	}
	if w.Timeout > 0 {
		fmt.Fprintf(out, "  timeout = %s,\n", luaString(duration(w.Timeout)))
	}
	if w.Mode == flow.Express {
		out.WriteString("  mode = \"express\",\n")
	}
	if c := w.Concurrency; c != nil {
		fmt.Fprintf(out, "  concurrency = { key = %s, limit = %d },\n", u.expr(c.Key, "concurrency key of "+w.Name), c.Limit)
	}
	if w.Migrate != nil {
		u.cannot("workflow %q: migrate is a Lua function", w.Name)
	}
	u.machine(out, &w.Machine, w.Name, "  ")
	out.WriteString("}\n\n")
}

func (u *unparser) machine(out *strings.Builder, m *flow.Machine, where, indent string) {
	fmt.Fprintf(out, "%sstart = %s,\n%sstates = {\n", indent, luaString(m.Start), indent)
	for _, name := range m.Order {
		u.state(out, m.States[name], where, indent+"  ")
	}
	fmt.Fprintf(out, "%s},\n", indent)
}

// state writes one state; fields are written in a fixed order so that the
// output of one definition never changes.
func (u *unparser) state(out *strings.Builder, s *flow.State, where, indent string) {
	what := fmt.Sprintf("%s, state %q", where, s.Name)
	var f []string
	add := func(k, v string) { f = append(f, k+" = "+v) }
	str := func(k, v string) {
		if v != "" {
			add(k, luaString(v))
		}
	}
	if s.Kind == flow.Task {
		str("routine", s.RoutineName)
		u.routines[s.RoutineName] = true
	}
	if s.Input != nil {
		add("input", u.expr(s.Input, what+", input"))
	}
	switch {
	case s.DiscardResult:
		add("result", "false")
	case s.Result != nil:
		add("result", luaString(s.Result.String()))
	}
	if s.Output != nil {
		add("output", u.expr(s.Output, what+", output"))
	}
	if s.Finish != nil {
		u.cannot("%s: its output is shaped by a function (an ASL template or Assign), which Lua cannot be given yet", what)
	}
	switch s.Kind {
	case flow.Choice:
		for i := range s.Rules {
			f = append(f, u.rule(&s.Rules[i], fmt.Sprintf("%s, rule %d", what, i+1)))
		}
		str("default", s.Default)
	case flow.Pass:
		if s.HasValue {
			add("value", luaValue(s.Value))
		}
	case flow.Wait:
		if s.WaitFor > 0 {
			add("duration", luaString(duration(s.WaitFor)))
		}
		if s.Until != nil {
			add("until", u.expr(s.Until, what+", until"))
		}
	case flow.Await:
		str("event", s.Event)
	case flow.Parallel:
		var bs strings.Builder
		bs.WriteString("branches = {\n")
		for i, br := range s.Branches {
			fmt.Fprintf(&bs, "%s    {\n", indent)
			u.machine(&bs, br, fmt.Sprintf("%s, branch %d", what, i+1), indent+"      ")
			fmt.Fprintf(&bs, "%s    },\n", indent)
		}
		fmt.Fprintf(&bs, "%s  }", indent)
		f = append(f, bs.String())
	case flow.Map:
		add("items", u.expr(s.Items, what+", items"))
		if s.MaxConcurrency > 0 {
			add("max_concurrency", strconv.Itoa(s.MaxConcurrency))
		}
		var is strings.Builder
		is.WriteString("iterator = {\n")
		u.machine(&is, s.Iterator, what+", iterator", indent+"    ")
		fmt.Fprintf(&is, "%s  }", indent)
		f = append(f, is.String())
	case flow.Call:
		str("workflow", s.Workflow)
		str("version", s.Version)
	case flow.Fail:
		if s.Error != nil {
			add("error", u.text(s.Error, what+", error"))
		}
		if s.Cause != nil {
			add("cause", u.text(s.Cause, what+", cause"))
		}
	}
	if s.Timeout > 0 {
		add("timeout", luaString(duration(s.Timeout)))
	}
	if len(s.Retry) > 0 {
		add("retry", retriers(s.Retry))
	}
	if len(s.Catch) > 0 {
		var cs []string
		for _, c := range s.Catch {
			e := "{ errors = " + luaStrings(c.Errors) + ", next = " + luaString(c.Next)
			if c.Result != nil {
				e += ", result = " + luaString(c.Result.String())
			}
			cs = append(cs, e+" }")
		}
		add("catch", "{ "+strings.Join(cs, ", ")+" }")
	}
	switch s.Kind {
	case flow.Choice, flow.Succeed, flow.Fail:
	default:
		str("next", s.Next)
	}
	fmt.Fprintf(out, "%s%s = %s {", indent, luaKey(s.Name), s.Kind)
	if len(f) == 0 {
		out.WriteString("},\n")
		return
	}
	out.WriteString("\n")
	for _, x := range f {
		fmt.Fprintf(out, "%s  %s,\n", indent, x)
	}
	fmt.Fprintf(out, "%s},\n", indent)
}

func (u *unparser) rule(r *flow.Rule, what string) string {
	s := "{ "
	if r.Name != "" {
		s += "name = " + luaString(r.Name) + ", "
	}
	return s + "when = " + u.cond(r.When, what) + ", next = " + luaString(r.Next) + " }"
}

func (u *unparser) cond(c flow.Cond, what string) string {
	switch k := c.(type) {
	case *flow.Compare:
		return fmt.Sprintf("%s(%s, %s)", k.Op, luaString(k.Path.String()), luaValue(k.Value))
	case *flow.Connective:
		parts := make([]string, len(k.Conds))
		for i, m := range k.Conds {
			parts[i] = u.cond(m, what)
		}
		return k.Junction.String() + " { " + strings.Join(parts, ", ") + " }"
	case flow.Truthy:
		if p, ok := k.Expr.(*flow.Path); ok {
			return luaString(p.String())
		}
	}
	u.cannot("%s: the condition is a function", what)
	return "nil"
}

func (u *unparser) expr(e flow.Expr, what string) string {
	if p, ok := e.(*flow.Path); ok {
		return luaString(p.String())
	}
	u.cannot("%s is a function, not a path", what)
	return "nil"
}

// text writes a fail state's error or cause: a constant, or a path.
func (u *unparser) text(e flow.Expr, what string) string {
	if k, ok := e.(flow.Const); ok {
		if s, ok := k.Value.(string); ok && !strings.HasPrefix(s, "$") {
			return luaString(s)
		}
	}
	return u.expr(e, what)
}

func (u *unparser) observer(out *strings.Builder, o *flow.Observer) {
	out.WriteString("observe { ")
	if o.Name != "" {
		fmt.Fprintf(out, "name = %s, ", luaString(o.Name))
	}
	fmt.Fprintf(out, "workflow = %s, on = %s", luaString(o.Workflow), luaString(string(o.On)))
	if o.State != "" {
		fmt.Fprintf(out, ", state = %s", luaString(o.State))
	}
	if o.Before {
		out.WriteString(", before = true")
	}
	fmt.Fprintf(out, ",\n          routine = %s", luaString(o.RoutineName))
	if o.Input != nil {
		fmt.Fprintf(out, ", input = %s", u.expr(o.Input, fmt.Sprintf("observer of %s", o.State)+" input"))
	}
	if len(o.Retry) > 0 {
		fmt.Fprintf(out, ", retry = %s", retriers(o.Retry))
	}
	out.WriteString(" }\n\n")
}

func retriers(rs []flow.Retrier) string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("{ errors = %s, max_attempts = %d, interval = %s, backoff = %s",
			luaStrings(r.Errors), r.MaxAttempts, luaString(duration(r.Interval)), number(r.Backoff))
		if r.MaxDelay > 0 {
			s += ", max_delay = " + luaString(duration(r.MaxDelay))
		}
		if r.FullJitter {
			s += `, jitter = "full"`
		}
		out = append(out, s+" }")
	}
	return "{ " + strings.Join(out, ", ") + " }"
}

// duration writes a duration as the DSL reads it ("1m30s", "250ms").
func duration(d time.Duration) string { return d.String() }

func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// luaString quotes s as a Lua string literal: Lua 5.1 knows no \x or \u
// escapes, so control bytes are written as decimal escapes and the rest,
// UTF-8 included, as is.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c < ' ' || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func luaStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = luaString(s)
	}
	return "{ " + strings.Join(q, ", ") + " }"
}

// luaKey writes a table key: a bare name when Lua allows one.
func luaKey(k string) string {
	if isLuaName(k) {
		return k
	}
	return "[" + luaString(k) + "]"
}

var luaKeywords = []string{"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}

func isLuaName(k string) bool {
	if k == "" || slices.Contains(luaKeywords, k) {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// luaValue writes a JSON value as a Lua value.
func luaValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return number(x)
	case int:
		return strconv.Itoa(x)
	case string:
		return luaString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = luaValue(e)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, luaKey(k)+" = "+luaValue(x[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return luaString(fmt.Sprint(v))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
