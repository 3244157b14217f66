package asl_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store"
)

// TestProblemsNameFileAndLine: mistakes in an ASL file are reported at
// the line of the offending key, with the Lua loader's file:line form.
func TestProblemsNameFileAndLine(t *testing.T) {
	src := `{
  "StartAt": "A",
  "States": {
    "A": {
      "Type": "Pass",
      "Nxt": "B",
      "Next": "B"
    },
    "B": {
      "Type": "Task",
      "Resource": "no.such.routine",
      "ResultPath": "$.items[*]",
      "End": true
    },
    "C": { "Type": "Wait", "End": true }
  }
}`
	_, err := scripting.LoadSources([]flow.Source{{Path: "flows/order.asl.json", Body: []byte(src)}}, scripting.Options{})
	if err == nil {
		t.Fatal("loaded a bad definition")
	}
	for _, want := range []string{
		`flows/order.asl.json:6: state "A": unknown field "Nxt"`,
		`flows/order.asl.json:12: state "B": ResultPath "$.items[*]" must be a reference path`,
		`flows/order.asl.json:15: state "C": a Wait needs exactly one of Seconds`,
		`flows/order.asl.json:9: workflow "order", state "B": unknown routine "no.such.routine"`,
		`flows/order.asl.json:15: workflow "order", state "C": unreachable from start "A"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	_, err = scripting.LoadSources([]flow.Source{{Path: "x.asl.json", Body: []byte("{\n  \"StartAt\": \"A\",\n  \"States\": {\n}")}}, scripting.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "x.asl.json:4: invalid JSON") {
		t.Errorf("syntax error: %v", err)
	}
}

// TestLambdaResourcesCallLuaRoutines runs a state machine written for AWS
// whose Lambda functions are Lua routines, through the loader and engine.
func TestLambdaResourcesCallLuaRoutines(t *testing.T) {
	machine := `{
  "StartAt": "Price",
  "States": {
    "Price": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:price:live",
      "Parameters": {"amount.$": "$.order.amount", "label.$": "States.Format('order {}', $.order.id)"},
      "ResultPath": "$.price",
      "Next": "Notify"
    },
    "Notify": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "notify", "Payload": {"total.$": "$.price.total"}},
      "ResultSelector": {"sent.$": "$.Payload.sent", "status.$": "$.StatusCode"},
      "ResultPath": "$.notice",
      "Retry": [{"ErrorEquals": ["Mail.Busy"], "IntervalSeconds": 30, "MaxAttempts": 2}],
      "End": true
    }
  }
}`
	lua := `
routine "price" { lua = function(input) return { total = input.amount * 1.2, label = input.label } end }
local tries = 0
routine "notify" { lua = function(input)
  tries = tries + 1
  if tries == 1 then error({ error = "Mail.Busy", cause = "try later" }) end
  return { sent = input.total }
end }
`
	b, err := scripting.LoadSources([]flow.Source{{Path: "shop.asl.json", Body: []byte(machine)}, {Path: "routines.lua", Body: []byte(lua)}}, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(epoch)
	end, err := runToEnd(b, clk, "shop", json.RawMessage(`{"order":{"id":"o-1","amount":10}}`))
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(end.Output, &out)
	want := map[string]any{"order": map[string]any{"id": "o-1", "amount": 10.0},
		"price":  map[string]any{"total": 12.0, "label": "order o-1"},
		"notice": map[string]any{"sent": 12.0, "status": 200.0}}
	if end.Status != "SUCCEEDED" || !reflect.DeepEqual(out, want) {
		t.Fatalf("%s %s %s: %s", end.Status, end.Error, end.Cause, end.Output)
	}
	if got := clk.Now().Sub(epoch); got != 30*time.Second {
		t.Errorf("the retry waited %s on the fake clock, want 30s", got)
	}
}

// runASL loads one state machine with Lua routines beside it and runs it
// to its end on a fake clock.
func runASL(t *testing.T, machine, lua, input string) *store.Instance {
	t.Helper()
	srcs := []flow.Source{{Path: "m.asl.json", Body: []byte(machine)}}
	if lua != "" {
		srcs = append(srcs, flow.Source{Path: "routines.lua", Body: []byte(lua)})
	}
	b, err := scripting.LoadSources(srcs, scripting.Options{})
	if err != nil {
		t.Fatal(err)
	}
	end, err := runToEnd(b, clock.NewFake(epoch), "m", json.RawMessage(input))
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// checkEnd compares an ended instance with a status, and an output (for
// SUCCEEDED) or error and cause.
func checkEnd(t *testing.T, what string, in *store.Instance, status, output, errName, cause string) {
	t.Helper()
	if string(in.Status) != status || in.Error != errName || in.Cause != cause {
		t.Errorf("%s: %s %q %q (output %s), want %s %q %q", what, in.Status, in.Error, in.Cause, in.Output, status, errName, cause)
		return
	}
	if output != "" && string(in.Output) != output {
		t.Errorf("%s: output %s, want %s", what, in.Output, output)
	}
}

// A Map's tolerated failures are honoured: within the tolerance a failed
// item leaves null, beyond it the map fails with AWS's error; the Path
// forms read the tolerance and the concurrency from the input.
func TestMapToleratedFailures(t *testing.T) {
	lua := `routine "check" { lua = function(input)
  if input == "bad" then error({ error = "Item.Bad", cause = "bad item" }) end
  return input
end }`
	machine := `{
  "StartAt": "Each",
  "States": {
    "Each": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrencyPath": "$.atOnce",
      "ToleratedFailureCountPath": "$.mayFail",
      "ItemProcessor": {"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": "check", "End": true}}},
      "End": true
    }
  }
}`
	checkEnd(t, "within", runASL(t, machine, lua, `{"items":["a","bad","c"],"atOnce":1,"mayFail":1}`),
		"SUCCEEDED", `["a",null,"c"]`, "", "")
	checkEnd(t, "beyond", runASL(t, machine, lua, `{"items":["bad","b","bad"],"atOnce":2,"mayFail":1}`),
		"FAILED", "", "States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")
	pct := strings.Replace(machine, `"ToleratedFailureCountPath": "$.mayFail"`, `"ToleratedFailurePercentage": 50`, 1)
	checkEnd(t, "percentage within", runASL(t, pct, lua, `{"items":["a","bad"],"atOnce":0}`), "SUCCEEDED", `["a",null]`, "", "")
	checkEnd(t, "percentage beyond", runASL(t, pct, lua, `{"items":["bad","bad","c"],"atOnce":0}`),
		"FAILED", "", "States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")
	none := strings.Replace(machine, `"ToleratedFailureCountPath": "$.mayFail",`, ``, 1)
	checkEnd(t, "no tolerance", runASL(t, none, lua, `{"items":["a","bad"],"atOnce":1}`), "FAILED", "", "Item.Bad", "bad item")
}

// AWS's names for the errors the engine raises: a task that outlives
// TimeoutSecondsPath is States.Timeout without a cause, a heartbeat that
// does not come is States.HeartbeatTimeout, an oversized result is
// States.DataLimitExceeded, and a Fail without Error fails without one.
func TestErrorsHaveAWSNames(t *testing.T) {
	lua := `routine "big" { lua = function(input) return string.rep("a", 300 * 1024) end }`
	task := func(extra string) string {
		return `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "big", ` + extra + ` "End": true}}}`
	}
	checkEnd(t, "oversized", runASL(t, task(""), lua, `{}`), "FAILED", "", "States.DataLimitExceeded",
		"The state/task 'T' returned a result with a size exceeding the maximum number of bytes service limit.")
	caught := task(`"Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Done"}],`)
	caught = strings.Replace(caught, `"End": true}}}`, `"End": true}, "Done": {"Type": "Succeed"}}}`, 1)
	caught = strings.Replace(caught, `"End": true}, "Done"`, `"Next": "Done"}, "Done"`, 1)
	checkEnd(t, "caught", runASL(t, caught, lua, `{}`), "SUCCEEDED",
		`{"Cause":"The state/task 'T' returned a result with a size exceeding the maximum number of bytes service limit.","Error":"States.DataLimitExceeded"}`, "", "")
	fail := `{"StartAt": "F", "States": {"F": {"Type": "Fail", "Cause": "no error name"}}}`
	checkEnd(t, "fail without error", runASL(t, fail, "", `{}`), "FAILED", "", "", "no error name")
}

// Timeouts and heartbeats load as numbers or as paths read at run time;
// a heartbeat cannot outlast the timeout.
func TestTaskTimeoutAndHeartbeatFields(t *testing.T) {
	load := func(fields string) (*flow.State, error) {
		src := `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", ` + fields + ` "End": true}}}`
		b, err := scripting.LoadSources([]flow.Source{{Path: "m.asl.json", Body: []byte(src)},
			{Path: "r.lua", Body: []byte(`routine "r" { lua = function(i) return i end }`)}}, scripting.Options{})
		if err != nil {
			return nil, err
		}
		return b.Workflows["m"].States["T"], nil
	}
	st, err := load(`"TimeoutSeconds": 30, "HeartbeatSeconds": 10,`)
	if err != nil || st.Timeout != 30*time.Second || st.Heartbeat != 10*time.Second {
		t.Fatalf("numbers: %v %+v", err, st)
	}
	st, err = load(`"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h",`)
	if err != nil || st.TimeoutFrom == nil || st.HeartbeatFrom == nil {
		t.Fatalf("paths: %v %+v", err, st)
	}
	v, err := st.HeartbeatFrom.Eval(map[string]any{"h": 5.0}, &flow.Context{})
	if err != nil || v != 5.0 {
		t.Fatalf("heartbeat path: %v %v", v, err)
	}
	if _, err := st.HeartbeatFrom.Eval(map[string]any{"h": -5.0}, &flow.Context{}); err == nil ||
		!strings.Contains(err.Error(), `The HeartbeatSecondsPath field refers to value "-5" which is not a valid integer: $.h`) {
		t.Fatalf("a negative heartbeat: %v", err)
	}
	if _, err := load(`"TimeoutSeconds": 10, "HeartbeatSeconds": 10,`); err == nil ||
		!strings.Contains(err.Error(), "heartbeat 10s must be shorter than the timeout 10s") {
		t.Fatalf("heartbeat as long as the timeout: %v", err)
	}
	if _, err := load(`"TimeoutSeconds": 0,`); err == nil || !strings.Contains(err.Error(), "TimeoutSeconds must be a whole number of seconds from 1") {
		t.Fatalf("a zero timeout: %v", err)
	}
}
