package flow

import (
	"encoding/json"
	"time"
)

// Context is the read-only `ctx` a routine or expression sees (SPEC 1.1).
// The engine reuses one Context per running instance, so callees must not
// keep it after they return.
type Context struct {
	Instance       string
	Workflow       string
	Version        string
	State          string
	Attempt        int // 1-based
	Visit          int // 1-based
	StartedAt      time.Time
	Now            time.Time
	IdempotencyKey string
	ItemIndex      int // index inside a map iterator, -1 elsewhere
	// TraceParent is the W3C traceparent the calls of this step carry:
	// the instance's, or with tracing on the step's span's.
	TraceParent string
	// Span is the running step's span, for a routine to open its calls'
	// spans under (ChildSpan); nil when tracing is off.
	Span      Span
	EnteredAt time.Time
	Entered   uint64 // history seq of the StateEntered event of this visit
	// Vars are the variables in force: those the instance's states
	// assigned over those of the machines around it. Nil when none.
	Vars map[string]any
	// Execution describes the top-level instance; nil outside the engine.
	// It may read the store, so callers ask only when they need it.
	Execution func() (Execution, error)
	// ContextObject, when set, is the context object (ASL's `$$`) a test of
	// one state gives, in place of the one the fields above describe; nil
	// in runs.
	ContextObject map[string]any
	// Inspect, when set, is told the intermediate values of a state's data
	// flow (a test of one state reports them); nil in runs, where hooks
	// skip the reporting.
	Inspect func(step Step, value any)
}

// Report tells c's Inspect a value of the data flow, if it listens.
func (c *Context) Report(step Step, value any) {
	if c != nil && c.Inspect != nil {
		c.Inspect(step, value)
	}
}

// Step names a value of a state's data flow that a test of one state
// reports: AWS's TestState inspection data, in snake case.
type Step string

// The steps, in the order a state meets them.
const (
	StepInput               Step = "input"                 // the data the state was entered with
	StepAfterInputPath      Step = "after_input_path"      // InputPath applied (a Lua state's input)
	StepAfterParameters     Step = "after_parameters"      // Parameters applied: the task's effective input
	StepAfterArguments      Step = "after_arguments"       // JSONata Arguments applied
	StepAfterItemsPath      Step = "after_items_path"      // a map's items
	StepAfterItemSelector   Step = "after_item_selector"   // a map's item inputs
	StepResult              Step = "result"                // the raw result
	StepAfterResultSelector Step = "after_result_selector" // ResultSelector applied
	StepAfterResultPath     Step = "after_result_path"     // the result placed into the input (a Lua state's result)
	StepVariables           Step = "variables"             // the variables in force after the state assigned some
)

// Execution is the top-level instance a state runs for: the instance
// itself, or the one whose parallel branch or map item it runs in.
type Execution struct {
	ID        string
	Workflow  string
	Input     json.RawMessage
	StartedAt time.Time
	// Express is set for an express execution (SPEC 2.2) and a test of one
	// state, which cannot be redriven.
	Express bool
}
