package flow

import (
	"fmt"
	"math"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Kind is a state type (SPEC 1.1).
type Kind uint8

// The state types.
const (
	Task Kind = iota + 1
	Choice
	Pass
	Wait
	Await
	Parallel
	Map
	Call
	Succeed
	Fail
)

var kindNames = [...]string{Task: "task", Choice: "choice", Pass: "pass", Wait: "wait", Await: "await",
	Parallel: "parallel", Map: "map", Call: "call", Succeed: "succeed", Fail: "fail"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Pos is where a definition was written, for file:line messages.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// State is one state of a machine. One struct serves every kind; the
// fields that apply to a kind are listed beside it.
type State struct {
	Name string
	Kind Kind
	Pos  Pos
	// Next is the following state; empty means the state ends its machine
	// (every kind but choice, succeed and fail).
	Next string

	Input         Expr  // nil: the whole data
	Result        *Path // where the state's result goes; nil means "$"
	DiscardResult bool  // result = false
	Output        Expr  // nil: the whole data
	// Finish, when set, makes the state's output and the variables it
	// assigns from its input and its result, in place of Result,
	// DiscardResult and Output (ASL's ResultSelector, ResultPath,
	// OutputPath and Assign, or JSONata's Output and Assign). A choice
	// calls it with its input as the result.
	Finish Finisher

	// task
	RoutineName string
	Routine     Routine // resolved at load time
	// task, await, parallel, map, call: timeout of one attempt (0: none)
	Timeout time.Duration
	// task: how long the routine may go without a sign of life (0: no
	// bound). A routine answers once and sends no heartbeats, so this
	// bounds the call like Timeout but fails it with States.HeartbeatTimeout
	// (ASL's HeartbeatSeconds).
	Heartbeat time.Duration
	// task: TimeoutFrom and HeartbeatFrom, when set, yield a number of
	// seconds from the state's data at run time, in place of Timeout and
	// Heartbeat (ASL's TimeoutSecondsPath and HeartbeatSecondsPath).
	TimeoutFrom   Expr
	HeartbeatFrom Expr
	Retry         []Retrier
	Catch         []Catcher

	// choice
	Rules   []Rule
	Default string

	// pass
	Value    any
	HasValue bool

	// wait: exactly one of WaitFor, Until
	WaitFor time.Duration
	Until   Expr // yields an RFC 3339 time

	// await
	Event string

	// parallel
	Branches []*Machine

	// map
	Items          Expr
	MaxConcurrency int // 0: unbounded
	Iterator       *Machine
	// Tolerance lets items fail without failing the map (nil: the first
	// failure fails it with the item's error).
	Tolerance *Tolerance
	// Limits, when set, yields MaxConcurrency and Tolerance from the
	// state's input at run time, in their place (ASL's MaxConcurrencyPath
	// and ToleratedFailure*Path, or their JSONata expressions).
	Limits Limiter

	// call
	Workflow string
	Version  string

	// fail
	Error Expr
	Cause Expr
}

// ErrToleranceExceeded is the error of a map state whose failed items
// exceed its Tolerance (the name ASL gives it).
const ErrToleranceExceeded = "States.ExceedToleratedFailureThreshold"

// Tolerance is how many items of a map may fail before the map does. A
// tolerated item leaves null at its place in the map's result.
type Tolerance struct {
	Count      int     // failed items allowed, when HasCount
	Percent    float64 // percentage of the items allowed to fail, when HasPercent
	HasCount   bool
	HasPercent bool
}

// Exceeded reports whether failed of total items exceed the tolerance:
// either bound that is set.
func (t *Tolerance) Exceeded(failed, total int) bool {
	if t.HasCount && failed > t.Count {
		return true
	}
	return t.HasPercent && total > 0 && float64(failed)*100 > t.Percent*float64(total)
}

// MapLimits are a map state's limits as its Limits yields them.
type MapLimits struct {
	MaxConcurrency int        // 0: unbounded
	Tolerance      *Tolerance // nil: none
}

// Limiter yields a map state's limits from the state's input at run time.
type Limiter interface {
	Limits(input any, c *Context) (MapLimits, error)
}

// Rule is one rule of a choice state.
type Rule struct {
	Name string // optional; drawn on the rule's edge
	When Cond
	Next string
	Pos  Pos
	// Finish, when set, shapes the output and variables of a choice that
	// took this rule; nil leaves it to the state's.
	Finish Finisher
}

// Finisher shapes what a state leaves behind: given the data the state was
// entered with and its result, the output passed on and the variables the
// state assigns (nil: none). The input and result must not be modified.
type Finisher interface {
	Finish(input, result any, c *Context) (output any, assign map[string]any, err error)
}

// Label is how the rule is drawn: its name and its condition as text,
// whichever it has, or "rule n" (1-based) when it has neither.
func (r *Rule) Label(n int) string {
	text := CondText(r.When)
	switch {
	case r.Name != "" && text != "":
		return r.Name + ": " + text
	case r.Name != "":
		return r.Name
	case text != "":
		return text
	}
	return fmt.Sprintf("rule %d", n)
}

// Retrier says how to retry errors it matches (SPEC 1.3).
type Retrier struct {
	Errors      []string
	MaxAttempts int // retries after the first try
	Interval    time.Duration
	Backoff     float64
	MaxDelay    time.Duration // 0: no cap
	FullJitter  bool
	Pos         Pos
	// Match, when set, decides which errors the retrier applies to in
	// place of Matches(Errors, name) (ASL's States.TaskFailed matches any
	// error but States.Timeout).
	Match func(name string) bool
}

// Handles reports whether the retrier applies to the error name.
func (r *Retrier) Handles(name string) bool {
	if r.Match != nil {
		return r.Match(name)
	}
	return Matches(r.Errors, name)
}

// DefaultRetrier has SPEC 1.3's defaults; loaders start from it.
var DefaultRetrier = Retrier{MaxAttempts: 3, Interval: time.Second, Backoff: 2.0}

// Delay is the wait before retry number n (1-based). rnd is a uniform
// number in [0, 1) used for full jitter.
func (r *Retrier) Delay(n int, rnd float64) time.Duration {
	// Without a cap the growth still stops at the largest Duration: beyond
	// it the float-to-int conversion wraps to a negative delay.
	limit := float64(math.MaxInt64)
	if r.MaxDelay > 0 {
		limit = float64(r.MaxDelay)
	}
	d := float64(r.Interval)
	for i := 1; i < n && d < limit && r.Backoff != 1; i++ {
		d *= r.Backoff
	}
	d = min(d, limit)
	if r.FullJitter {
		d *= rnd
	}
	if d >= float64(math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// Catcher sends errors it matches to another state (SPEC 1.3).
type Catcher struct {
	Errors []string
	Next   string
	Result *Path // where {error, cause} goes; nil means "$"
	Pos    Pos
	// Finish, when set, replaces Result: it gets the state's input and the
	// error as {"error": name, "cause": cause}.
	Finish Finisher
	// Match, when set, decides which errors the catcher takes in place of
	// Matches(Errors, name).
	Match func(name string) bool
}

// Handles reports whether the catcher takes the error name.
func (c *Catcher) Handles(name string) bool {
	if c.Match != nil {
		return c.Match(name)
	}
	return Matches(c.Errors, name)
}

// Machine is a set of states with a start: a workflow's body, a parallel
// branch or a map iterator.
type Machine struct {
	Start    string
	StartPos Pos
	States   map[string]*State
	Order    []string // state names in definition order, for stable output
	Pos      Pos
}

// Mode says how often an instance is checkpointed.
type Mode uint8

// The modes of SPEC 2.2.
const (
	Durable Mode = iota
	Express
)

// Concurrency bounds running instances per key (SPEC 2.1).
type Concurrency struct {
	Key   Expr
	Limit int
}

// Workflow is a named machine with its instance-level settings.
type Workflow struct {
	Name        string
	Version     string // the user's label, or the bundle hash
	Pos         Pos
	Timeout     time.Duration
	Mode        Mode
	Concurrency *Concurrency
	// Migrate, when set, maps an instance's state and data on migration to
	// this workflow (issue: hot reload).
	Migrate func(fromVersion, state string, data any) (string, any, error)
	// Dialect, when set, names the errors the engine raises itself as the
	// workflow's format names them (nil: Orbit's names).
	Dialect Dialect
	// Definition, when set, is the declarative definition the workflow was
	// compiled from (an ASL document), which converters write back: hooks
	// compiled from it cannot be read back. Nil for Lua and XML workflows.
	Definition any
	Machine

	// Machines indexes every machine of the workflow by its key: "" for the
	// body, "State[i]" for a parallel branch, "State" for a map iterator,
	// nested keys joined with "/". Filled by Index.
	Machines map[string]*Machine
}

// BranchKey names branch i of a parallel state inside machine parent.
func BranchKey(parent, state string, i int) string {
	return joinKey(parent, fmt.Sprintf("%s[%d]", state, i))
}

// IteratorKey names the iterator of a map state inside machine parent.
func IteratorKey(parent, state string) string { return joinKey(parent, state) }

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "/" + k
}

// Index fills Machines; loaders call it once the workflow is built.
func (w *Workflow) Index() {
	w.Machines = map[string]*Machine{}
	var walk func(key string, m *Machine)
	walk = func(key string, m *Machine) {
		w.Machines[key] = m
		for _, name := range m.Order {
			s := m.States[name]
			for i, b := range s.Branches {
				walk(BranchKey(key, name, i), b)
			}
			if s.Iterator != nil {
				walk(IteratorKey(key, name), s.Iterator)
			}
		}
	}
	walk("", &w.Machine)
}

// Dialect names the errors the engine raises itself in a workflow
// format's own terms, where its users know other names than Orbit's: an
// ASL workflow says States.DataLimitExceeded where Orbit says
// States.PayloadTooLarge (SPEC 1.7: AWS's names for ASL).
type Dialect interface {
	// PayloadTooLarge is the error of state st whose data, input, result
	// or variables (what) of size bytes exceed the limit.
	PayloadTooLarge(st *State, what string, size, limit int) *Error
	// UnnamedFailure is the error name of a fail state that names none
	// (Orbit's is States.Fail).
	UnnamedFailure() string
	// TimedOut is the error of task st whose routine ran out of its
	// timeout, or of its heartbeat when heartbeat is set.
	TimedOut(st *State, heartbeat bool) *Error
}

// ErrFail is the error of a fail state that names none, in Orbit's terms.
const ErrFail = "States.Fail"

// Observer runs a routine when a history event happens (SPEC 1.4).
type Observer struct {
	Name        string          // optional, for diagrams (an XML Observer step's name)
	Workflow    string          // a name or "*"
	On          store.EventType // history event type
	State       string          // optional
	RoutineName string
	Routine     Routine
	Input       Expr // applied to the instance data; nil: the event
	Retry       []Retrier
	// Before makes a StateEntered observer of a state run in the
	// instance's own step, before the state does: the state starts once
	// the observer's first call has returned, and sees nothing of it.
	// Retries of a failed call run in the background, as for any observer.
	Before bool
	// Plugin names the plugin whose manifest declared the observer as a
	// hook; empty for an observer of the scripts.
	Plugin string
	Pos    Pos
}

// Source is one file of a bundle.
type Source struct {
	Path string
	Body []byte
}

// Bundle is everything one load of a scripts directory defines.
type Bundle struct {
	Hash      string // hash of the sources: the bundle's identity
	Sources   []Source
	Workflows map[string]*Workflow
	Routines  map[string]Routine
	Observers []*Observer
}

// Problem is one validation finding, printed as file:line: message.
type Problem struct {
	Pos     Pos
	Message string
	// Unresolved marks a name the bundle does not define (a routine, a
	// workflow): a file that did not parse may have defined it.
	Unresolved bool
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Message }

// Problems is a list of findings; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += "\n"
		}
		s += p.String()
	}
	return s
}
