package asl_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
)

// Every state machine of the conformance cases Orbit passes, converted to
// a Lua script (orbit convert) and run from it, ends as the recording
// says, as it does from the ASL file: the Lua form of an ASL workflow
// keeps its semantics whole.
func TestConvertedToLuaRunsTheSame(t *testing.T) {
	known := readKnownFailures(t)
	converted := 0
	for _, rel := range caseFiles(t, corpusDir) {
		if _, failing := known[filepath.ToSlash(rel)]; failing {
			continue
		}
		c := readCase(t, filepath.Join(corpusDir, rel))
		if c.API == "TestState" {
			continue
		}
		b, err := scripting.LoadSources([]flow.Source{{Path: "case.asl.json", Body: c.Definition}}, scripting.Options{Plugins: lambdaFunctions{fns: c.LambdaFunctions}})
		if err != nil {
			continue // a definition AWS refuses, as Orbit does: nothing to convert
		}
		script, err := scripting.LuaScript(b, "case")
		if err != nil {
			t.Errorf("%s: convert: %v", rel, err)
			continue
		}
		got, err := runSources(c, []flow.Source{{Path: "case.lua", Body: []byte(script)}})
		if err != nil {
			t.Errorf("%s: run the Lua script: %v\n%s", rel, err, script)
			continue
		}
		if problem := compare(c, got); problem != "" {
			t.Errorf("%s: from Lua: %s\n%s", rel, problem, script)
			continue
		}
		converted++
	}
	t.Logf("%d state machines ran the same from Lua", converted)
	if converted < 600 {
		t.Errorf("only %d state machines converted; the corpus has over 600 executions that pass", converted)
	}
}

// A script of an ASL workflow reads back to the document it was written
// from.
func TestConvertedScriptReadsBackToTheDocument(t *testing.T) {
	examples := exampleSources(t)
	b, err := scripting.LoadSources(examples, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"order", "quote"} {
		script, err := scripting.LuaScript(b, name)
		if err != nil {
			t.Fatal(err)
		}
		srcs := []flow.Source{{Path: "converted.lua", Body: []byte(script)}}
		for _, s := range examples {
			if strings.HasSuffix(s.Path, ".lua") {
				srcs = append(srcs, s)
			}
		}
		back, err := scripting.LoadSources(srcs, scripting.Options{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, script)
		}
		want := b.Workflows[name].Definition.(*asl.Node).Value()
		got := back.Workflows[name].Definition.(*asl.Node).Value()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read back as\n%v\nwant\n%v\nfrom\n%s", name, got, want, script)
		}
	}
}

// exampleSources are the files of examples/asl.
func exampleSources(t *testing.T) []flow.Source {
	t.Helper()
	paths, err := filepath.Glob("../examples/asl/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var srcs []flow.Source
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, flow.Source{Path: filepath.Base(p), Body: body})
	}
	return srcs
}

// A Lua workflow written in ASL (orbit convert --to asl) runs to the same
// ends as the Lua workflow: paths, declarative conditions (a string that
// spells a number included), retries, catches, a map, a wait and a
// parallel state.
func TestLuaConvertedToASLRunsTheSame(t *testing.T) {
	workflow, err := os.ReadFile("testdata/convert/workflow.lua")
	if err != nil {
		t.Fatal(err)
	}
	routines, err := os.ReadFile("testdata/convert/routines.lua")
	if err != nil {
		t.Fatal(err)
	}
	lua, err := scripting.LoadSources([]flow.Source{{Path: "routines.lua", Body: routines}, {Path: "workflow.lua", Body: workflow}}, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := asl.Document(lua, lua.Workflows["shipment"])
	if err != nil {
		t.Fatal(err)
	}
	body, err := doc.Indented()
	if err != nil {
		t.Fatal(err)
	}
	fromASL, err := scripting.LoadSources([]flow.Source{{Path: "routines.lua", Body: routines}, {Path: "shipment.asl.json", Body: body}}, scripting.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	for _, in := range []string{
		`{"order":{"country":"DE","qty":20,"express":false,"skus":["a","b","c"]}}`,
		`{"order":{"country":"DE","qty":2,"skus":["a"]}}`,
		`{"order":{"country":"DE","qty":"2","skus":[]}}`,
		`{"order":{"country":"DE","qty":1,"express":true,"skus":["z"]}}`,
		`{"order":{"country":"XX","qty":1,"skus":["a"]}}`,
	} {
		a, err := runToEnd(lua, clock.NewFake(epoch), "shipment", json.RawMessage(in))
		if err != nil {
			t.Fatal(err)
		}
		b, err := runToEnd(fromASL, clock.NewFake(epoch), "shipment", json.RawMessage(in))
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != b.Status || a.Error != b.Error || a.Cause != b.Cause || !jsonSame(a.Output, b.Output) {
			t.Errorf("%s:\nLua %s %s %q %s\nASL %s %s %q %s\n%s", in, a.Status, a.Error, a.Cause, a.Output, b.Status, b.Error, b.Cause, b.Output, body)
		}
	}
}

// jsonSame compares two JSON texts as values.
func jsonSame(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// What ASL cannot say is refused, each place named.
func TestDocumentRefusesWhatASLCannotSay(t *testing.T) {
	src := `
routine "r" { lua = function(i) return i end }
workflow "w" {
  mode = "express",
  start = "A",
  states = {
    A = task { routine = "r", input = function(d) return d end, retry = { { errors = { "Http.5*", "States.TaskFailed" }, interval = "250ms" } }, next = "B" },
    B = await { event = "go", next = "C" },
    C = choice { { when = function(d) return true end, next = "D" }, default = "D" },
    D = succeed {},
  },
}`
	b, err := scripting.LoadSources([]flow.Source{{Path: "w.lua", Body: []byte(src)}}, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = asl.Document(b, b.Workflows["w"])
	for _, want := range []string{
		`workflow "w": express mode is the type of an AWS state machine`,
		`state "A", input is a function, not a path`,
		`state "A", retry 1: "Http.5*" matches names by prefix`,
		`state "A", retry 1: ASL reads States.TaskFailed as every error but States.Timeout`,
		`state "A", retry 1, interval 250ms: ASL counts whole seconds`,
		`state "B": ASL has no await state`,
		`state "C", rule 1: the condition is a function`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
}

// Problems of an ASL workflow written in Lua name the Lua file and the
// line of the state.
func TestLuaASLWorkflowProblems(t *testing.T) {
	src := `workflow "w" {
  language = "asl",
  start = "A",
  states = {
    A = pass {
      value = 1,
      asl = { Result = 2, ResultPth = "$.x" },
      next = "B",
    },
    B = await { event = "e" },
  },
}
workflow "v" { language = "cobol", start = "A", states = { A = succeed {} } }
`
	_, err := scripting.LoadSources([]flow.Source{{Path: "flows/w.lua", Body: []byte(src)}}, scripting.Options{})
	for _, want := range []string{
		`flows/w.lua:5: workflow "w", state "A": asl.Result is also given by a field of the state`,
		`flows/w.lua:5: state "A": unknown field "ResultPth"`,
		`flows/w.lua:10: workflow "w", state "B": an ASL workflow has no await state`,
		`flows/w.lua:13: workflow "v": language "cobol" must be "lua" (the default) or "asl"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

// An ASL workflow in Lua takes the state machine's type as the DSL's
// mode, which the converted script keeps.
func TestLuaASLWorkflowExpressMode(t *testing.T) {
	src := `workflow "w" { language = "asl", mode = "express", start = "A", states = { A = pass { asl = { Parameters = { ["id.$"] = "$$.Execution.Name" } } } } }`
	b, err := scripting.LoadSources([]flow.Source{{Path: "w.lua", Body: []byte(src)}}, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Workflows["w"].Mode != flow.Express {
		t.Fatal("mode express did not make an express workflow")
	}
	script, err := scripting.LuaScript(b, "w")
	if err != nil || !strings.Contains(script, `mode = "express"`) {
		t.Fatalf("%v\n%s", err, script)
	}
	end, err := runToEnd(b, clock.NewFake(epoch), "w", json.RawMessage(`{}`))
	if err != nil || end.Status != "SUCCEEDED" || !strings.Contains(string(end.Output), `"id":"`) {
		t.Fatalf("%v %+v", err, end)
	}
}
