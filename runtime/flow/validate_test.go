package flow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// at is a position in the fixture file, so expectations read as file:line.
func at(line int) Pos { return Pos{File: "wf.lua", Line: line} }

// machineOf builds a machine whose Order follows the argument order, as a
// loader would.
func machineOf(start string, line int, states ...*State) *Machine {
	m := &Machine{Start: start, StartPos: at(line), Pos: at(line), States: map[string]*State{}}
	for _, s := range states {
		m.States[s.Name] = s
		m.Order = append(m.Order, s.Name)
	}
	return m
}

// validBundle is one workflow using every state kind, with nothing wrong:
// each test breaks exactly one thing.
func validBundle() *Bundle {
	body := machineOf("A", 2,
		&State{Name: "A", Kind: Task, Pos: at(3), RoutineName: "r", Next: "B",
			Retry: []Retrier{{Errors: []string{ErrAll}, MaxAttempts: 3, Interval: time.Second, Backoff: 2, Pos: at(4)}},
			Catch: []Catcher{{Errors: []string{"X"}, Next: "F", Pos: at(5)}}},
		&State{Name: "B", Kind: Choice, Pos: at(6),
			Rules:   []Rule{{When: Truthy{MustPath("$.ok")}, Next: "C", Pos: at(7)}},
			Default: "F"},
		&State{Name: "C", Kind: Parallel, Pos: at(8), Next: "W",
			Branches: []*Machine{machineOf("P1", 9, &State{Name: "P1", Kind: Pass, Pos: at(10)})}},
		&State{Name: "W", Kind: Wait, Pos: at(11), WaitFor: time.Second, Next: "V"},
		&State{Name: "V", Kind: Await, Pos: at(12), Event: "e", Next: "K"},
		&State{Name: "K", Kind: Call, Pos: at(13), Workflow: "order", Next: "D"},
		&State{Name: "D", Kind: Map, Pos: at(14), Items: MustPath("$.items"), Next: "E",
			Iterator: machineOf("I1", 15, &State{Name: "I1", Kind: Task, Pos: at(16), RoutineName: "r"})},
		&State{Name: "E", Kind: Succeed, Pos: at(17)},
		&State{Name: "F", Kind: Fail, Pos: at(18)},
	)
	w := &Workflow{Name: "order", Pos: at(1), Machine: *body}
	return &Bundle{
		Workflows: map[string]*Workflow{"order": w},
		Observers: []*Observer{{Workflow: "order", On: "StateExited", State: "I1", RoutineName: "r", Pos: at(20)}},
	}
}

func TestValidateAcceptsValidBundle(t *testing.T) {
	if ps := Validate(validBundle()); len(ps) != 0 {
		t.Fatalf("want no problems, got:\n%v", ps)
	}
	// Observers may name states of branches; nil entries left by a loader are
	// skipped rather than crashing the check.
	b := validBundle()
	b.Observers = append(b.Observers, &Observer{Workflow: "order", On: "StateEntered", State: "P1", RoutineName: "r"})
	b.Workflows["order"].States["ghost"] = nil
	b.Workflows["ghost"] = nil
	b.Observers = append(b.Observers, nil)
	if ps := Validate(b); len(ps) != 0 {
		t.Fatalf("want no problems, got:\n%v", ps)
	}
}

// An observer may watch every history event the engine writes, Migrated
// included: the list it is checked against is the store's one list.
func TestValidateAcceptsEveryEventType(t *testing.T) {
	for _, typ := range store.EventTypes {
		b := validBundle()
		b.Observers[0].On, b.Observers[0].State = typ, ""
		if ps := Validate(b); len(ps) != 0 {
			t.Errorf("on %q: %v", typ, ps)
		}
	}
}

func TestValidateProblems(t *testing.T) {
	st := func(b *Bundle, name string) *State { return b.Workflows["order"].States[name] }
	cases := []struct {
		name   string
		breaks func(b *Bundle)
		want   []string
	}{
		// The store could not list such a workflow's instances: every
		// start failed to checkpoint, and the engine took that for a store
		// that cannot write.
		{"control characters in a name and a version", func(b *Bundle) {
			b.Workflows["ord\x00er"] = &Workflow{Name: "ord\x00er", Version: "v\n2", Pos: at(40),
				Machine: *machineOf("S", 40, &State{Name: "S", Kind: Succeed, Pos: at(41)})}
		}, []string{`wf.lua:40: workflow "ord\x00er": the name holds the control character U+0000; it must be printable text`,
			`wf.lua:40: workflow "ord\x00er": the version holds the control character U+000A; it must be printable text`}},
		// Event names are part of a store's keys; a NATS subject built
		// from a long one closed the store's connection.
		{"await event name too long", func(b *Bundle) { st(b, "V").Event = strings.Repeat(".", MaxEventName+1) },
			[]string{`wf.lua:12: workflow "order", state "V": the event name is 129 bytes long; at most 128`}},
		{"missing start", func(b *Bundle) { b.Workflows["order"].Start = "" },
			[]string{`wf.lua:2: workflow "order": missing start`}},
		{"unknown start", func(b *Bundle) { b.Workflows["order"].Start = "Nope" },
			[]string{`wf.lua:2: workflow "order": start "Nope" is not a state of this workflow`}},
		{"missing start of a branch", func(b *Bundle) { st(b, "C").Branches[0].Start = "" },
			[]string{`wf.lua:9: branch 1 of parallel "C" in workflow "order": missing start`}},
		{"unknown next", func(b *Bundle) { st(b, "W").Next = "Foo" },
			[]string{
				`wf.lua:11: workflow "order", state "W": next "Foo" is not a state of this workflow`,
				// V, K, D, E now hang off nothing.
				`wf.lua:12: workflow "order", state "V": unreachable from start "A"`,
				`wf.lua:13: workflow "order", state "K": unreachable from start "A"`,
				`wf.lua:14: workflow "order", state "D": unreachable from start "A"`,
				`wf.lua:17: workflow "order", state "E": unreachable from start "A"`,
			}},
		{"unknown rule next", func(b *Bundle) { st(b, "B").Rules[0].Next = "Foo" },
			[]string{
				`wf.lua:7: workflow "order", state "B", rule 1: next "Foo" is not a state of this workflow`,
				`wf.lua:8: workflow "order", state "C": unreachable from start "A"`,
				`wf.lua:11: workflow "order", state "W": unreachable from start "A"`,
				`wf.lua:12: workflow "order", state "V": unreachable from start "A"`,
				`wf.lua:13: workflow "order", state "K": unreachable from start "A"`,
				`wf.lua:14: workflow "order", state "D": unreachable from start "A"`,
				`wf.lua:17: workflow "order", state "E": unreachable from start "A"`,
			}},
		{"missing rule next", func(b *Bundle) {
			s := st(b, "B")
			s.Rules = append(s.Rules, Rule{When: Truthy{MustPath("$.x")}, Pos: at(30)})
		}, []string{`wf.lua:30: workflow "order", state "B", rule 2: next is missing`}},
		{"rule without when", func(b *Bundle) { st(b, "B").Rules[0].When = nil },
			[]string{`wf.lua:7: workflow "order", state "B", rule 1: no when`}},
		{"unknown default", func(b *Bundle) { st(b, "B").Default = "Foo" },
			[]string{`wf.lua:6: workflow "order", state "B": default "Foo" is not a state of this workflow`}},
		{"unknown catch next", func(b *Bundle) { st(b, "A").Catch[0].Next = "Foo" },
			[]string{`wf.lua:5: workflow "order", state "A", catch 1: next "Foo" is not a state of this workflow`}},
		{"catch without next or errors", func(b *Bundle) { st(b, "A").Catch[0] = Catcher{Pos: at(31)} },
			[]string{
				`wf.lua:31: workflow "order", state "A", catch 1: no errors; list error names or "States.ALL"`,
				`wf.lua:31: workflow "order", state "A", catch 1: next is missing`,
			}},
		{"branch state naming a parent state", func(b *Bundle) { st(b, "C").Branches[0].States["P1"].Next = "E" },
			[]string{`wf.lua:10: branch 1 of parallel "C" in workflow "order", state "P1": next "E" is not a state of this branch`}},
		{"unreachable", func(b *Bundle) {
			w := b.Workflows["order"]
			w.States["Lost"] = &State{Name: "Lost", Kind: Pass, Pos: at(32), Next: "E"}
			w.Order = append(w.Order, "Lost")
		}, []string{`wf.lua:32: workflow "order", state "Lost": unreachable from start "A"`}},
		{"unreachable in an iterator", func(b *Bundle) {
			it := st(b, "D").Iterator
			it.States["Lost"] = &State{Name: "Lost", Kind: Succeed, Pos: at(33)}
			it.Order = append(it.Order, "Lost")
		}, []string{`wf.lua:33: iterator of map "D" in workflow "order", state "Lost": unreachable from start "I1"`}},
		{"cycle without exit", func(b *Bundle) {
			st(b, "B").Default = "C"
			st(b, "D").Next = "B"
			st(b, "A").Catch = nil
		}, []string{
			`wf.lua:3: workflow "order", state "A": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:6: workflow "order", state "B": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:8: workflow "order", state "C": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:11: workflow "order", state "W": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:12: workflow "order", state "V": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:13: workflow "order", state "K": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:14: workflow "order", state "D": no way to end; every path from it loops without reaching succeed, fail or a state without next`,
			`wf.lua:17: workflow "order", state "E": unreachable from start "A"`,
			`wf.lua:18: workflow "order", state "F": unreachable from start "A"`,
		}},
		{"duplicate state", func(b *Bundle) {
			w := b.Workflows["order"]
			w.Order = append(w.Order, "E")
		}, []string{`wf.lua:17: workflow "order", state "E": defined more than once; state names must be unique in a workflow`}},
		{"choice without rules", func(b *Bundle) { st(b, "B").Rules = nil },
			[]string{
				`wf.lua:6: workflow "order", state "B": choice has no rules`,
				`wf.lua:8: workflow "order", state "C": unreachable from start "A"`,
				`wf.lua:11: workflow "order", state "W": unreachable from start "A"`,
				`wf.lua:12: workflow "order", state "V": unreachable from start "A"`,
				`wf.lua:13: workflow "order", state "K": unreachable from start "A"`,
				`wf.lua:14: workflow "order", state "D": unreachable from start "A"`,
				`wf.lua:17: workflow "order", state "E": unreachable from start "A"`,
			}},
		{"task without routine", func(b *Bundle) { st(b, "A").RoutineName = "" },
			[]string{`wf.lua:3: workflow "order", state "A": task has no routine`}},
		{"task in an iterator without routine", func(b *Bundle) { st(b, "D").Iterator.States["I1"].RoutineName = "" },
			[]string{`wf.lua:16: iterator of map "D" in workflow "order", state "I1": task has no routine`}},
		{"map without iterator", func(b *Bundle) { st(b, "D").Iterator = nil },
			[]string{
				`wf.lua:14: workflow "order", state "D": map has no iterator`,
				`wf.lua:20: observer 1 of workflow "order": state "I1" is not a state of the workflow`,
			}},
		{"map without items", func(b *Bundle) { st(b, "D").Items = nil },
			[]string{`wf.lua:14: workflow "order", state "D": map has no items`}},
		{"negative max_concurrency", func(b *Bundle) { st(b, "D").MaxConcurrency = -1 },
			[]string{`wf.lua:14: workflow "order", state "D": max_concurrency is -1; use 0 for no limit or a positive number`}},
		{"parallel without branches", func(b *Bundle) { st(b, "C").Branches = nil },
			[]string{`wf.lua:8: workflow "order", state "C": parallel has no branches`}},
		{"nil branch", func(b *Bundle) { st(b, "C").Branches = append(st(b, "C").Branches, nil) },
			[]string{`wf.lua:8: workflow "order", state "C": branch 2 is empty`}},
		{"await without event", func(b *Bundle) { st(b, "V").Event = "" },
			[]string{`wf.lua:12: workflow "order", state "V": await has no event`}},
		{"wait with neither duration nor until", func(b *Bundle) { st(b, "W").WaitFor = 0 },
			[]string{`wf.lua:11: workflow "order", state "W": wait needs one of duration, seconds or until`}},
		{"wait with duration and until", func(b *Bundle) { st(b, "W").Until = MustPath("$.at") },
			[]string{`wf.lua:11: workflow "order", state "W": wait has both a duration and until; keep one`}},
		{"wait with a negative duration", func(b *Bundle) { st(b, "W").WaitFor = -time.Second },
			[]string{`wf.lua:11: workflow "order", state "W": wait duration -1s is negative`}},
		{"call without workflow", func(b *Bundle) { st(b, "K").Workflow = "" },
			[]string{`wf.lua:13: workflow "order", state "K": call has no workflow`}},
		{"call of an unknown workflow", func(b *Bundle) { st(b, "K").Workflow = "other" },
			[]string{`wf.lua:13: workflow "order", state "K": call names workflow "other", which the bundle does not define`}},
		{"negative timeout", func(b *Bundle) { st(b, "A").Timeout = -time.Second },
			[]string{`wf.lua:3: workflow "order", state "A": timeout -1s is negative`}},
		{"unknown kind", func(b *Bundle) { st(b, "W").Kind = 0 },
			[]string{`wf.lua:11: workflow "order", state "W": unknown state kind 0`}},
		{"retry max_attempts", func(b *Bundle) { st(b, "A").Retry[0].MaxAttempts = -1 },
			[]string{`wf.lua:4: workflow "order", state "A", retry 1: max_attempts is -1; it must be 0 (no retries) or more`}},
		{"retry backoff", func(b *Bundle) { st(b, "A").Retry[0].Backoff = 0.5 },
			[]string{`wf.lua:4: workflow "order", state "A", retry 1: backoff is 0.5; it must be 1 or more`}},
		{"retry interval", func(b *Bundle) { st(b, "A").Retry[0].Interval = -time.Millisecond },
			[]string{`wf.lua:4: workflow "order", state "A", retry 1: interval -1ms is negative`}},
		{"retry max_delay", func(b *Bundle) { st(b, "A").Retry[0].MaxDelay = -time.Second },
			[]string{`wf.lua:4: workflow "order", state "A", retry 1: max_delay -1s is negative`}},
		{"retry without errors, position from the state", func(b *Bundle) { st(b, "A").Retry[0] = DefaultRetrier },
			[]string{`wf.lua:3: workflow "order", state "A", retry 1: no errors; list error names or "States.ALL"`}},
		{"heartbeat not below the timeout", func(b *Bundle) { a := st(b, "A"); a.Timeout, a.Heartbeat = time.Minute, time.Minute },
			[]string{`wf.lua:3: workflow "order", state "A": heartbeat 1m0s must be shorter than the timeout 1m0s`}},
		{"negative heartbeat", func(b *Bundle) { st(b, "A").Heartbeat = -time.Second },
			[]string{`wf.lua:3: workflow "order", state "A": heartbeat -1s is negative`}},
		{"map tolerance", func(b *Bundle) {
			st(b, "D").Tolerance = &Tolerance{Count: -1, HasCount: true, Percent: 101, HasPercent: true}
		}, []string{
			`wf.lua:14: workflow "order", state "D": tolerated failure count -1 is negative`,
			`wf.lua:14: workflow "order", state "D": tolerated failure percentage 101 must be between 0 and 100`,
		}},
		{"workflow timeout", func(b *Bundle) { b.Workflows["order"].Timeout = -time.Minute },
			[]string{`wf.lua:1: workflow "order": timeout -1m0s is negative`}},
		{"workflow concurrency", func(b *Bundle) { b.Workflows["order"].Concurrency = &Concurrency{} },
			[]string{
				`wf.lua:1: workflow "order": concurrency has no key`,
				`wf.lua:1: workflow "order": concurrency limit is 0; it must be 1 or more`,
			}},
		{"observer event type", func(b *Bundle) { b.Observers[0].On = "StateExit" },
			[]string{`wf.lua:20: observer 1 of workflow "order": on "StateExit" is not a history event type; use one of ExecutionStarted, StateEntered, TaskScheduled, TaskSucceeded, TaskFailed, TaskRetryScheduled, ErrorCaught, StateExited, TimerStarted, TimerFired, EventAwaited, EventReceived, ChildStarted, ChildCompleted, ObserverFailed, Migrated, ExecutionSucceeded, ExecutionFailed, ExecutionCancelled, ExecutionTimedOut`}},
		{"observer workflow", func(b *Bundle) { b.Observers[0].Workflow = "other" },
			[]string{`wf.lua:20: observer 1 of workflow "other": the bundle defines no such workflow`}},
		{"observer without workflow", func(b *Bundle) { b.Observers[0].Workflow = "" },
			[]string{`wf.lua:20: observer 1: no workflow; name one or "*"`}},
		{"observer state", func(b *Bundle) { b.Observers[0].State = "Nope" },
			[]string{`wf.lua:20: observer 1 of workflow "order": state "Nope" is not a state of the workflow`}},
		{"plugin hook state", func(b *Bundle) {
			o := b.Observers[0]
			o.State, o.Plugin, o.Pos = "Nope", "audit", Pos{File: "plugins.d/audit/plugin.json"}
		}, []string{`plugins.d/audit/plugin.json:0: --plugins: hook of plugin "audit" on workflow "order": state "Nope" is not a state of the workflow`}},
		{"observer routine and retry", func(b *Bundle) {
			o := b.Observers[0]
			o.Workflow, o.State, o.RoutineName = "*", "AnyWhere", ""
			o.Retry = []Retrier{{Errors: []string{ErrAll}, Backoff: 1, MaxAttempts: -2, Pos: at(21)}}
		}, []string{
			`wf.lua:20: observer 1 of workflow "*": no routine`,
			`wf.lua:21: observer 1 of workflow "*", retry 1: max_attempts is -2; it must be 0 (no retries) or more`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := validBundle()
			tc.breaks(b)
			got := problemStrings(Validate(b))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", lines(got), lines(tc.want))
			}
		})
	}
}

func TestValidateOrdersWorkflowsByName(t *testing.T) {
	b := &Bundle{Workflows: map[string]*Workflow{}}
	for _, name := range []string{"zeta", "alpha", "mid"} {
		b.Workflows[name] = &Workflow{Name: name, Pos: Pos{File: name + ".lua", Line: 1},
			Machine: *machineOf("", 1)}
		b.Workflows[name].Machine.Pos = Pos{}
		b.Workflows[name].StartPos = Pos{}
	}
	want := []string{
		`alpha.lua:1: workflow "alpha": missing start`,
		`mid.lua:1: workflow "mid": missing start`,
		`zeta.lua:1: workflow "zeta": missing start`,
	}
	for range 5 { // map order varies between runs; the output must not
		if got := problemStrings(Validate(b)); !slices.Equal(got, want) {
			t.Fatalf("got:\n%s\nwant:\n%s", lines(got), lines(want))
		}
	}
}

func TestValidateChecksStatesMissingFromOrder(t *testing.T) {
	b := validBundle()
	w := b.Workflows["order"]
	w.States["Zed"] = &State{Name: "Zed", Kind: Task, Pos: at(40), Next: "E"}
	w.States["Yak"] = &State{Name: "Yak", Kind: Pass, Pos: at(41), Next: "E"}
	want := []string{
		`wf.lua:41: workflow "order", state "Yak": unreachable from start "A"`,
		`wf.lua:40: workflow "order", state "Zed": task has no routine`,
		`wf.lua:40: workflow "order", state "Zed": unreachable from start "A"`,
	}
	if got := problemStrings(Validate(b)); !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", lines(got), lines(want))
	}
}

func TestProblemsSort(t *testing.T) {
	ps := Problems{
		{Pos: Pos{File: "b.lua", Line: 2}, Message: "b2"},
		{Pos: Pos{File: "a.lua", Line: 9}, Message: "a9 first"},
		{Pos: Pos{File: "a.lua", Line: 10}, Message: "a10"},
		{Pos: Pos{File: "a.lua", Line: 9}, Message: "a9 second"},
	}
	ps.Sort()
	want := []string{"a.lua:9: a9 first", "a.lua:9: a9 second", "a.lua:10: a10", "b.lua:2: b2"}
	if got := problemStrings(ps); !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", lines(got), lines(want))
	}
	if got := ps.Error(); got != lines(want) {
		t.Fatalf("Error() = %q", got)
	}
}

func problemStrings(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func lines(ss []string) string { return strings.Join(ss, "\n") }
