package scripting

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// extBase is the workflow the extension tests work on: A, then the choice
// B to the parallel C (one branch, task C1) or to D; A's catch goes to F.
const extBase = `routine "r" { lua = function() return "r" end }
routine "q" { lua = function() return "q" end }
workflow "w" {
  start = "A",
  states = {
    A = task { routine = "r", next = "B", catch = { { errors = { "Boom" }, next = "F" } } },
    B = choice { { when = "$.x", next = "C" }, default = "D" },
    C = parallel { branches = { { start = "C1", states = { C1 = task { routine = "r" } } } }, next = "D" },
    D = succeed {},
    F = fail { error = "X" },
  },
}
`

// loadExt loads base.lua (extBase) with more files, given as path, body,
// path, body, ...
func loadExt(files ...string) (*flow.Bundle, error) {
	srcs := []flow.Source{{Path: "base.lua", Body: []byte(extBase)}}
	for i := 0; i+1 < len(files); i += 2 {
		srcs = append(srcs, flow.Source{Path: files[i], Body: []byte(files[i+1])})
	}
	return LoadSources(srcs, Options{})
}

// extendW is an extension of "w" whose calls start on line 2.
func extendW(calls ...string) string {
	return "extend(\"w\", function(wf)\n  " + strings.Join(calls, "\n  ") + "\nend)\n"
}

func TestExtendMethods(t *testing.T) {
	at2 := flow.Pos{File: "ext.lua", Line: 2}
	cases := []struct {
		method string
		calls  []string
		check  func(t *testing.T, b *flow.Bundle, w *flow.Workflow)
	}{
		{"add_state", []string{
			`wf:add_state("G", pass { next = "D" })`,
			`wf:add_catch("A", { errors = { "Late" }, next = "G" })`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			g := w.States["G"]
			if g == nil || g.Kind != flow.Pass || g.Next != "D" || g.Pos != at2 || w.Order[len(w.Order)-1] != "G" {
				t.Errorf("G %+v, order %v", g, w.Order)
			}
		}},
		{"insert_after", []string{
			`wf:insert_after("A", "A2", task { routine = "q" })`,
			`wf:insert_after("C1", "C2", pass {})`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			a, a2 := w.States["A"], w.States["A2"]
			if a.Next != "A2" || a2 == nil || a2.Next != "B" || a.Catch[0].Next != "F" {
				t.Errorf("A %+v, A2 %+v", a, a2)
			}
			br := w.States["C"].Branches[0]
			if br.States["C1"].Next != "C2" || br.States["C2"] == nil || br.States["C2"].Next != "" || w.States["C2"] != nil {
				t.Errorf("inside the branch: %+v", br.States)
			}
		}},
		{"insert_before", []string{
			`wf:insert_before("A", "First", pass {})`,
			`wf:insert_before("F", "Log", pass {})`,
			`wf:insert_before("C", "PreC", pass {})`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			st := w.States
			if w.Start != "First" || st["First"].Next != "A" {
				t.Errorf("start %q, First %+v", w.Start, st["First"])
			}
			if st["A"].Catch[0].Next != "Log" || st["Log"].Next != "F" {
				t.Errorf("catch of A %+v, Log %+v", st["A"].Catch, st["Log"])
			}
			if st["B"].Rules[0].Next != "PreC" || st["PreC"].Next != "C" || st["B"].Default != "D" {
				t.Errorf("B %+v, PreC %+v", st["B"], st["PreC"])
			}
		}},
		{"add_catch", []string{
			`wf:add_catch("A", { errors = { "Late", "Http.5*" }, next = "D", result = "$.late" })`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			c := w.States["A"].Catch
			if len(c) != 2 || c[0].Next != "F" || strings.Join(c[1].Errors, ",") != "Late,Http.5*" ||
				c[1].Next != "D" || c[1].Result.String() != "$.late" || c[1].Pos != at2 {
				t.Errorf("catch %+v", c)
			}
		}},
		{"add_retry", []string{
			`wf:add_retry("C1", { errors = { "Http.5*" }, max_attempts = 4, interval = "2s", backoff = 3, max_delay = "10s", jitter = "full" })`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			want := flow.Retrier{Errors: []string{"Http.5*"}, MaxAttempts: 4, Interval: 2 * time.Second, Backoff: 3,
				MaxDelay: 10 * time.Second, FullJitter: true, Pos: at2}
			if r := w.States["C"].Branches[0].States["C1"].Retry; len(r) != 1 || !equalRetrier(r[0], want) {
				t.Errorf("retry %+v", r)
			}
		}},
		{"set", []string{
			`wf:set("A", "timeout", "3s")`,
			`wf:set("B", "default", "C")`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			a, b := w.States["A"], w.States["B"]
			if a.Timeout != 3*time.Second || a.RoutineName != "r" || a.Next != "B" || len(a.Catch) != 1 {
				t.Errorf("A %+v", a)
			}
			if b.Default != "C" || len(b.Rules) != 1 {
				t.Errorf("B %+v", b)
			}
		}},
		{"replace_routine", []string{
			`wf:replace_routine("r", "q")`,
		}, func(t *testing.T, _ *flow.Bundle, w *flow.Workflow) {
			for _, s := range []*flow.State{w.States["A"], w.States["C"].Branches[0].States["C1"]} {
				if s.RoutineName != "q" {
					t.Errorf("%s runs %q", s.Name, s.RoutineName)
					continue
				}
				// Routines are linked after the extensions ran.
				if out, err := s.Routine.Call(context.Background(), nil, nil); out != "q" || err != nil {
					t.Errorf("%s called %v, %v", s.Name, out, err)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			b, err := loadExt("ext.lua", extendW(c.calls...))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, b, b.Workflows["w"])
		})
	}
}

// chain follows next from the start state.
func chain(w *flow.Workflow) string {
	var names []string
	for s := w.States[w.Start]; s != nil && len(names) <= len(w.States); s = w.States[s.Next] {
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

func TestExtensionOrder(t *testing.T) {
	// Each file inserts a state right after A, so the one applied last
	// ends up first. Extension files sort before base.lua and still apply
	// after its definitions.
	x := func(opts, name string) string {
		return "extend(\"w\", " + opts + "function(wf) wf:insert_after(\"A\", \"" + name + "\", pass {}) end)\n"
	}
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"file order", []string{"a.lua", x("", "X"), "b.lua", x("", "Y")}, "A Y X B"},
		{"paths sort byte-wise", []string{"10.lua", x("", "X"), "9.lua", x("", "Y")}, "A Y X B"},
		{"a subfolder is part of the path", []string{"a/z.lua", x("", "X"), "b.lua", x("", "Y")}, "A Y X B"},
		{"priority reverses file order", []string{"a.lua", x("{ priority = 10 }, ", "X"), "b.lua", x("", "Y")}, "A X Y B"},
		{"negative priority goes first", []string{"a.lua", x("", "X"), "b.lua", x("{ priority = -1 }, ", "Y")}, "A X Y B"},
		{"equal priorities keep file order", []string{"a.lua", x("{ priority = 5 }, ", "X"), "b.lua", x("{ priority = 5 }, ", "Y")}, "A Y X B"},
		{"a required file runs at the require", []string{"a.lua", "require(\"z\")\n" + x("", "X"), "z.lua", x("", "Z")}, "A X Z B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := loadExt(c.files...)
			if err != nil {
				t.Fatal(err)
			}
			if got := chain(b.Workflows["w"]); got != c.want {
				t.Errorf("chain %q, want %q", got, c.want)
			}
		})
	}
}

func TestExtensionProblems(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unknown workflow", "-- loyalty\nextend(\"nope\", function(wf) end)\n",
			`ext.lua:2: extend: unknown workflow "nope"`},
		{"insert_after unknown state", extendW(`wf:insert_after("Z", "N", pass {})`),
			`ext.lua:2: extend "w", insert_after: workflow "w" has no state "Z"`},
		{"insert_before unknown state", extendW(`wf:insert_before("Z", "N", pass {})`),
			`ext.lua:2: extend "w", insert_before: workflow "w" has no state "Z"`},
		{"add_catch unknown state", extendW(`wf:add_catch("Z", { errors = { "X" }, next = "D" })`),
			`ext.lua:2: extend "w", add_catch: workflow "w" has no state "Z"`},
		{"add_retry unknown state", extendW(`wf:add_retry("Z", { errors = { "X" } })`),
			`ext.lua:2: extend "w", add_retry: workflow "w" has no state "Z"`},
		{"set unknown state", extendW(`wf:set("Z", "timeout", "1s")`),
			`ext.lua:2: extend "w", set: workflow "w" has no state "Z"`},
		{"replace_routine unknown routine", extendW(`wf:replace_routine("r", "nope")`),
			`ext.lua:2: extend "w", replace_routine: unknown routine "nope"`},
		{"replace_routine of a routine no task uses", extendW(`wf:replace_routine("nope", "q")`),
			`ext.lua:2: extend "w", replace_routine: no task of workflow "w" uses routine "nope"`},
		{"add_state duplicate", extendW(`wf:add_state("D", succeed {})`),
			`ext.lua:2: extend "w", add_state: state "D" already exists`},
		{"insert_after a choice", extendW(`wf:insert_after("B", "N", pass {})`),
			`ext.lua:2: extend "w", insert_after: cannot insert after the choice state "B"`},
		{"insert_after a succeed", extendW(`wf:insert_after("D", "N", pass {})`),
			`ext.lua:2: extend "w", insert_after: cannot insert after the succeed state "D"`},
		{"insert_after a fail", extendW(`wf:insert_after("F", "N", pass {})`),
			`ext.lua:2: extend "w", insert_after: cannot insert after the fail state "F"`},
		{"the line of the call, not of extend", extendW(`wf:add_catch("A", { errors = { "X" }, next = "D" })`, `wf:set("Z", "timeout", "1s")`),
			`ext.lua:3: extend "w", set: workflow "w" has no state "Z"`},
		{"priority not a number", "-- loyalty\nextend(\"w\", { priority = \"high\" }, function(wf) end)\n",
			`ext.lua:2: extend "w": field "priority" must be a number, got string`},
		{"priority not whole", "extend(\"w\", { priority = 1.5 }, function(wf) end)\n",
			`ext.lua:1: extend "w": field "priority" must be a whole number, got 1.5`},
		{"unknown option", "extend(\"w\", { prio = 1 }, function(wf) end)\n",
			`ext.lua:1: extend "w": unknown field "prio"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := loadExt("ext.lua", c.src)
			assertProblem(t, b, err, c.want)
		})
	}
}

// TestLoyaltyExampleExtendsOrders drops the README's example module next
// to the order scenario, as a user would.
func TestLoyaltyExampleExtendsOrders(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []string{"../scripts/orders.lua", "../scripts/services.lua", "../examples/extend/loyalty.lua"} {
		body, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := b.Workflows["place_order"].States
	p := st["AwardPoints"]
	if st["Save"].Next != "AwardPoints" || p == nil || p.Next != "Notify" || p.RoutineName != "loyalty.award" || p.Routine == nil {
		t.Fatalf("AwardPoints %+v, Save.Next %q", p, st["Save"].Next)
	}
	if c := p.Catch; len(c) != 1 || c[0].Next != "Notify" || c[0].Pos.File != "loyalty.lua" {
		t.Errorf("catch %+v", c)
	}
}
