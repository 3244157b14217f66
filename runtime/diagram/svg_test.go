package diagram

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// element is one SVG element with its attributes and text.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG reads the whole picture as XML, failing on anything that is
// not well formed.
func parseSVG(t *testing.T, src []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(src))
	var out []element
	var open []int // indices of the elements not yet closed
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, src)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := element{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			open = append(open, len(out))
			out = append(out, e)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				out[open[len(open)-1]].text += string(tk)
			}
		}
	}
}

func hasClass(e element, class string) bool {
	return strings.Contains(" "+e.attrs["class"]+" ", " "+class+" ")
}

// TestSVGDrawsEveryPart checks that the picture holds every state once,
// nested machines inside their states' groups, a dashed line per catch, a
// line per transition and the labels.
func TestSVGDrawsEveryPart(t *testing.T) {
	w := graphWorkflow()
	svg := SVG(New(w))
	els := parseSVG(t, svg)
	if els[0].name != "svg" || els[0].attrs["viewBox"] == "" {
		t.Fatalf("root %+v", els[0])
	}
	states := map[string]int{}
	var paths, catches int
	texts := map[string]bool{}
	for _, e := range els {
		if e.name == "g" && e.attrs["data-state"] != "" {
			states[e.attrs["data-machine"]+"/"+e.attrs["data-state"]]++
		}
		if e.name == "path" && hasClass(e, "edge") {
			paths++
			if hasClass(e, "catch") {
				catches++
			}
		}
		if e.name == "text" {
			texts[e.text] = true
		}
	}
	want := []string{"/Check order", "/Route", "/Fan out", "/Each", "/Declined", `/Done "ok"`,
		"Fan out[0]/A", "Fan out[0]/B", "Fan out[1]/A", "Each/Item"}
	for _, s := range want {
		if states[s] != 1 {
			t.Errorf("state %s drawn %d times", s, states[s])
		}
	}
	if len(states) != len(want) {
		t.Errorf("states drawn: %v", states)
	}
	edges := 0
	New(w).Walk(func(c *Cluster) { edges += len(c.Edges) })
	if paths != edges || catches != 1 {
		t.Errorf("%d lines (%d dashed), want %d (1 dashed catch)", paths, catches, edges)
	}
	for _, s := range []string{"branch 1", "branch 2", "for each item", "default", "rule 2", "Payment.*, States.Timeout",
		"task · orders.check", "parallel · 2 branches"} {
		if !texts[s] {
			t.Errorf("no text %q", s)
		}
	}
	if bytes.Contains(svg, []byte(`class="legend"`)) {
		t.Error("a workflow's picture has the legend of an instance's")
	}
	if again := SVG(New(w)); !bytes.Equal(again, svg) {
		t.Error("a second rendering differs")
	}
}

func TestSVGEscapesNames(t *testing.T) {
	w := &flow.Workflow{Name: `a<b>&"c"`, Machine: *machineOf(`x<y>&"z"'`,
		&flow.State{Name: `x<y>&"z"'`, Kind: flow.Task, RoutineName: "r&d", Next: "\x01ctl"},
		&flow.State{Name: "\x01ctl", Kind: flow.Succeed})}
	els := parseSVG(t, SVG(New(w)))
	found := false
	for _, e := range els {
		if e.name == "g" && e.attrs["data-state"] == `x<y>&"z"'` {
			found = true
		}
	}
	if !found {
		t.Error("the escaped name does not read back")
	}
}

// TestTrailMarks reads histories of an instance and two branch runs and
// checks what the diagram marks.
func TestTrailMarks(t *testing.T) {
	ev := func(typ store.EventType, state string) store.Event { return store.Event{Type: typ, State: state} }
	var tr Trail
	tr.Add("", []store.Event{
		ev("ExecutionStarted", ""), ev("StateEntered", "Check order"), ev("TaskFailed", "Check order"),
		ev("TaskRetryScheduled", "Check order"), ev("TaskFailed", "Check order"), ev("ErrorCaught", "Check order"),
		ev("StateExited", "Check order"), ev("StateEntered", "Declined"), ev("ExecutionFailed", "Declined"),
		// redriven: Declined again, then (as if fixed) on to the end
		ev("StateEntered", "Declined"), ev("ExecutionSucceeded", ""),
	}, store.Succeeded, "Declined")
	tr.Add("Fan out[0]", []store.Event{ev("StateEntered", "A"), ev("StateEntered", "B"), ev("ExecutionSucceeded", "")}, store.Succeeded, "B")
	tr.Add("Fan out[0]", []store.Event{ev("StateEntered", "A")}, store.Waiting, "A")
	d := New(graphWorkflow())
	d.Mark(&tr)
	nodes := map[string]*Node{}
	taken := map[string]bool{}
	d.Walk(func(c *Cluster) {
		for _, n := range c.Nodes {
			if n.Marker == NoMarker {
				nodes[c.Key+"/"+n.Name] = n
			}
		}
		for _, e := range c.Edges {
			if e.Taken {
				taken[c.Key+":"+e.From.Name+"->"+e.To.Name+"|"+e.Label] = true
			}
		}
	})
	check := func(key string, mark Mark, visits int) {
		t.Helper()
		n := nodes[key]
		if n == nil || n.Mark != mark || n.Visits != visits {
			t.Errorf("%s: %+v, want mark %b and %d visits", key, n, mark, visits)
		}
	}
	check("/Check order", Visited|Retried|Failed, 1)
	check("/Declined", Visited|Failed, 2)
	check("/Route", 0, 0)
	check("Fan out[0]/A", Visited|Current, 2)
	check("Fan out[0]/B", Visited, 1)
	check("Fan out[1]/A", 0, 0)
	want := []string{":->Check order|", ":Check order->Declined|Payment.*, States.Timeout", ":Declined->|",
		"Fan out[0]:->A|", "Fan out[0]:A->B|", "Fan out[0]:B->|"}
	for _, k := range want {
		if !taken[k] {
			t.Errorf("edge %s not taken", k)
		}
	}
	if len(taken) != len(want) {
		t.Errorf("taken edges %v, want %v", taken, want)
	}
	// A move without a catch does not take the catch edge.
	var plain Trail
	plain.Add("", []store.Event{ev("StateEntered", "Check order"), ev("StateEntered", "Declined")}, store.Failed, "Declined")
	d = New(graphWorkflow())
	d.Mark(&plain)
	for _, e := range d.Root.Edges {
		if e.Taken && e.Style == Dashed {
			t.Errorf("catch edge %s -> %s taken without a caught error", e.From.Name, e.To.Name)
		}
	}
}

// TestMarkedTextFormats draws the path in DOT and Mermaid too.
func TestMarkedTextFormats(t *testing.T) {
	var tr Trail
	tr.Add("", []store.Event{{Type: "StateEntered", State: "Check order"}, {Type: "StateEntered", State: "Route"}}, store.Running, "Route")
	d := New(graphWorkflow())
	d.Mark(&tr)
	dot, mmd := DOT(d), Mermaid(d)
	for _, s := range []string{`s1 [shape=diamond, label="Route\nchoice", color="#2563eb", penwidth=3`, `s0 -> s1 [color="#2563eb", penwidth=2]`} {
		if !strings.Contains(dot, s) {
			t.Errorf("DOT lacks %s:\n%s", s, dot)
		}
	}
	for _, s := range []string{"class m0_start,s0 visited", "class s1 current", "linkStyle 0,1 stroke:#2563eb"} {
		if !strings.Contains(mmd, s) {
			t.Errorf("Mermaid lacks %s:\n%s", s, mmd)
		}
	}
	els := parseSVG(t, SVG(d))
	current := 0
	for _, e := range els {
		if e.name == "g" && hasClass(e, "current") && e.attrs["data-state"] == "Route" {
			current++
		}
	}
	if current != 1 {
		t.Errorf("the current state is marked %d times in the SVG", current)
	}
}

// TestSVGExample writes testdata/graph.svg with -update, for people to
// look at; the test checks that it is current.
func TestSVGExample(t *testing.T) {
	got := SVG(New(graphWorkflow(), graphObservers()...))
	path := filepath.Join("testdata", "graph.svg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date; run go test -update and look at it", path)
	}
}

// BenchmarkSVG lays out and draws the test workflow (a choice, a catch, a
// parallel state with two branches, a map, three observers) with a trail:
// the cost of one GET /v1/instances/{id}/graph?format=svg beyond reading
// the histories.
func BenchmarkSVG(b *testing.B) {
	var tr Trail
	tr.Add("", []store.Event{{Type: store.EventStateEntered, State: "Check order"}, {Type: store.EventStateEntered, State: "Route"}}, store.Running, "Route")
	for b.Loop() {
		d := New(graphWorkflow(), graphObservers()...)
		d.Mark(&tr)
		if len(SVG(d)) == 0 {
			b.Fatal("empty SVG")
		}
	}
}
