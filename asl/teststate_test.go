package asl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting"
	"github.com/orbit-sidecar/orbit/store/memory"
)

// The TestState cases run one state through engine.TestState, the entry
// point behind POST /v1/workflows/{name}/states/{state}/test and orbit
// test-state, with the arguments AWS's TestState call was given.

// testStateArgs are the arguments of a recorded TestState call. AWS's API
// passes the mock's result, the context and the variables as JSON text.
type testStateArgs struct {
	InspectionLevel string  `json:"inspectionLevel"`
	StateName       string  `json:"stateName"`
	Context         *string `json:"context"`
	Variables       *string `json:"variables"`
	Mock            *struct {
		Result      *string     `json:"result"`
		ErrorOutput *flow.Error `json:"errorOutput"`
	} `json:"mock"`
	StateConfiguration struct {
		RetrierRetryCount        int    `json:"retrierRetryCount"`
		MapIterationFailureCount int    `json:"mapIterationFailureCount"`
		ErrorCausedByState       string `json:"errorCausedByState"`
	} `json:"stateConfiguration"`
}

// loneStateName is what AWS's context object calls a state given alone.
const loneStateName = "StateName"

// runStateTest tests the case's state: the state named in a machine, or
// a definition of one state, which is put in a machine of its own with a
// Succeed state for every state it names.
func runStateTest(c *conformanceCase) (*outcome, error) {
	args := c.TestState
	if args == nil {
		return nil, fmt.Errorf("a TestState case without test_state")
	}
	def, name := c.Definition, args.StateName
	if name == "" {
		var err error
		if def, err = loneMachine(def); err != nil {
			return nil, err
		}
		name = loneStateName
	}
	clk := clock.NewFake(epoch)
	b, err := scripting.LoadSources([]flow.Source{{Path: "case.asl.json", Body: def}},
		scripting.Options{Plugins: lambdaFunctions{fns: withAbsentFunctions(c.LambdaFunctions, def), clock: clk}})
	if err != nil {
		return &outcome{status: "FAILED", errName: "States.Runtime", cause: "load: " + err.Error()}, nil
	}
	eng := engine.New(engine.Config{Store: memory.New(), Clock: clk, Random: func() float64 { return 0.5 },
		Compile: func([]flow.Source) (*flow.Bundle, error) { return b, nil }})
	ctx := context.Background()
	if err := eng.Load(ctx, b); err != nil {
		return nil, err
	}
	t := engine.StateTest{Workflow: "case", State: name, Input: c.Input, Level: engine.InspectionLevel(args.InspectionLevel),
		RetryCount:  args.StateConfiguration.RetrierRetryCount,
		MapFailures: args.StateConfiguration.MapIterationFailureCount,
		ErrorState:  args.StateConfiguration.ErrorCausedByState}
	if args.Context != nil {
		t.Context = json.RawMessage(*args.Context)
	}
	if args.Variables != nil {
		t.Variables = json.RawMessage(*args.Variables)
	}
	if m := args.Mock; m != nil {
		t.Mock = &engine.Mock{Error: m.ErrorOutput}
		if m.Result != nil {
			t.Mock.Result = json.RawMessage(*m.Result)
		}
	}
	res, err := eng.TestState(ctx, t)
	if err != nil {
		return nil, err
	}
	o := &outcome{status: string(res.Status), errName: res.Error, cause: res.Cause, nextState: res.NextState}
	if len(res.Output) > 0 {
		if err := json.Unmarshal(res.Output, &o.output); err != nil {
			return nil, err
		}
	}
	if res.Inspection != nil {
		o.inspection = awsNames(res.Inspection)
	}
	return o, nil
}

// awsNames is Orbit's inspection data with AWS's camel-case field names.
func awsNames(i *engine.Inspection) any {
	enc, _ := json.Marshal(i)
	var m map[string]any
	json.Unmarshal(enc, &m)
	camel := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			parts := strings.Split(k, "_")
			for j := 1; j < len(parts); j++ {
				parts[j] = strings.ToUpper(parts[j][:1]) + parts[j][1:]
			}
			out[strings.Join(parts, "")] = v
		}
		return out
	}
	m = camel(m)
	if d, ok := m["errorDetails"].(map[string]any); ok {
		m["errorDetails"] = camel(d)
	}
	return m
}

// loneMachine puts the definition of one state into a machine, as
// loneStateName, with a Succeed state for each state it names.
func loneMachine(def json.RawMessage) (json.RawMessage, error) {
	var st map[string]any
	if err := json.Unmarshal(def, &st); err != nil {
		return nil, err
	}
	states := map[string]any{loneStateName: st}
	add := func(v any) {
		if name, ok := v.(string); ok && states[name] == nil {
			states[name] = map[string]any{"Type": "Succeed"}
		}
	}
	add(st["Next"])
	add(st["Default"])
	for _, list := range []string{"Choices", "Catch"} {
		items, _ := st[list].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				add(m["Next"])
			}
		}
	}
	return json.Marshal(map[string]any{"StartAt": loneStateName, "States": states})
}

// withAbsentFunctions adds, beside the case's Lambda functions, one for
// every other function a Lambda ARN of the definition names: a mocked
// state never calls it, and a call finds no function.
func withAbsentFunctions(fns map[string]lambdaBehaviour, def json.RawMessage) map[string]lambdaBehaviour {
	out := map[string]lambdaBehaviour{}
	for k, v := range fns {
		out[k] = v
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Resource"].(string); ok && strings.HasPrefix(r, "arn:aws:lambda:") {
				if i := strings.Index(r, ":function:"); i >= 0 {
					name, _, _ := strings.Cut(r[i+len(":function:"):], ":")
					if _, ok := out[name]; !ok {
						out[name] = lambdaBehaviour{Behaviour: "absent"}
					}
				}
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	var v any
	json.Unmarshal(def, &v)
	walk(v)
	return out
}
