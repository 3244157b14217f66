package asl_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store/memory"
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
	st := memory.New()
	eng := engine.New(engine.Config{Store: st, Clock: clk, Compile: func([]flow.Source) (*flow.Bundle, error) { return b, nil }})
	ctx := context.Background()
	if err := eng.Load(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := eng.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	in, _, err := eng.Start(ctx, "shop", engine.StartOptions{Input: json.RawMessage(`{"order":{"id":"o-1","amount":10}}`)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		end, err := eng.Wait(wctx, in.ID)
		cancel()
		if err == nil && end.Status.Terminal() {
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
			return
		}
		if at, ok := clk.Next(); ok {
			clk.Advance(at.Sub(clk.Now()))
		}
		if time.Now().After(deadline) {
			t.Fatal("the execution did not end")
		}
	}
}
