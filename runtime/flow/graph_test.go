package flow

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// graphWorkflow has one of everything the diagram draws differently: a
// choice with rules and a default, a catch, a parallel with two branches, a
// map iterator, both end kinds, and names that need quoting.
func graphWorkflow() *Workflow {
	body := machineOf("Check order", 1,
		&State{Name: "Check order", Kind: Task, RoutineName: "orders.check", Next: "Route",
			Catch: []Catcher{{Errors: []string{"Payment.*", ErrTimeout}, Next: "Declined"}}},
		&State{Name: "Route", Kind: Choice,
			Rules: []Rule{
				{Name: "big", Next: "Fan out", When: &Connective{Junction: All, Conds: []Cond{
					&Compare{Path: MustPath("$.total"), Op: Gt, Value: 100.0},
					&Connective{Junction: Any, Conds: []Cond{
						&Compare{Path: MustPath("$.country"), Op: Eq, Value: "DE"},
						&Compare{Path: MustPath("$.vip"), Op: Eq, Value: true}}}}}},
				{Next: "Each"}},
			Default: "Declined"},
		&State{Name: "Fan out", Kind: Parallel, Next: `Done "ok"`,
			Branches: []*Machine{
				machineOf("A", 1,
					&State{Name: "A", Kind: Task, RoutineName: "r", Next: "B"},
					&State{Name: "B", Kind: Succeed}),
				machineOf("A", 1, &State{Name: "A", Kind: Pass}),
			}},
		&State{Name: "Each", Kind: Map, Next: `Done "ok"`,
			Iterator: machineOf("Item", 1, &State{Name: "Item", Kind: Task, RoutineName: "r"})},
		&State{Name: "Declined", Kind: Fail},
		&State{Name: `Done "ok"`, Kind: Succeed},
	)
	return &Workflow{Name: "place order", Machine: *body}
}

// graphObservers watch states of graphWorkflow: after one, before one, on
// another event, and two that are not drawn (another workflow's, and one
// of the whole instance).
func graphObservers() []*Observer {
	return []*Observer{
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
		render func(*Workflow, ...*Observer) string
	}{
		{"graph.dot", DOT},
		{"graph.mmd", Mermaid},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := tc.render(graphWorkflow(), graphObservers()...)
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
			if again := tc.render(graphWorkflow(), graphObservers()...); again != got {
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
	w := &Workflow{Name: "w", Machine: *machineOf("A", 1,
		&State{Name: "A", Kind: Pass, Next: "Missing"})}
	want := "flowchart TD\n  m0_start((\"start\"))\n  s0(\"A<br/>pass\")\n  m0_start --> s0\n"
	if got := Mermaid(w); got != want {
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
	w := &Workflow{Name: "we\"ird\\ \n name", Machine: *machineOf(`a "q"`, 1,
		&State{Name: `a "q"`, Kind: Choice, Rules: []Rule{{Next: `b\l\N`}}, Default: odd},
		&State{Name: `b\l\N`, Kind: Task, Catch: []Catcher{{Errors: []string{`E"1`}, Next: odd}}},
		&State{Name: odd, Kind: Succeed})}
	for _, src := range []string{DOT(w), DOT(graphWorkflow())} {
		cmd := exec.Command(dot, "-Tcanon")
		cmd.Stdin = strings.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dot rejected:\n%s\n%s", src, out)
		}
	}
}
