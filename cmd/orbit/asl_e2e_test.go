package main_test

import (
	"bytes"
	"encoding/json"
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
