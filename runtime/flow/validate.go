package flow

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orbit-sidecar/orbit/store"
)

// Validate checks the structure of every workflow of the bundle, every
// machine nested in them (parallel branches, map iterators) and every
// observer. It sees the model only: what the source alone reveals (syntax,
// duplicate or unknown fields, wrong types) is the loader's to report, and
// the loader merges both lists. Problems come in a stable order (workflows by
// name, states in definition order, then observers) so reloads of unchanged
// files report identically.
func Validate(b *Bundle) Problems {
	v := validator{b: b}
	// The loader validates even a model its own problems left incomplete,
	// so holes are skipped rather than trusted.
	for _, name := range slices.Sorted(maps.Keys(b.Workflows)) {
		if w := b.Workflows[name]; w != nil {
			v.workflow(name, w)
		}
	}
	for i, o := range b.Observers {
		if o != nil {
			v.observer(i+1, o)
		}
	}
	return v.ps
}

// Sort orders problems by file and line, keeping the order of problems on
// the same line, so a loader can merge its own findings with Validate's and
// print them as an editor expects.
func (ps Problems) Sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
}

type validator struct {
	b  *Bundle
	ps Problems
}

// scope says which machine a message is about: nested machines have no name
// of their own, so they are described by the state that holds them.
type scope struct {
	label string // `workflow "X"`, `branch 1 of parallel "P" in workflow "X"`
	noun  string // what "this ..." refers to in messages: workflow, branch, iterator
}

func (v *validator) add(pos Pos, format string, args ...any) {
	v.ps = append(v.ps, Problem{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// unresolved is add for a name the bundle does not define.
func (v *validator) unresolved(pos Pos, format string, args ...any) {
	v.add(pos, format, args...)
	v.ps[len(v.ps)-1].Unresolved = true
}

// orPos prefers the more exact position and falls back to the enclosing one
// when the loader could not tell (Go-built definitions, generated states).
func orPos(p, fallback Pos) Pos {
	if p.File == "" {
		return fallback
	}
	return p
}

// MaxEventName bounds the name of an event, in bytes. Event names are
// part of a store's keys: a NATS subject built from a long one exceeded
// the server's control line (4 KiB by default), which closes the
// connection every write of the sidecar shares.
const MaxEventName = 128

func (v *validator) workflow(name string, w *Workflow) {
	label := fmt.Sprintf("workflow %q", name)
	// Names and versions are keys of the store's listing, which separates
	// them with a zero byte, and appear in URLs and logs: a control
	// character in one made every start of the workflow fail to checkpoint.
	for _, f := range []struct{ what, s string }{{"name", name}, {"version", w.Version}} {
		if i := strings.IndexFunc(f.s, unicode.IsControl); i >= 0 {
			r, _ := utf8.DecodeRuneInString(f.s[i:])
			v.add(w.Pos, "%s: the %s holds the control character %U; it must be printable text", label, f.what, r)
		}
	}
	if w.Timeout < 0 {
		v.add(w.Pos, "%s: timeout %s is negative", label, w.Timeout)
	}
	if c := w.Concurrency; c != nil {
		if c.Key == nil {
			v.add(w.Pos, "%s: concurrency has no key", label)
		}
		if c.Limit < 1 {
			v.add(w.Pos, "%s: concurrency limit is %d; it must be 1 or more", label, c.Limit)
		}
	}
	v.machine(&w.Machine, scope{label: label, noun: "workflow"}, w.Pos)
}

func (v *validator) machine(m *Machine, sc scope, fallback Pos) {
	pos := orPos(m.Pos, fallback)
	names, dups := stateNames(m)
	startOK := false
	switch {
	case m.Start == "":
		v.add(pos, "%s: missing start", sc.label)
	case m.States[m.Start] == nil:
		v.add(orPos(m.StartPos, pos), "%s: start %q is not a state of this %s", sc.label, m.Start, sc.noun)
	default:
		startOK = true
	}
	// Without a valid start every state would look unreachable; the missing
	// start is the one problem worth reading, so the graph checks wait.
	var reach, ends map[string]bool
	if startOK {
		reach = reachable(m)
		ends = canEnd(m)
	}
	for _, name := range names {
		s := m.States[name]
		spos := orPos(s.Pos, pos)
		prefix := fmt.Sprintf("%s, state %q", sc.label, name)
		if dups[name] {
			v.add(spos, "%s: defined more than once; state names must be unique in a %s", prefix, sc.noun)
		}
		v.state(m, s, prefix, spos, sc)
		switch {
		case !startOK:
		case !reach[name]:
			v.add(spos, "%s: unreachable from start %q", prefix, m.Start)
		case !ends[name]:
			v.add(spos, "%s: no way to end; every path from it loops without reaching succeed, fail or a state without next", prefix)
		}
		for i, br := range s.Branches {
			if br == nil {
				v.add(spos, "%s: branch %d is empty", prefix, i+1)
				continue
			}
			v.machine(br, scope{label: fmt.Sprintf("branch %d of parallel %q in %s", i+1, name, sc.label), noun: "branch"}, spos)
		}
		if s.Iterator != nil {
			v.machine(s.Iterator, scope{label: fmt.Sprintf("iterator of map %q in %s", name, sc.label), noun: "iterator"}, spos)
		}
	}
}

// state checks one state's own fields and that its transitions stay inside
// its machine.
func (v *validator) state(m *Machine, s *State, prefix string, pos Pos, sc scope) {
	if s.Timeout < 0 {
		v.add(pos, "%s: timeout %s is negative", prefix, s.Timeout)
	}
	switch {
	case s.Heartbeat < 0:
		v.add(pos, "%s: heartbeat %s is negative", prefix, s.Heartbeat)
	case s.Heartbeat > 0 && s.Timeout > 0 && s.Heartbeat >= s.Timeout:
		v.add(pos, "%s: heartbeat %s must be shorter than the timeout %s", prefix, s.Heartbeat, s.Timeout)
	}
	switch s.Kind {
	case Task:
		if s.RoutineName == "" && s.Routine == nil {
			v.add(pos, "%s: task has no routine", prefix)
		}
	case Choice:
		if len(s.Rules) == 0 {
			v.add(pos, "%s: choice has no rules", prefix)
		}
		for i, r := range s.Rules {
			if r.When == nil {
				v.add(orPos(r.Pos, pos), "%s, rule %d: no when", prefix, i+1)
			}
			v.cond(r.When, orPos(r.Pos, pos), fmt.Sprintf("%s, rule %d", prefix, i+1))
		}
	case Wait:
		switch {
		case s.WaitFor == 0 && s.Until == nil:
			v.add(pos, "%s: wait needs one of duration, seconds or until", prefix)
		case s.WaitFor != 0 && s.Until != nil:
			v.add(pos, "%s: wait has both a duration and until; keep one", prefix)
		}
		if s.WaitFor < 0 {
			v.add(pos, "%s: wait duration %s is negative", prefix, s.WaitFor)
		}
	case Await:
		switch {
		case s.Event == "":
			v.add(pos, "%s: await has no event", prefix)
		case len(s.Event) > MaxEventName:
			v.add(pos, "%s: the event name is %d bytes long; at most %d", prefix, len(s.Event), MaxEventName)
		}
	case Parallel:
		if len(s.Branches) == 0 {
			v.add(pos, "%s: parallel has no branches", prefix)
		}
	case Map:
		if s.Iterator == nil {
			v.add(pos, "%s: map has no iterator", prefix)
		}
		if s.Items == nil {
			v.add(pos, "%s: map has no items", prefix)
		}
		if s.MaxConcurrency < 0 {
			v.add(pos, "%s: max_concurrency is %d; use 0 for no limit or a positive number", prefix, s.MaxConcurrency)
		}
		if t := s.Tolerance; t != nil {
			if t.HasCount && t.Count < 0 {
				v.add(pos, "%s: tolerated failure count %d is negative", prefix, t.Count)
			}
			if t.HasPercent && (t.Percent < 0 || t.Percent > 100) {
				v.add(pos, "%s: tolerated failure percentage %v must be between 0 and 100", prefix, t.Percent)
			}
		}
	case Call:
		if s.Workflow == "" {
			v.add(pos, "%s: call has no workflow", prefix)
		} else if v.b.Workflows[s.Workflow] == nil {
			v.unresolved(pos, "%s: call names workflow %q, which the bundle does not define", prefix, s.Workflow)
		}
	case Pass, Succeed, Fail:
	default:
		v.add(pos, "%s: unknown state kind %d", prefix, s.Kind)
	}
	for i := range s.Retry {
		v.retrier(&s.Retry[i], fmt.Sprintf("%s, retry %d", prefix, i+1), pos)
	}
	for i, c := range s.Catch {
		if len(c.Errors) == 0 {
			v.add(orPos(c.Pos, pos), "%s, catch %d: no errors; list error names or %q", prefix, i+1, ErrAll)
		}
	}
	for _, t := range s.Transitions() {
		tpos := orPos(t.Pos, pos)
		where, field := t.where()
		switch {
		case t.To == "":
			v.add(tpos, "%s%s: %s is missing", prefix, where, field)
		case m.States[t.To] == nil:
			v.add(tpos, "%s%s: %s %q is not a state of this %s", prefix, where, field, t.To, sc.noun)
		}
	}
}

// cond checks a declarative condition: loaders build them from text, so an
// empty connective or a missing path is the user's to fix, not a panic.
func (v *validator) cond(c Cond, pos Pos, prefix string) {
	switch k := c.(type) {
	case *Compare:
		if k.Path == nil {
			v.add(pos, "%s: a comparison has no path", prefix)
		}
		if _, ok := ParseOp(k.Op.String()); !ok {
			v.add(pos, "%s: unknown comparison %s; use one of %s", prefix, k.Op, OpNames())
		}
	case *Connective:
		if len(k.Conds) == 0 {
			v.add(pos, "%s: %s has no conditions", prefix, k.Junction)
		}
		for _, m := range k.Conds {
			v.cond(m, pos, prefix)
		}
	}
}

func (v *validator) retrier(r *Retrier, prefix string, pos Pos) {
	pos = orPos(r.Pos, pos)
	if len(r.Errors) == 0 {
		v.add(pos, "%s: no errors; list error names or %q", prefix, ErrAll)
	}
	if r.MaxAttempts < 0 {
		v.add(pos, "%s: max_attempts is %d; it must be 0 (no retries) or more", prefix, r.MaxAttempts)
	}
	if r.Interval < 0 {
		v.add(pos, "%s: interval %s is negative", prefix, r.Interval)
	}
	if r.Backoff < 1 {
		v.add(pos, "%s: backoff is %g; it must be 1 or more", prefix, r.Backoff)
	}
	if r.MaxDelay < 0 {
		v.add(pos, "%s: max_delay %s is negative", prefix, r.MaxDelay)
	}
}

func (v *validator) observer(n int, o *Observer) {
	prefix := fmt.Sprintf("observer %d", n)
	switch {
	case o.Plugin != "":
		// A hook's problem is the operator's to fix, in the plugins
		// directory, not the script author's.
		prefix = fmt.Sprintf("--plugins: hook of plugin %q on workflow %q", o.Plugin, o.Workflow)
	case o.Workflow != "":
		prefix = fmt.Sprintf("observer %d of workflow %q", n, o.Workflow)
	}
	var w *Workflow
	switch {
	case o.Workflow == "":
		v.add(o.Pos, "%s: no workflow; name one or \"*\"", prefix)
	case o.Workflow != "*":
		if w = v.b.Workflows[o.Workflow]; w == nil {
			v.unresolved(o.Pos, "%s: the bundle defines no such workflow", prefix)
		}
	}
	if !o.On.Valid() {
		v.add(o.Pos, "%s: on %q is not a history event type; use one of %s", prefix, o.On, eventTypeList)
	}
	if w != nil && o.State != "" && !hasState(&w.Machine, o.State) {
		v.add(o.Pos, "%s: state %q is not a state of the workflow", prefix, o.State)
	}
	if o.RoutineName == "" && o.Routine == nil {
		v.add(o.Pos, "%s: no routine", prefix)
	}
	if o.Before && (o.On != store.EventStateEntered || o.State == "") {
		v.add(o.Pos, "%s: before runs ahead of a state, so it needs on = \"StateEntered\" and a state", prefix)
	}
	for i := range o.Retry {
		v.retrier(&o.Retry[i], fmt.Sprintf("%s, retry %d", prefix, i+1), o.Pos)
	}
}

// hasState looks through nested machines too: history events of states in
// branches and iterators carry their name, so observers may name them.
func hasState(m *Machine, name string) bool {
	if m.States[name] != nil {
		return true
	}
	for _, s := range m.States {
		if s == nil {
			continue
		}
		for _, br := range s.Branches {
			if br != nil && hasState(br, name) {
				return true
			}
		}
		if s.Iterator != nil && hasState(s.Iterator, name) {
			return true
		}
	}
	return false
}

// stateNames lists a machine's states in definition order, then any state
// missing from Order by name, so that hand-built machines are checked and
// drawn whole. Names listed twice in Order are returned once and flagged.
func stateNames(m *Machine) (names []string, dups map[string]bool) {
	seen := make(map[string]bool, len(m.States))
	for _, n := range m.Order {
		switch {
		case m.States[n] == nil:
		case seen[n]:
			if dups == nil {
				dups = map[string]bool{}
			}
			dups[n] = true
		default:
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(m.States)) {
		if !seen[n] && m.States[n] != nil {
			names = append(names, n)
		}
	}
	return names, dups
}

// reachable is the set of states reachable from the start of m.
func reachable(m *Machine) map[string]bool {
	seen := map[string]bool{m.Start: true}
	queue := []string{m.Start}
	for len(queue) > 0 {
		s := m.States[queue[0]]
		queue = queue[1:]
		for _, t := range s.Transitions() {
			if !seen[t.To] && m.States[t.To] != nil {
				seen[t.To] = true
				queue = append(queue, t.To)
			}
		}
	}
	return seen
}

// canEnd is the set of states from which an end of m can be reached. A
// transition to an unknown state counts as a way out: that target is
// already reported, and a second report for the same typo is noise.
func canEnd(m *Machine) map[string]bool {
	ends := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, s := range m.States {
			if s == nil || ends[name] {
				continue
			}
			ok := s.Ends()
			for _, t := range s.Transitions() {
				ok = ok || ends[t.To] || m.States[t.To] == nil
			}
			if ok {
				ends[name] = true
				changed = true
			}
		}
	}
	return ends
}

// eventTypeList is store.EventTypes for messages.
var eventTypeList = func() string {
	names := make([]string, len(store.EventTypes))
	for i, t := range store.EventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}()
