package scripting

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// lineFormat is a tiny declarative format for tests: each line
// "workflow routine" defines a one-task workflow calling routine; a line
// "bad" is a problem at its line.
type lineFormat struct{ seen *[]string }

func (lineFormat) Suffix() string { return ".wf.txt" }

func (f lineFormat) Define(files []flow.Source, b *flow.Bundle, _ *httpcall.Client, _ httpcall.Env) flow.Problems {
	var probs flow.Problems
	for _, src := range files {
		*f.seen = append(*f.seen, src.Path)
		for i, line := range strings.Split(strings.TrimSpace(string(src.Body)), "\n") {
			pos := flow.Pos{File: src.Path, Line: i + 1}
			name, routine, ok := strings.Cut(line, " ")
			if !ok {
				probs = append(probs, flow.Problem{Pos: pos, Message: "want: workflow routine"})
				continue
			}
			b.Workflows[name] = &flow.Workflow{Name: name, Pos: pos, Machine: flow.Machine{Start: "T", Pos: pos,
				Order:  []string{"T"},
				States: map[string]*flow.State{"T": {Name: "T", Kind: flow.Task, Pos: pos, RoutineName: routine}}}}
		}
	}
	return probs
}

// withFormat makes f the only declarative format for one test.
func withFormat(t *testing.T, f Format) {
	old := formats
	formats = []Format{f}
	t.Cleanup(func() { formats = old })
}

func TestDeclarativeFormatJoinsTheBundle(t *testing.T) {
	var seen []string
	withFormat(t, lineFormat{&seen})
	dir := t.TempDir()
	files := map[string]string{
		"routines.lua":        `routine "double" { lua = function(input) return input * 2 end }`,
		"b/more.wf.txt":       "second double",
		"a.wf.txt":            "first double",
		"notes.txt":           "not part of the bundle",
		"extend.lua":          `extend("first", function(wf) wf:add_retry("T", { errors = { "X" } }) end)`,
		".hidden/x.wf.txt":    "bad",
		"other.json":          "{",
		"sub/more.lua":        `-- nothing`,
		"sub/deeper.wf.txt":   "third double",
		"sub/ignored.wf.txt~": "bad",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load(dir, Options{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if want := []string{"a.wf.txt", "b/more.wf.txt", "sub/deeper.wf.txt"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("the format read %v, want %v", seen, want)
	}
	w := b.Workflows["first"]
	if w == nil || w.Version != b.Hash || w.Machines == nil {
		t.Fatalf("first: %+v", w)
	}
	st := w.States["T"]
	if st.Routine == nil || len(st.Retry) != 1 || st.Retry[0].Errors[0] != "X" {
		t.Fatalf("task: routine %v, retry %+v (the extension should apply)", st.Routine, st.Retry)
	}
	out, err := st.Routine.Call(context.Background(), 21.0, &flow.Context{ItemIndex: -1})
	if err != nil || out != 42.0 {
		t.Errorf("routine: %v, %v", out, err)
	}
	if len(b.Sources) != 6 {
		t.Errorf("sources: %d, want the 3 Lua and 3 format files", len(b.Sources))
	}
	// Recompiling the kept sources gives the same bundle (what a restart
	// does with an instance's bundle).
	again, err := LoadSources(b.Sources, Options{})
	if err != nil || again.Hash != b.Hash || again.Workflows["second"] == nil {
		t.Fatalf("reload: %v", err)
	}
	// A new Lua state of the pool defines the formats again, so the
	// extension finds its workflow there too.
	out, err = routineOf(t, again, "double").Call(context.Background(), 1.0, &flow.Context{ItemIndex: -1})
	if err != nil || out != 2.0 {
		t.Errorf("routine after reload: %v, %v", out, err)
	}
}

func TestDeclarativeFormatProblemsAndUnknownRoutines(t *testing.T) {
	var seen []string
	withFormat(t, lineFormat{&seen})
	_, err := LoadSources([]flow.Source{
		{Path: "x.wf.txt", Body: []byte("ok missing\nbad")},
		{Path: "r.lua", Body: []byte("routine \"r\" { lua = function() end }\nextend(\"ok\", function(wf) wf:set(\"T\", \"timeout\", \"1s\") end)")},
	}, Options{})
	want := "r.lua:2: extend \"ok\", set: state \"T\" is not written in Lua (it comes from x.wf.txt); set works on Lua states only\n" +
		"x.wf.txt:1: workflow \"ok\", state \"T\": unknown routine \"missing\"\nx.wf.txt:2: want: workflow routine"
	if err == nil || err.Error() != want {
		t.Fatalf("problems:\n%v\nwant:\n%s", err, want)
	}
}
