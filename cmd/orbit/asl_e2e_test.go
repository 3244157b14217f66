package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// orbit test-state runs one state of an example state machine in
// isolation, with mocks, on the real binary.
func TestTestStateCommand(t *testing.T) {
	type answer struct {
		Status     string          `json:"status"`
		Output     json.RawMessage `json:"output"`
		Error      string          `json:"error"`
		NextState  string          `json:"next_state"`
		Inspection map[string]any  `json:"inspection_data"`
	}
	test := func(wantCode int, args ...string) answer {
		t.Helper()
		out, errOut, code := runOrbit(t, nil, append([]string{"test-state", "../../examples/asl"}, args...)...)
		var a answer
		if code != wantCode || json.Unmarshal([]byte(out), &a) != nil {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		var b bytes.Buffer
		json.Compact(&b, a.Output)
		a.Output = b.Bytes()
		return a
	}
	order := `{"price":{"total":130},"order":{"card":"4000-0000-0000-0002","trusted":false}}`
	a := test(0, "order", "Charge", "--input", order, "--mock-error", "Card.Declined", "--mock-cause", "no funds")
	if a.Status != "CAUGHT_ERROR" || a.NextState != "Declined" || !strings.Contains(string(a.Output), `"error":{"Cause":"no funds","Error":"Card.Declined"}`) {
		t.Errorf("caught: %+v %s", a, a.Output)
	}
	a = test(0, "order", "Charge", "--input", order, "--mock-error", "Card.Busy", "--retry-count", "1", "--inspection-level", "DEBUG")
	details, _ := a.Inspection["error_details"].(map[string]any)
	if a.Status != "RETRIABLE" || details["retry_backoff_interval_seconds"] != 2.0 {
		t.Errorf("retriable: %+v", a)
	}
	a = test(0, "order", "Charge", "--input", `{"price":{"total":30},"order":{"card":"4242"}}`, "--inspection-level", "DEBUG")
	if a.Status != "SUCCEEDED" || a.NextState != "Route" || !strings.Contains(string(a.Output), `"payment":{"receipt":"r-4242","status":200}`) ||
		a.Inspection["after_parameters"] == nil {
		t.Errorf("the routine called: %+v %s", a, a.Output)
	}
	if a = test(0, "order", "Route", "--input", order); a.NextState != "Review" {
		t.Errorf("choice: %+v", a)
	}
	if a = test(1, "order", "Declined", "--input", `{"error":{"Cause":"no funds"}}`); a.Status != "FAILED" || a.Error != "Order.Declined" {
		t.Errorf("fail state: %+v", a)
	}
	if a = test(0, "order", "Box", "--input", `{"sku":"a","position":0}`); string(a.Output) != `{"box":1,"sku":"a"}` {
		t.Errorf("a state of the iterator: %+v %s", a, a.Output)
	}
	_, errOut, code := runOrbit(t, nil, "test-state", "../../examples/asl", "order", "Pack", "--input", order)
	if code != 1 || !strings.Contains(errOut, "give a mock") {
		t.Errorf("a map without a mock: exit %d, stderr %q", code, errOut)
	}
}

// orbit convert writes the ASL examples as Lua scripts that run to the
// same outputs, and writes those scripts back as ASL that runs the same
// again; a Lua workflow ASL cannot say is refused with what it cannot say.
func TestConvertASLToLuaRoundTrips(t *testing.T) {
	routines, err := os.ReadFile("../../examples/asl/routines.lua")
	if err != nil {
		t.Fatal(err)
	}
	orders := []string{
		`{"order":{"id":"o-1","card":"4242","trusted":false,"items":[{"sku":"a","price":60,"qty":1},{"sku":"broken","price":50,"qty":1}]}}`,
		`{"order":{"id":"o-2","card":"4242","trusted":true,"items":[{"sku":"a","price":6,"qty":3}]}}`,
		`{"order":{"id":"o-3","card":"4000-0000-0000-0002","items":[{"sku":"a","price":6,"qty":1}]}}`,
	}
	quotes := []string{
		`{"orders":12,"zone":"eu","parcels":[{"kg":10},{"kg":5}]}`,
		`{"orders":2,"zone":"eu","parcels":[{"kg":1}]}`,
		`{"orders":2,"zone":"moon","parcels":[{"kg":1}]}`,
	}
	for _, tc := range []struct {
		workflow string
		inputs   []string
	}{{"order", orders}, {"quote", quotes}} {
		script, errOut, code := runOrbit(t, nil, "convert", "../../examples/asl", tc.workflow)
		if code != 0 || !strings.Contains(script, `language = "asl"`) {
			t.Fatalf("convert %s: exit %d\n%s%s", tc.workflow, code, script, errOut)
		}
		luaDir := t.TempDir()
		write(t, filepath.Join(luaDir, tc.workflow+".lua"), script)
		write(t, filepath.Join(luaDir, "routines.lua"), string(routines))
		doc, errOut, code := runOrbit(t, nil, "convert", luaDir, tc.workflow, "--to", "asl")
		if code != 0 {
			t.Fatalf("convert %s --to asl: exit %d %s", tc.workflow, code, errOut)
		}
		aslDir := t.TempDir()
		write(t, filepath.Join(aslDir, tc.workflow+".asl.json"), doc)
		write(t, filepath.Join(aslDir, "routines.lua"), string(routines))
		for _, in := range tc.inputs {
			want, e1, c1 := runOrbit(t, nil, "run", "../../examples/asl", tc.workflow, "--input", in)
			for _, dir := range []string{luaDir, aslDir} {
				got, e2, c2 := runOrbit(t, nil, "run", dir, tc.workflow, "--input", in)
				if c1 != c2 || want != got || e1 != e2 {
					t.Errorf("%s %s from %s: exit %d %q %q, the original exit %d %q %q", tc.workflow, in, dir, c2, got, e2, c1, want, e1)
				}
			}
		}
	}
	_, errOut, code := runOrbit(t, nil, "convert", "../../scripts", "place_order", "--to", "asl")
	if code != 1 || !strings.Contains(errOut, `state "Review": ASL has no await state`) || !strings.Contains(errOut, `"Http.5*" matches names by prefix`) {
		t.Errorf("a Lua workflow ASL cannot say: exit %d, stderr %q", code, errOut)
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
