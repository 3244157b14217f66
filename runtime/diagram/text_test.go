package diagram

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
)

// machineOf is flowtest.Machine as a pointer, for branches and iterators.
func machineOf(start string, states ...*flow.State) *flow.Machine {
	m := flowtest.Machine(start, states...)
	return &m
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// graphWorkflow has one of everything the diagram draws differently: a
// choice with rules and a default, a catch, a parallel with two branches, a
// map iterator, both end kinds, and names that need quoting.
func graphWorkflow() *flow.Workflow {
	body := machineOf("Check order",
		&flow.State{Name: "Check order", Kind: flow.Task, RoutineName: "orders.check", Next: "Route",
			Catch: []flow.Catcher{{Errors: []string{"Payment.*", flow.ErrTimeout}, Next: "Declined"}}},
		&flow.State{Name: "Route", Kind: flow.Choice,
			Rules: []flow.Rule{
				{Name: "big", Next: "Fan out", When: &flow.Connective{Junction: flow.All, Conds: []flow.Cond{
					&flow.Compare{Path: flow.MustPath("$.total"), Op: flow.Gt, Value: 100.0},
					&flow.Connective{Junction: flow.Any, Conds: []flow.Cond{
						&flow.Compare{Path: flow.MustPath("$.country"), Op: flow.Eq, Value: "DE"},
						&flow.Compare{Path: flow.MustPath("$.vip"), Op: flow.Eq, Value: true}}}}}},
				{Next: "Each"}},
			Default: "Declined"},
		&flow.State{Name: "Fan out", Kind: flow.Parallel, Next: `Done "ok"`,
			Branches: []*flow.Machine{
				machineOf("A",
					&flow.State{Name: "A", Kind: flow.Task, RoutineName: "r", Next: "B"},
					&flow.State{Name: "B", Kind: flow.Succeed}),
				machineOf("A", &flow.State{Name: "A", Kind: flow.Pass}),
			}},
		&flow.State{Name: "Each", Kind: flow.Map, Next: `Done "ok"`,
			Iterator: machineOf("Item", &flow.State{Name: "Item", Kind: flow.Task, RoutineName: "r"})},
		&flow.State{Name: "Declined", Kind: flow.Fail},
		&flow.State{Name: `Done "ok"`, Kind: flow.Succeed},
	)
	return &flow.Workflow{Name: "place order", Machine: *body}
}

// graphObservers watch states of graphWorkflow: after one, before one, on
// another event, and two that are not drawn (another workflow's, and one
// of the whole instance).
func graphObservers() []*flow.Observer {
	return []*flow.Observer{
		{Name: "SendEmail", Workflow: "place order", On: "StateExited", State: "Check order", RoutineName: "mail"},
		{Workflow: "*", On: "StateEntered", State: "Item", Before: true, RoutineName: "audit"},
		{Workflow: "place order", On: "TaskFailed", State: "Check order", RoutineName: "alert"},
		{Workflow: "other", On: "StateExited", State: "Route", RoutineName: "no"},
		{Workflow: "place order", On: "ExecutionSucceeded", RoutineName: "no"},
	}
}

func TestGraphGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		render func(*Diagram) string
	}{
		{"graph.dot", DOT},
		{"graph.mmd", Mermaid},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := tc.render(New(graphWorkflow(), graphObservers()...))
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", tc.file, path, got)
			}
			if again := tc.render(New(graphWorkflow(), graphObservers()...)); again != got {
				t.Errorf("second rendering differs:\n%s", again)
			}
		})
	}
}

func TestGraphQuotesNames(t *testing.T) {
	for _, tc := range []struct{ in, dot, mermaid string }{
		{`plain`, `"plain"`, `"plain"`},
		{`with space`, `"with space"`, `"with space"`},
		{`say "hi"`, `"say \"hi\""`, `"say #34;hi#34;"`},
		{`back\slash \l`, `"back\\slash \\l"`, `"back\slash \l"`},
		{"two\nlines", `"two\nlines"`, `"two#10;lines"`},
		{"<b>&#`", `"<b>&#` + "`" + `"`, `"#60;b#62;#38;#35;#96;"`},
	} {
		if got := dotQuote(tc.in); got != tc.dot {
			t.Errorf("dotQuote(%q) = %s, want %s", tc.in, got, tc.dot)
		}
		if got := mermaidQuote(tc.in); got != tc.mermaid {
			t.Errorf("mermaidQuote(%q) = %s, want %s", tc.in, got, tc.mermaid)
		}
	}
}

func TestGraphSkipsUnknownTargets(t *testing.T) {
	w := &flow.Workflow{Name: "w", Machine: *machineOf("A",
		&flow.State{Name: "A", Kind: flow.Pass, Next: "Missing"})}
	want := "flowchart TD\n  m0_start((\"start\"))\n  s0(\"A<br/>pass\")\n  m0_start --> s0\n"
	if got := Mermaid(New(w)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestDOTParsesWithGraphviz feeds awkward names through Graphviz itself when
// it is installed: the quoting is only right if dot accepts it.
func TestDOTParsesWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz dot is not installed")
	}
	odd := "c\n;{}[]<x>&#\\"
	w := &flow.Workflow{Name: "we\"ird\\ \n name", Machine: *machineOf(`a "q"`,
		&flow.State{Name: `a "q"`, Kind: flow.Choice, Rules: []flow.Rule{{Next: `b\l\N`}}, Default: odd},
		&flow.State{Name: `b\l\N`, Kind: flow.Task, Catch: []flow.Catcher{{Errors: []string{`E"1`}, Next: odd}}},
		&flow.State{Name: odd, Kind: flow.Succeed})}
	for _, src := range []string{DOT(New(w)), DOT(New(graphWorkflow()))} {
		cmd := exec.Command(dot, "-Tcanon")
		cmd.Stdin = strings.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dot rejected:\n%s\n%s", src, out)
		}
	}
}
