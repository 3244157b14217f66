package scripting

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func loadGood(t testing.TB, opt Options) *flow.Bundle {
	t.Helper()
	b, err := Load("testdata/good", opt)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return b
}

func TestLoadBuildsEveryStateKind(t *testing.T) {
	b := loadGood(t, Options{})
	w := b.Workflows["place_order"]
	if w == nil {
		t.Fatal("place_order missing")
	}
	if w.Version != "v1" || w.Timeout != 5*time.Minute || w.Mode != flow.Express || w.Start != "Authorize" {
		t.Errorf("workflow fields: version %q timeout %v mode %v start %q", w.Version, w.Timeout, w.Mode, w.Start)
	}
	if w.Pos != (flow.Pos{File: "orders/place_order.lua", Line: 1}) {
		t.Errorf("workflow pos %v", w.Pos)
	}
	if c := w.Concurrency; c == nil || c.Limit != 2 || c.Key.(*flow.Path).String() != "$.order.id" {
		t.Errorf("concurrency %+v", c)
	}
	if got := b.Workflows["refund"].Version; got != b.Hash {
		t.Errorf("refund version %q, want the bundle hash %q", got, b.Hash)
	}
	st := w.States

	a := st["Authorize"]
	if a.Kind != flow.Task || a.RoutineName != "echo" || a.Routine == nil || a.Timeout != 2*time.Second ||
		a.Input.(*flow.Path).String() != "$.order" || a.Result.String() != "$.payment" ||
		a.Output.(*flow.Path).String() != "$" || a.Next != "Audit" || a.Pos.Line != 8 {
		t.Errorf("Authorize: %+v", a)
	}
	wantRetry := flow.Retrier{Errors: []string{"Http.5*", "States.Timeout"}, MaxAttempts: 5, Interval: 200 * time.Millisecond,
		Backoff: 1.5, MaxDelay: 2 * time.Second, FullJitter: true, Pos: a.Pos}
	if len(a.Retry) != 2 || !equalRetrier(a.Retry[0], wantRetry) {
		t.Errorf("retry[0] %+v", a.Retry)
	}
	def := flow.DefaultRetrier
	def.Errors, def.Pos = []string{"States.ALL"}, a.Pos
	if !equalRetrier(a.Retry[1], def) {
		t.Errorf("retry[1] %+v, want defaults %+v", a.Retry[1], def)
	}
	if len(a.Catch) != 3 || a.Catch[0].Next != "Declined" || a.Catch[0].Result.String() != "$.error" ||
		a.Catch[1].Result != nil || a.Catch[2].Next != "Notify" || a.Catch[2].Errors[0] != "Payment.Gateway" {
		t.Errorf("catch %+v", a.Catch)
	}

	r := st["Route"]
	if r.Kind != flow.Choice || len(r.Rules) != 2 || r.Rules[0].Next != "Review" || r.Rules[1].Next != "Fanout" || r.Default != "PreSave" {
		t.Errorf("Route %+v", r)
	}
	if _, ok := r.Rules[0].When.(luaCond); !ok {
		t.Errorf("rule 1 when is %T, want a Lua condition", r.Rules[0].When)
	}
	if tr, ok := r.Rules[1].When.(flow.Truthy); !ok || tr.Expr.(*flow.Path).String() != "$.express" {
		t.Errorf("rule 2 when is %#v, want Truthy($.express)", r.Rules[1].When)
	}

	if rv := st["Review"]; rv.Kind != flow.Await || rv.Event != "review.done" || rv.Timeout != 24*time.Hour ||
		rv.Result.String() != "$.review" || rv.Next != "PreSave" || len(rv.Catch) != 1 {
		t.Errorf("Review %+v", rv)
	}
	sv := st["Save"]
	if sv.Kind != flow.Pass || !sv.HasValue || sv.Result.String() != "$.saved" || sv.Next != "Pause" || len(sv.Retry) != 1 {
		t.Errorf("Save %+v", sv)
	}
	if v := sv.Value.(map[string]any); v["saved"] != true || len(v["ids"].([]any)) != 2 {
		t.Errorf("Save value %#v", sv.Value)
	}
	if p := st["Pause"]; p.Kind != flow.Wait || p.WaitFor != 1500*time.Millisecond || p.Until != nil {
		t.Errorf("Pause %+v", p)
	}
	if u := st["Until"]; u.Kind != flow.Wait || u.WaitFor != 0 || u.Until == nil {
		t.Errorf("Until %+v", u)
	}
	f := st["Fanout"]
	if f.Kind != flow.Parallel || len(f.Branches) != 2 || !f.DiscardResult || f.Result != nil ||
		f.Branches[0].Start != "A" || f.Branches[0].States["A"].Next != "B" || f.Branches[1].States["C"].Routine == nil {
		t.Errorf("Fanout %+v", f)
	}
	e := st["Each"]
	if e.Kind != flow.Map || e.MaxConcurrency != 4 || e.Items.(*flow.Path).String() != "$.order.lines" ||
		e.Iterator == nil || e.Iterator.Start != "Line" || e.Result.String() != "$.lines" {
		t.Errorf("Each %+v", e)
	}
	if c := st["Child"]; c.Kind != flow.Call || c.Workflow != "refund" || c.Version != "v2" || c.Next != "Done" {
		t.Errorf("Child %+v", c)
	}
	d := st["Declined"]
	if d.Kind != flow.Fail || d.Error.(flow.Const).Value != "Payment.Declined" {
		t.Errorf("Declined %+v", d)
	}
	if cause, err := flow.Text(d.Cause, map[string]any{"error": map[string]any{"cause": "no funds"}}, nil); err != nil || cause != "declined: no funds" {
		t.Errorf("Declined cause %q, %v", cause, err)
	}
	if fe := b.Workflows["refund"].States["Fail"].Error; fe.(*flow.Path).String() != "$.name" {
		t.Errorf("refund fail error %#v, want the path $.name", fe)
	}
	if dn := st["Done"]; dn.Kind != flow.Succeed || dn.Output.(*flow.Path).String() != "$.saved" {
		t.Errorf("Done %+v", dn)
	}
	if k := w.Machines; k[""] == nil || k["Fanout[0]"] == nil || k["Fanout[1]"] == nil || k["Each"] == nil {
		t.Errorf("machines not indexed: %v", k)
	}
}

func equalRetrier(a, b flow.Retrier) bool {
	return strings.Join(a.Errors, ",") == strings.Join(b.Errors, ",") && a.MaxAttempts == b.MaxAttempts &&
		a.Interval == b.Interval && a.Backoff == b.Backoff && a.MaxDelay == b.MaxDelay &&
		a.FullJitter == b.FullJitter && a.Pos == b.Pos
}

func TestExtensionsApplyAfterBaseDefinitions(t *testing.T) {
	w := loadGood(t, Options{}).Workflows["place_order"]
	st := w.States
	if n := st["Notify"]; n == nil || n.Next != "Declined" || n.RoutineName != "echo" {
		t.Errorf("add_state: %+v", n)
	}
	if au := st["Audit"]; au == nil || au.Next != "Route" || !au.DiscardResult || st["Authorize"].Next != "Audit" {
		t.Errorf("insert_after: Audit %+v, Authorize.Next %q", au, st["Authorize"].Next)
	}
	if ps := st["PreSave"]; ps == nil || ps.Next != "Save" || st["Route"].Default != "PreSave" || st["Review"].Next != "PreSave" {
		t.Errorf("insert_before: %+v", ps)
	}
	if got := st["Save"].Retry; len(got) != 1 || got[0].MaxAttempts != 1 || got[0].Interval != time.Second {
		t.Errorf("add_retry: %+v", got)
	}
	if got := w.Order[len(w.Order)-3:]; strings.Join(got, ",") != "Notify,Audit,PreSave" {
		t.Errorf("order ends with %v", got)
	}
}

func TestObserversAndSources(t *testing.T) {
	b := loadGood(t, Options{})
	if len(b.Observers) != 1 {
		t.Fatalf("observers %+v", b.Observers)
	}
	o := b.Observers[0]
	if o.Workflow != "place_order" || o.On != "StateExited" || o.State != "Done" || o.Routine == nil ||
		o.Input.(*flow.Path).String() != "$.saved" || len(o.Retry) != 1 || o.Pos != (flow.Pos{File: "orders/zz_extend.lua", Line: 13}) {
		t.Errorf("observer %+v", o)
	}
	var paths []string
	h := sha256.New()
	for _, s := range b.Sources {
		paths = append(paths, s.Path)
		body, err := os.ReadFile(filepath.Join("testdata/good", s.Path))
		if err != nil || string(body) != string(s.Body) {
			t.Errorf("source %s differs from the file", s.Path)
		}
		h.Write([]byte(s.Path))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(s.Body))))
		h.Write([]byte{0})
		h.Write(s.Body)
	}
	if strings.Join(paths, " ") != "orders/place_order.lua orders/zz_extend.lua routines.lua shared/money.lua" {
		t.Errorf("sources %v", paths)
	}
	if b.Hash != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("hash %s", b.Hash)
	}
	again, err := LoadSources(b.Sources, Options{})
	if err != nil || again.Hash != b.Hash || len(again.Workflows) != len(b.Workflows) {
		t.Errorf("LoadSources of the kept sources: %v", err)
	}
}

// fakePlugins resolves wasm routines and offers one manifest routine and
// hook, as the plugins package will.
type fakePlugins struct{}

func (fakePlugins) Func(plugin, fn string) (flow.Routine, error) {
	if plugin != "fraud" {
		return nil, errors.New("plugin \"" + plugin + "\" has no export " + fn)
	}
	return flow.RoutineFunc(func(context.Context, any, *flow.Context) (any, error) { return fn, nil }), nil
}

func (fakePlugins) Routines() map[string]flow.Routine {
	return map[string]flow.Routine{"fraud.check": flow.RoutineFunc(func(context.Context, any, *flow.Context) (any, error) { return "ok", nil })}
}

func (fakePlugins) Hooks() []*flow.Observer {
	return []*flow.Observer{{Workflow: "*", On: "ExecutionFailed", RoutineName: "fraud.check"}}
}

const wasmBundle = `
routine "fraud.score" { wasm = { plugin = "fraud", func = "score" } }
workflow "w" {
  start = "A",
  states = {
    A = task { routine = "fraud.score", next = "B" },
    B = task { routine = "fraud.check" },
  },
}
`

func TestPluginRoutinesAndHooks(t *testing.T) {
	b, err := LoadSources([]flow.Source{{Path: "w.lua", Body: []byte(wasmBundle)}}, Options{Plugins: fakePlugins{}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Workflows["w"].States["A"].Routine.Call(context.Background(), nil, nil)
	if err != nil || out != "score" {
		t.Errorf("wasm routine: %v, %v", out, err)
	}
	if b.Workflows["w"].States["B"].Routine == nil || b.Routines["fraud.check"] == nil {
		t.Error("manifest routine not resolved")
	}
	if len(b.Observers) != 1 || b.Observers[0].On != "ExecutionFailed" {
		t.Errorf("hooks not registered: %+v", b.Observers)
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name, src, want string
		opt             Options
	}{
		{"syntax", "workflow \"w\" {\n  start = = 1,\n}\n", "p.lua:2: syntax error near '='", Options{}},
		{"syntax at EOF", "x = 1\ny = 'abc", "p.lua:2: unterminated string", Options{}},
		{"runtime", "local t = nil\nlocal x = t.y\n", "p.lua:2: attempt to index a non-table object(nil) with key 'y'", Options{}},
		{"unknown field", okWorkflow("A = task { routine = \"r\", retyr = {} },"),
			`p.lua:4: workflow "w", state "A": unknown field "retyr"`, Options{}},
		{"unknown workflow field", "workflow \"w\" { start = \"A\", stats = {} }\n",
			`p.lua:1: workflow "w": unknown field "stats"`, Options{}},
		{"unknown retry field", okWorkflow("A = task { routine = \"r\", retry = { { errors = {\"X\"}, tries = 2 } } },"),
			`p.lua:4: workflow "w", state "A", retry 1: unknown field "tries"`, Options{}},
		{"unknown catch field", okWorkflow("A = task { routine = \"r\", catch = { { errors = {\"X\"}, next = \"A\", target = 1 } } },"),
			`p.lua:4: workflow "w", state "A", catch 1: unknown field "target"`, Options{}},
		{"unknown rule field", okWorkflow("A = choice { { when = \"$.x\", next = \"A\", go = 1 } },"),
			`p.lua:4: workflow "w", state "A", rule 1: unknown field "go"`, Options{}},
		{"unknown routine field", "routine \"x\" { lua = function() end, timeout = \"1s\" }\n",
			`p.lua:1: routine "x": unknown field "timeout"`, Options{}},
		{"unknown wasm field", "routine \"x\" { wasm = { plugin = \"fraud\", func = \"score\", memory = 1 } }\n",
			`p.lua:1: routine "x", wasm: unknown field "memory"`, Options{Plugins: fakePlugins{}}},
		{"unknown observe field", "routine \"r\" { lua = function() end }\nobserve { workflow = \"*\", on = \"StateExited\", routine = \"r\", when = 1 }\n",
			`p.lua:2: observe: unknown field "when"`, Options{}},
		{"unknown concurrency field", "workflow \"w\" { start = \"A\", concurrency = { key = \"$.id\", limit = 1, per = 2 }, states = { A = succeed {} } }\n",
			`p.lua:1: workflow "w", concurrency: unknown field "per"`, Options{}},
		{"unknown branch field", okWorkflow("A = parallel { branches = { { start = \"B\", states = { B = succeed {} }, name = \"x\" } } },"),
			`p.lua:4: workflow "w", state "A", branch 1: unknown field "name"`, Options{}},
		{"wrong type", okWorkflow("A = task { routine = \"r\", timeout = 5 },"),
			`p.lua:4: workflow "w", state "A": field "timeout" must be a string, got number`, Options{}},
		{"wrong list type", okWorkflow("A = task { routine = \"r\", catch = { { errors = \"X\", next = \"A\" } } },"),
			`p.lua:4: workflow "w", state "A", catch 1: field "errors" must be a list of strings, got string`, Options{}},
		{"unknown routine", okWorkflow("A = task { routine = \"nope\" },"),
			`p.lua:4: workflow "w", state "A": unknown routine "nope"`, Options{}},
		{"unknown observer routine", "routine \"r\" { lua = function() end }\nobserve { workflow = \"*\", on = \"StateExited\", routine = \"x\" }\n",
			`p.lua:2: observe: unknown routine "x"`, Options{}},
		{"bad path", okWorkflow("A = task { routine = \"r\", input = \"order.id\" },"),
			`p.lua:4: workflow "w", state "A": field "input": path "order.id" must start with $`, Options{}},
		{"bad duration", okWorkflow("A = task { routine = \"r\", timeout = \"2 seconds\" },"),
			`p.lua:4: workflow "w", state "A": field "timeout": bad duration "2 seconds" (write it like "500ms", "2s", "5m")`, Options{}},
		{"plugin not loaded", "routine \"x\" { wasm = { plugin = \"fraud\", func = \"score\" } }\n",
			`p.lua:1: routine "x", wasm: plugin "fraud" is not loaded`, Options{}},
		{"two routine kinds", "routine \"x\" { lua = function() end, wasm = { plugin = \"a\", func = \"b\" } }\n",
			`p.lua:1: routine "x": a routine needs exactly one of lua, http, wasm`, Options{Plugins: fakePlugins{}}},
		{"routine shadows a plugin's", "routine \"fraud.check\" { lua = function() end }\n",
			`p.lua:1: routine "fraud.check" is also defined by a plugin`, Options{Plugins: fakePlugins{}}},
		{"not a state", okWorkflow("A = { routine = \"r\" },"),
			`p.lua:2: workflow "w": state "A" must be built with task{...}, choice{...}, pass{...}, wait{...}, await{...}, parallel{...}, map{...}, call{...}, succeed{...} or fail{...}, got table`, Options{}},
		{"graph problem from Validate", okWorkflow("A = task { routine = \"r\", next = \"Nowhere\" },"),
			`p.lua:4: workflow "w", state "A": next "Nowhere" is not a state of this workflow`, Options{}},
		{"load-time loop", "while true do end\n", "p.lua:1: the script ran longer than 500ms at load time (an endless loop?)", Options{LuaTimeout: 50 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := LoadSources([]flow.Source{{Path: "p.lua", Body: []byte(c.src)}}, c.opt)
			assertProblem(t, b, err, c.want)
		})
	}
}

// A syntax error in one file hides none of the other files' problems
// (issue: orbit validate showed the syntax error alone), except names
// they miss, which the broken file may define.
func TestSyntaxErrorKeepsCheckingTheOtherFiles(t *testing.T) {
	_, err := LoadSources([]flow.Source{
		{Path: "a.lua", Body: []byte("routine \"shared\" { lua = function() end }\nworkflow \"a\" {\n")},
		{Path: "b.lua", Body: []byte(okWorkflow("A = task { routine = \"shared\", retyr = {} },"))},
		{Path: "c.lua", Body: []byte("workflow \"c\" { start = \"A\", states = { A = call { workflow = \"a\" }, B = succeed {} } }\n")},
	}, Options{})
	var ps flow.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v, want problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`a.lua:2: syntax error`,
		`b.lua:4: workflow "w", state "A": unknown field "retyr"`,
		`c.lua:1: workflow "c", state "B": unreachable from start "A"`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d is %q, want %q", i+1, got[i], want[i])
		}
	}
}

// okWorkflow wraps one state line (line 4) in a workflow with a routine r.
func okWorkflow(state string) string {
	return "routine \"r\" { lua = function() end }\nworkflow \"w\" {\n  start = \"A\", states = {\n    " + state + "\n  },\n}\n"
}

func assertProblem(t *testing.T, b *flow.Bundle, err error, want string) {
	t.Helper()
	if b != nil {
		t.Error("a bundle came back with problems")
	}
	var ps flow.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not flow.Problems", err, err)
	}
	for _, p := range ps {
		if p.String() == want {
			return
		}
	}
	t.Errorf("problems:\n%s\nwant:\n%s", ps, want)
}

func TestDuplicateWorkflowAcrossFiles(t *testing.T) {
	b, err := Load("testdata/dup", Options{})
	assertProblem(t, b, err, `b.lua:2: workflow "w" is already defined at a.lua:1`)
	assertProblem(t, b, err, `b.lua:1: routine "r" is already defined at a.lua:5`)
}

func TestProblemFilesInTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/problems/*.lua")
	if len(files) == 0 {
		t.Fatal("no problem files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			body, _ := os.ReadFile(file)
			first, _, _ := strings.Cut(string(body), "\n")
			want, ok := strings.CutPrefix(first, "-- want: ")
			if !ok {
				t.Fatal("the first line must be -- want: file:line: message")
			}
			b, err := Load(file, Options{})
			assertProblem(t, b, err, want)
		})
	}
}

func TestProblemsAreReportedOnce(t *testing.T) {
	src := "workflow \"w\" { start = \"A\", concurrency = { key = \"$.id\", limit = 0 }, states = { A = succeed {} } }\n"
	_, err := LoadSources([]flow.Source{{Path: "p.lua", Body: []byte(src)}}, Options{})
	var ps flow.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].String() != `p.lua:1: workflow "w": concurrency limit is 0; it must be 1 or more` {
		t.Errorf("problems: %v", err)
	}
}

// Unknown fields are reported in the order of their names, not in the
// order a Lua table happens to yield them, so a script's report is the
// same on every load.
func TestUnknownFieldsAreReportedInOrder(t *testing.T) {
	src := []byte(`routine "r" { lua = function() end, epsilon = 1, alpha = 1, delta = 1, beta = 1, gamma = 1 }`)
	_, err := LoadSources([]flow.Source{{Path: "u.lua", Body: src}}, Options{})
	var ps flow.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not flow.Problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Message)
	}
	want := []string{`routine "r": unknown field "alpha"`, `routine "r": unknown field "beta"`, `routine "r": unknown field "delta"`,
		`routine "r": unknown field "epsilon"`, `routine "r": unknown field "gamma"`}
	if !slices.Equal(got, want) {
		t.Fatalf("problems\n%q\nwant\n%q", got, want)
	}
}

// An unterminated string is reported on its own line, not on the next one
// (where the scanner stood after reading the line break), and never past
// the end of the file.
func TestUnterminatedStringIsOnItsLine(t *testing.T) {
	for src, want := range map[string]string{
		"x = 1\ny = \"abc\nz = 2\n":   "s.lua:2: unterminated string near 'abc'",
		"x = 1\r\ny = \"abc\r\nz = 2": "s.lua:2: unterminated string near 'abc'",
		"A\"\r":                       "s.lua:1: unterminated string",
		"x = 1\ny = \"abc":            "s.lua:2: unterminated string",
	} {
		b, err := LoadSources([]flow.Source{{Path: "s.lua", Body: []byte(src)}}, Options{})
		assertProblem(t, b, err, want)
	}
}

// dropInHook is a plugin whose one hook names workflow place_order.
type dropInHook struct{ fakePlugins }

func (dropInHook) Hooks() []*flow.Observer {
	return []*flow.Observer{{Workflow: "place_order", On: "ExecutionSucceeded", RoutineName: "wasm:audit/on_saved",
		Routine: flow.RoutineFunc(func(context.Context, any, *flow.Context) (any, error) { return nil, nil }),
		Pos:     flow.Pos{File: "plugins.d/audit/plugin.json"}}}
}

// A plugin's hook of a workflow the scripts do not define waits for it:
// the load succeeds and logs it, naming --plugins, and a load whose
// scripts define the workflow applies it (issue: orbit serve --scripts
// mywf refused to start for the example hook).
func TestHookOfAnAbsentWorkflowWaitsForIt(t *testing.T) {
	var logged bytes.Buffer
	opt := Options{Plugins: dropInHook{}, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	b, err := LoadSources([]flow.Source{{Path: "mine.lua", Body: []byte(okWorkflow(`A = task { routine = "r" },`))}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observers) != 0 {
		t.Errorf("the waiting hook is applied: %+v", b.Observers)
	}
	if got := logged.String(); !strings.Contains(got, `--plugins: plugins.d/audit/plugin.json: hook of workflow \"place_order\" waits`) {
		t.Errorf("log %q", got)
	}
	order := strings.Replace(okWorkflow(`A = task { routine = "r" },`), `workflow "w"`, `workflow "place_order"`, 1)
	b, err = LoadSources([]flow.Source{{Path: "order.lua", Body: []byte(order)}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Observers) != 1 || b.Observers[0].Workflow != "place_order" {
		t.Errorf("the hook is not applied once its workflow is defined: %+v", b.Observers)
	}
}
