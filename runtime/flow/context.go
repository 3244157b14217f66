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
	ItemIndex      int    // index inside a map iterator, -1 elsewhere
	TraceParent    string // W3C traceparent of the instance
	EnteredAt      time.Time
	Entered        uint64 // history seq of the StateEntered event of this visit
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
	// flow by name (a test of one state reports them); nil in runs, where
	// hooks skip the reporting.
	Inspect func(step string, value any)
}

// Report tells c's Inspect a value of the data flow, if it listens.
func (c *Context) Report(step string, value any) {
	if c != nil && c.Inspect != nil {
		c.Inspect(step, value)
	}
}

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
