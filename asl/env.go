package asl

import (
	"fmt"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// env is what an expression of a state sees: the value `$` stands for,
// the engine's context (variables, the execution) and, while a Map state
// selects its items, the item at hand.
type env struct {
	input any
	c     *flow.Context
	st    *stateInfo
	item  *mapItem
	// ctxObj caches the context object for one evaluation.
	ctxObj map[string]any
}

// stateInfo is what the context object says of a state besides the
// engine's context.
type stateInfo struct {
	name      string
	retryable bool // Task, Parallel and Map: $$.State.RetryCount
}

// mapItem is $$.Map.Item while a Map state builds an item's input.
type mapItem struct {
	index int
	value any
}

// Identifiers in the context object have AWS's shape (ARNs), in Orbit's
// own partition, so that definitions that take them apart keep working.
const (
	arnPrefix = "arn:orbit:states:local:000000000000:"
	roleArn   = "arn:orbit:iam::000000000000:role/orbit"
)

// timeText is AWS's timestamp format in the context object.
func timeText(t time.Time) string { return store.FormatTime(t) }

// contextObject is `$$` (JSONPath) or `$states.context` (JSONata).
func (e *env) contextObject() (map[string]any, error) {
	if e.ctxObj != nil {
		return e.ctxObj, nil
	}
	c := e.c
	if c.ContextObject != nil { // a test of one state gives its own
		e.ctxObj = c.ContextObject
		return e.ctxObj, nil
	}
	exec := flow.Execution{ID: c.Instance, Workflow: c.Workflow, StartedAt: c.StartedAt}
	var input any
	if c.Execution != nil {
		x, err := c.Execution()
		if err != nil {
			return nil, err
		}
		exec = x
		if len(x.Input) > 0 {
			if err := flow.UnmarshalJSON(x.Input, &input); err != nil {
				return nil, fmt.Errorf("decode the execution's input: %w", err)
			}
		}
	}
	state := map[string]any{"Name": c.State, "EnteredTime": timeText(c.EnteredAt)}
	if e.st != nil && e.st.retryable {
		state["RetryCount"] = float64(max(c.Attempt, 1) - 1)
	}
	execution := map[string]any{
		"Id":        arnPrefix + "execution:" + exec.Workflow + ":" + exec.ID,
		"Input":     input,
		"Name":      exec.ID,
		"RoleArn":   roleArn,
		"StartTime": timeText(exec.StartedAt),
	}
	if !exec.Express { // an express execution cannot be redriven
		execution["RedriveCount"] = 0.0
	}
	obj := map[string]any{
		"Execution": execution,
		"StateMachine": map[string]any{
			"Id":   arnPrefix + "stateMachine:" + exec.Workflow,
			"Name": exec.Workflow,
		},
		"State": state,
	}
	if e.item != nil {
		obj["Map"] = map[string]any{"Item": map[string]any{"Index": float64(e.item.index), "Value": e.item.value}}
	}
	e.ctxObj = obj
	return obj, nil
}

// rootOf is the value a path starts from.
func (e *env) rootOf(p *path) (any, error) {
	switch p.root {
	case rootContext:
		return e.contextObject()
	case rootVar:
		v, ok := e.c.Vars[p.name]
		if !ok {
			return nil, runtimeError(e.c, "The variable '%s' is not defined (in '%s')", p.name, p.src)
		}
		return v, nil
	}
	return e.input, nil
}

// resolve evaluates a path: its value, or ok false and where it stopped.
func (e *env) resolve(p *path) (any, bool, miss, error) {
	base, err := e.rootOf(p)
	if err != nil {
		return nil, false, miss{}, err
	}
	v, ok, m := p.get(base)
	return v, ok, m, nil
}

// required evaluates a path that must resolve (InputPath, OutputPath,
// ItemsPath, a Choice's Variable): AWS's "Invalid path" otherwise.
func (e *env) required(p *path) (any, error) {
	v, ok, m, err := e.resolve(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, runtimeError(e.c, "%s", p.invalidPath(m))
	}
	return v, nil
}
