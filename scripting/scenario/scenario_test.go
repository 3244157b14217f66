package scenario_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/diagram"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// routines.lua stands in for the services: Lua routines the XML scenarios
// call by name, so these tests run the real loader, Lua and engine
// without a network.
const routinesLua = `
routine "step1" { lua = function(foo) return { value = foo.value * 10 } end }
routine "step2" { lua = function(bar) return { checked = true } end }
routine "pay" { lua = function(order)
  if order.card == "declined" then error({ error = "Magento\\Payment\\Gateway\\Command\\CommandException", cause = "declined" }) end
  order.paid = "magento"
  return order
end }
routine "vendor.pay" { lua = function(order) order.paid = "vendor" return order end }
routine "save" { lua = function(order) order.status = "saved" return order end }
routine "fail.handler" { lua = function(order) order.status = "payment_failed" return order end }
routine "mail" { lua = function(order) return { sent = order.id } end }
routine "echo" { lua = function(x) return x end }
`

func sources(files map[string]string) []flow.Source {
	var srcs []flow.Source
	for p, body := range files {
		srcs = append(srcs, flow.Source{Path: p, Body: []byte(body)})
	}
	return srcs
}

func load(t *testing.T, files map[string]string) *flow.Bundle {
	t.Helper()
	b, err := scripting.LoadSources(sources(files), scripting.Options{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return b
}

// run starts one instance on a real engine over a bbolt file with a fake
// clock and returns it once it ended.
func run(t *testing.T, b *flow.Bundle, workflow, input string) *store.Instance {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.Config{Store: st, Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		Compile: func(files []flow.Source) (*flow.Bundle, error) {
			return scripting.LoadSources(files, scripting.Options{})
		}})
	ctx := context.Background()
	if err := e.Load(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close(ctx)
		st.Close()
	})
	in, _, err := e.Start(ctx, workflow, engine.StartOptions{Input: json.RawMessage(input), Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	in, err = e.Wait(wctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func readExamples(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	files := map[string]string{"routines.lua": routinesLua}
	for _, n := range names {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "xml", dir, n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = string(body)
	}
	return files
}

// withLuaRoutines points the examples' steps at the Lua routines above
// instead of their HTTP ones (the end-to-end test of cmd/orbit runs them
// against the stand-in service).
func withLuaRoutines(files map[string]string, names map[string]string) map[string]string {
	for p, body := range files {
		if !strings.HasSuffix(p, ".xml") {
			continue
		}
		for from, to := range names {
			body = strings.ReplaceAll(body, `routine="`+from+`"`, `routine="`+to+`"`)
		}
		files[p] = body
	}
	return files
}

func TestExampleRun(t *testing.T) {
	files := withLuaRoutines(readExamples(t, "run", "example.xml"), map[string]string{"example:step:1": "step1", "example:step:2": "step2"})
	b := load(t, files)
	in := run(t, b, "ExampleRun", `{"params": {"foo": {"value": 4}}}`)
	if in.Status != store.Succeeded || string(in.Output) != `{"bar":{"value":40},"foo":{"value":4}}` {
		t.Fatalf("%s %s %s: %s", in.Status, in.Error, in.Cause, in.Output)
	}
}

var orderRoutines = map[string]string{
	"Magento:Sales:OrderManagement:placePayment": "pay",
	"Magento:Sales:OrderManagement:saveOrder":    "save",
	"Magento:SalesPayment:handleFailure":         "fail.handler",
	"Magento:Sales:OrderManagement:sendEmail":    "mail",
	"Vendor:Payments:placePayment":               "vendor.pay",
}

const placeOrder = "Magento:Sales:OrderManagement:placeOrder"

func TestOrderPlacementMergesAcrossFiles(t *testing.T) {
	// The base file alone: three steps, no catch, no observer.
	b := load(t, withLuaRoutines(readExamples(t, "order", "01-sales.xml"), orderRoutines))
	w := b.Workflows[placeOrder]
	if got := strings.Join(w.Order, ","); got != "PlacePaymentForOrder,SaveOrder,OrderSuccessfullyPlaced" || w.Start != "PlacePaymentForOrder" {
		t.Fatalf("base: start %s, states %s", w.Start, got)
	}
	if in := run(t, b, placeOrder, `{"params":{"order":{"id":"1","card":"declined"}}}`); in.Status != store.Failed || !strings.HasPrefix(in.Error, "Magento\\Payment") {
		t.Fatalf("base, declined card: %s %s", in.Status, in.Error)
	}

	// The payment module adds a catch, a handler that exits and an observer.
	b = load(t, withLuaRoutines(readExamples(t, "order", "01-sales.xml", "02-sales-payment.xml"), orderRoutines))
	w = b.Workflows[placeOrder]
	pay := w.States["PlacePaymentForOrder"]
	if len(pay.Catch) != 1 || pay.Catch[0].Next != "PaymentFailureHandler" || pay.RoutineName != "pay" || pay.Next != "SaveOrder" || len(pay.Retry) != 1 {
		t.Fatalf("merged step: %+v", pay)
	}
	if h := w.States["PaymentFailureHandler"]; h == nil || h.Next != "" {
		t.Fatalf("handler: %+v", h)
	}
	if len(b.Observers) != 1 || b.Observers[0].On != "StateExited" || b.Observers[0].State != "SaveOrder" || b.Observers[0].Routine == nil {
		t.Fatalf("observers: %+v", b.Observers)
	}
	in := run(t, b, placeOrder, `{"params":{"order":{"id":"2","card":"declined"}}}`)
	if in.Status != store.Succeeded || string(in.Output) != `{"error":{"cause":"declined","error":"Magento\\Payment\\Gateway\\Command\\CommandException"},"params":{"order":{"card":"declined","id":"2","status":"payment_failed"}}}` {
		t.Fatalf("declined card with the handler: %s %s: %s", in.Status, in.Error, in.Output)
	}
	in = run(t, b, placeOrder, `{"params":{"order":{"id":"3","card":"ok"}}}`)
	if in.Status != store.Succeeded || string(in.Output) != `{"card":"ok","id":"3","paid":"magento","status":"saved"}` {
		t.Fatalf("good card: %s %s: %s", in.Status, in.Error, in.Output)
	}

	// The vendor's file replaces only the routine of one step.
	b = load(t, withLuaRoutines(readExamples(t, "order", "01-sales.xml", "02-sales-payment.xml", "03-vendor-payment.xml"), orderRoutines))
	pay = b.Workflows[placeOrder].States["PlacePaymentForOrder"]
	if pay.RoutineName != "vendor.pay" || len(pay.Catch) != 1 || pay.Next != "SaveOrder" {
		t.Fatalf("after the vendor's file: %+v", pay)
	}
	in = run(t, b, placeOrder, `{"params":{"order":{"id":"4","card":"ok"}}}`)
	if in.Status != store.Succeeded || string(in.Output) != `{"card":"ok","id":"4","paid":"vendor","status":"saved"}` {
		t.Fatalf("vendor payment: %s %s: %s", in.Status, in.Error, in.Output)
	}
}

const choiceXML = `<?xml version="1.0"?>
<config xmlns:x="http://www.w3.org/2001/XMLSchema-instance">
  <scenario name="Route">
    <step x:type="Choice" name="ExecuteStep3" next="Other">
      <choice x:type="Decision" name="toStep5" next="Step5">
        <connective type="and">
          <condition type="eq" value="param/foo">1</condition>
        </connective>
      </choice>
      <choice x:type="Decision" name="toStep4" next="Step4">
        <connective type="and">
          <condition type="eq" value="param/bar">2</condition>
          <connective type="or">
            <condition type="eq" value="code2">2</condition>
            <condition type="gte" value="code2">10</condition>
          </connective>
        </connective>
      </choice>
      <choice x:type="Decision" name="neither" next="Step6">
        <connective type="nor">
          <condition type="eq" value="param/bar">2</condition>
          <condition type="lt" value="items/0/qty">1</condition>
        </connective>
      </choice>
    </step>
    <step x:type="Success" name="Step4"/>
    <step x:type="Success" name="Step5"/>
    <step x:type="Success" name="Step6"/>
    <step x:type="Failure" name="Other" error="Route.None" cause="no decision matched"/>
  </scenario>
</config>`

func TestChoiceConnectives(t *testing.T) {
	b := load(t, map[string]string{"route.xml": choiceXML})
	st := b.Workflows["Route"].States["ExecuteStep3"]
	if got, want := st.Rules[1].Label(2), `toStep4: $.param.bar == 2 and ($.code2 == 2 or $.code2 >= 10)`; got != want {
		t.Errorf("rule 2 reads %q, want %q", got, want)
	}
	if got, want := st.Rules[2].Label(3), `neither: not ($.param.bar == 2 or $.items[0].qty < 1)`; got != want {
		t.Errorf("rule 3 reads %q, want %q", got, want)
	}
	for _, tc := range []struct{ input, state, status string }{
		{`{"param":{"foo":1}}`, "Step5", "SUCCEEDED"},
		{`{"param":{"foo":"1"}}`, "Step5", "SUCCEEDED"}, // text and number compare alike
		{`{"param":{"foo":0,"bar":2},"code2":"12"}`, "Step4", "SUCCEEDED"},
		{`{"param":{"foo":0,"bar":3},"items":[{"qty":5}]}`, "Step6", "SUCCEEDED"},
		{`{"param":{"foo":0,"bar":2},"code2":3,"items":[{"qty":5}]}`, "Other", "FAILED"},
	} {
		in := run(t, b, "Route", tc.input)
		if string(in.Status) != tc.status || in.State != tc.state {
			t.Errorf("%s: ended %s in %s (%s: %s), want %s in %s", tc.input, in.Status, in.State, in.Error, in.Cause, tc.status, tc.state)
		}
	}
	if in := run(t, b, "Route", `{"param":{"foo":0,"bar":2},"code2":3,"items":[{"qty":5}]}`); in.Error != "Route.None" || in.Cause != "no decision matched" {
		t.Errorf("failure step: %s: %s", in.Error, in.Cause)
	}
}

func TestProblemsNameFileAndLine(t *testing.T) {
	head := `<?xml version="1.0"?>` + "\n" + `<config xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n"
	for _, tc := range []struct{ name, body, want string }{
		{"syntax", head + "<scenario name=\"s\">\n</config>", `s.xml:4: element <scenario> closed by </config>`},
		{"unknown element", head + "<workflow/>\n</config>", `s.xml:3: unknown element <workflow> in <config>; a scenario file holds <scenario> and <routine> elements`},
		{"unknown type", head + "<scenario name=\"s\">\n<step xsi:type=\"Pass\" name=\"A\"/>\n</scenario></config>",
			`s.xml:4: scenario "s", step "A": unknown xsi:type "Pass"; use one of Task, Choice, Success, Failure, Observer`},
		{"no type", head + "<scenario name=\"s\">\n<step name=\"A\" routine=\"echo\"/>\n</scenario></config>",
			`s.xml:4: scenario "s", step "A": a new step needs an xsi:type (Task, Choice, Success, Failure, Observer)`},
		{"unknown attribute", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"echo\" exit=\"true\" outputpath=\"x\"/>\n</scenario></config>",
			`s.xml:4: scenario "s", step "A": unknown attribute "outputpath"; it takes name, next, routine, inputPath, outputPath, exit`},
		{"no next", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"echo\"/>\n</scenario></config>",
			`s.xml:4: scenario "s", step "A": a task needs next="..." or exit="true"`},
		{"unknown next", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"echo\" next=\"B\"/>\n</scenario></config>",
			`s.xml:4: workflow "s", state "A": next "B" is not a state of this workflow`},
		{"unknown routine", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"nope\" exit=\"true\"/>\n</scenario></config>",
			`s.xml:4: workflow "s", state "A": unknown routine "nope"`},
		{"bad condition", head + "<scenario name=\"s\">\n<step xsi:type=\"Choice\" name=\"A\" next=\"B\">\n<choice xsi:type=\"Decision\" name=\"d\" next=\"B\">\n<condition type=\"like\" value=\"a\">1</condition>\n</choice></step><step xsi:type=\"Success\" name=\"B\"/>\n</scenario></config>",
			`s.xml:6: scenario "s", step "A", choice "d": condition type "like" must be one of eq, ne, lt, lte, gt, gte`},
		{"bad connective", head + "<scenario name=\"s\">\n<step xsi:type=\"Choice\" name=\"A\" next=\"B\">\n<choice xsi:type=\"Decision\" name=\"d\" next=\"B\">\n<connective type=\"xor\"><condition type=\"eq\" value=\"a\">1</condition></connective>\n</choice></step><step xsi:type=\"Success\" name=\"B\"/>\n</scenario></config>",
			`s.xml:6: scenario "s", step "A", choice "d": connective type "xor" must be and, or or nor`},
		{"observer without target", head + "<scenario name=\"s\">\n<step xsi:type=\"Success\" name=\"A\"/>\n<step xsi:type=\"Observer\" name=\"O\" routine=\"echo\"/>\n</scenario></config>",
			`s.xml:5: scenario "s", step "O": an observer needs before="Step" or after="Step"`},
		{"observer of a missing step", head + "<scenario name=\"s\">\n<step xsi:type=\"Success\" name=\"A\"/>\n<step xsi:type=\"Observer\" name=\"O\" routine=\"echo\" after=\"B\"/>\n</scenario></config>",
			`s.xml:5: observer 1 of workflow "s": state "B" is not a state of the workflow`},
		{"catch on an observer", head + "<scenario name=\"s\">\n<step xsi:type=\"Success\" name=\"A\"/>\n<step xsi:type=\"Observer\" name=\"O\" routine=\"echo\" after=\"A\">\n<catch exception=\"X\" next=\"A\"/></step>\n</scenario></config>",
			`s.xml:6: scenario "s", step "O": a Observer step takes <retry>, not <catch>`},
		{"bad retry", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"echo\" exit=\"true\">\n<retry exception=\"X\" attempts=\"many\"/></step>\n</scenario></config>",
			`s.xml:5: scenario "s", step "A", retry: attempts must be a whole number >= 0, got "many"`},
		{"bad path", head + "<scenario name=\"s\">\n<step xsi:type=\"Task\" name=\"A\" routine=\"echo\" exit=\"true\" inputPath=\"a//b\"/>\n</scenario></config>",
			`s.xml:4: scenario "s", step "A": inputPath: path "a//b" has an empty segment`},
		{"routine type", head + "<routine xsi:type=\"SoapRoutine\" name=\"r\" url=\"http://x\"/>\n</config>",
			`s.xml:3: routine: xsi:type must be "WebAPIRoutine" (or "MagentoWebAPIRoutine"), got "SoapRoutine"`},
		{"routine shadows a script's", head + "<routine xsi:type=\"WebAPIRoutine\" name=\"echo\" url=\"http://x\"/>\n</config>",
			`s.xml:3: routine "echo" is already defined by a script`},
		{"twice in one file", head + "<scenario name=\"s\">\n<step xsi:type=\"Success\" name=\"A\"/>\n<step xsi:type=\"Success\" name=\"A\"/>\n</scenario></config>",
			`s.xml:5: scenario "s", step "A" is declared twice in this file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := scripting.LoadSources([]flow.Source{{Path: "s.xml", Body: []byte(tc.body)}, {Path: "r.lua", Body: []byte(routinesLua)}}, scripting.Options{})
			var ps flow.Problems
			if b != nil || !errors.As(err, &ps) {
				t.Fatalf("load: %v", err)
			}
			for _, p := range ps {
				if p.String() == tc.want {
					return
				}
			}
			t.Errorf("problems:\n%s\nwant:\n%s", ps, tc.want)
		})
	}
}

func TestMergeOverridesAndTypeConflicts(t *testing.T) {
	base := `<config xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><scenario name="s">
<step xsi:type="Task" name="A" routine="echo" next="B" inputPath="in"><retry exception="X" attempts="1" timeout="5"/></step>
<step xsi:type="Success" name="B"/>
</scenario></config>`
	ext := `<config xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><scenario name="s">
<step name="A" inputPath="params/other"><retry exception="X" attempts="4" timeout="250"/><retry exceptoin="Y"/></step>
<step xsi:type="Choice" name="B"/>
</scenario></config>`
	_, err := scripting.LoadSources(sources(map[string]string{"a.xml": base, "b.xml": ext, "r.lua": routinesLua}), scripting.Options{})
	want := `b.xml:3: scenario "s", step "B": xsi:type "Choice" differs from "Success" declared at a.xml:3`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("type conflict: %v", err)
	}
	ext = strings.Replace(ext, `<step xsi:type="Choice" name="B"/>`, "", 1)
	b := load(t, map[string]string{"a.xml": base, "b.xml": ext, "r.lua": routinesLua})
	a := b.Workflows["s"].States["A"]
	if a.Next != "B" || a.Input.(*flow.Path).String() != "$.params.other" || len(a.Retry) != 2 {
		t.Fatalf("merged A: next %q, input %v, retry %+v", a.Next, a.Input, a.Retry)
	}
	if r := a.Retry[0]; r.MaxAttempts != 4 || r.Interval != 250*time.Millisecond || r.Backoff != 1 {
		t.Errorf("overridden retry: %+v", r)
	}
	if r := a.Retry[1]; r.Errors[0] != "Y" || r.MaxAttempts != 3 || r.Interval != time.Second {
		t.Errorf("added retry with defaults: %+v", r)
	}
}

// A scenario converted to Lua loads back to the same workflow: the same
// diagram, observers included, and the same outcome for every input.
func TestConvertToLuaRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name, workflow string
		files          map[string]string
		inputs         []string
	}{
		{"choice", "Route", map[string]string{"route.xml": choiceXML}, []string{
			`{"param":{"foo":"1"}}`, `{"param":{"foo":0,"bar":2},"code2":"12"}`,
			`{"param":{"foo":0,"bar":3},"items":[{"qty":5}]}`, `{"param":{"foo":0,"bar":2},"code2":3,"items":[{"qty":5}]}`}},
		{"order", placeOrder, withLuaRoutines(readExamples(t, "order", "01-sales.xml", "02-sales-payment.xml", "03-vendor-payment.xml"), orderRoutines),
			[]string{`{"params":{"order":{"id":"1","card":"declined"}}}`, `{"params":{"order":{"id":"2","card":"ok"}}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fromXML := load(t, tc.files)
			script, err := scripting.LuaScript(fromXML, tc.workflow)
			if err != nil {
				t.Fatal(err)
			}
			fromLua := load(t, map[string]string{"converted.lua": script, "routines.lua": routinesLua})
			x, l := fromXML.Workflows[tc.workflow], fromLua.Workflows[tc.workflow]
			if a, b := diagram.DOT(diagram.New(x, fromXML.Observers...)), diagram.DOT(diagram.New(l, fromLua.Observers...)); a != b {
				t.Fatalf("the diagrams differ:\n%s\n%s\nscript:\n%s", a, b, script)
			}
			for _, in := range tc.inputs {
				a, b := run(t, fromXML, tc.workflow, in), run(t, fromLua, tc.workflow, in)
				if a.Status != b.Status || a.State != b.State || string(a.Output) != string(b.Output) || a.Error != b.Error {
					t.Errorf("%s: XML ended %s in %s with %s %s, Lua %s in %s with %s %s", in,
						a.Status, a.State, a.Output, a.Error, b.Status, b.State, b.Output, b.Error)
				}
			}
		})
	}
}

func TestConvertRefusesFunctions(t *testing.T) {
	b := load(t, map[string]string{"w.lua": `
routine "r" { lua = function(x) return x end }
workflow "w" { start = "A", states = {
  A = task { routine = "r", input = function(d) return d.x end, next = "B" },
  B = choice { { when = function(d) return true end, next = "C" }, default = "C" },
  C = succeed {},
} }`})
	_, err := scripting.LuaScript(b, "w")
	if err == nil || !strings.Contains(err.Error(), `w, state "A", input is a function, not a path`) ||
		!strings.Contains(err.Error(), `w, state "B", rule 1: the condition is a function`) {
		t.Fatalf("got %v", err)
	}
}

// A before observer is the engine's before hook on StateEntered; an after
// one an ordinary observer of StateExited.
func TestObserverSteps(t *testing.T) {
	b := load(t, map[string]string{"r.lua": routinesLua, "o.xml": `<config xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><scenario name="s">
<step xsi:type="Task" name="A" routine="echo" exit="true"/>
<step xsi:type="Observer" name="Audit" before="A" routine="mail" inputPath="order"><retry exception="States.ALL" attempts="2"/></step>
<step xsi:type="Observer" name="Mail" after="A" routine="mail"/>
</scenario></config>`})
	if len(b.Observers) != 2 {
		t.Fatalf("observers: %+v", b.Observers)
	}
	before, after := b.Observers[0], b.Observers[1]
	if !before.Before || before.On != store.EventStateEntered || before.State != "A" || before.Name != "Audit" ||
		before.Input.(*flow.Path).String() != "$.order" || len(before.Retry) != 1 || before.Routine == nil {
		t.Errorf("before: %+v", before)
	}
	if after.Before || after.On != store.EventStateExited || after.State != "A" || after.Input != nil {
		t.Errorf("after: %+v", after)
	}
	if w := b.Workflows["s"]; len(w.Order) != 1 {
		t.Errorf("observer steps became states: %v", w.Order)
	}
}
