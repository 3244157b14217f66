package asl

import (
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// The data flow of a state, compiled to flow's hooks. JSONPath mode:
// InputPath then Parameters make the input; the result goes through
// ResultSelector, is placed by ResultPath into the state's input, and
// OutputPath picks what passes on; Assign sees the selected result.
// JSONata mode: Arguments make the input; Output (default: the result)
// and Assign see `$states.input`, `$states.result` and the context.

// jpInput is InputPath and Parameters. Every JSONPath state has one, so
// that a test of the state reports what they made of its input.
type jpInput struct {
	st         *stateInfo
	inputPath  *path // nil: $
	nullInput  bool  // InputPath: null, the input is {}
	params     template
	withParams bool // the state takes Parameters (Pass, Task, Parallel)
}

// Passes reports whether the state has neither InputPath nor Parameters.
func (x *jpInput) Passes() bool { return x.inputPath == nil && !x.nullInput && x.params == nil }

func (x *jpInput) Eval(data any, c *flow.Context) (any, error) {
	v := data
	switch {
	case x.nullInput:
		v = map[string]any{}
	case x.inputPath != nil:
		var err error
		if v, err = (&env{input: data, c: c, st: x.st}).required(x.inputPath); err != nil {
			return nil, err
		}
	}
	c.Report(flow.StepAfterInputPath, v)
	if x.params != nil {
		var err error
		if v, err = x.params.eval(&env{input: v, c: c, st: x.st}); err != nil {
			return nil, err
		}
	}
	if x.withParams {
		c.Report(flow.StepAfterParameters, v)
	}
	return v, nil
}

// jpFinish is ResultSelector, ResultPath, OutputPath and Assign.
type jpFinish struct {
	st         *stateInfo
	selector   template
	resultPath *path // nil: $ (the result replaces the input)
	discard    bool  // ResultPath: null, the input passes on
	outputPath *path // nil: $
	nullOutput bool  // OutputPath: null, the output is {}
	assign     template
	withResult bool // the state has a result to select and place (not a Choice)
}

func (f *jpFinish) Finish(input, result any, c *flow.Context) (any, map[string]any, error) {
	if f.selector != nil {
		v, err := f.selector.eval(&env{input: result, c: c, st: f.st})
		if err != nil {
			return nil, nil, err
		}
		result = v
	}
	vars, err := evalAssign(f.assign, &env{input: result, c: c, st: f.st})
	if err != nil {
		return nil, nil, err
	}
	merged := result
	switch {
	case f.discard:
		merged = input
	case f.resultPath != nil && len(f.resultPath.steps) > 0:
		if merged, err = f.resultPath.set(input, result); err != nil {
			return nil, nil, runtimeError(c, "%v", err)
		}
	}
	if f.withResult {
		c.Report(flow.StepAfterResultSelector, result)
		c.Report(flow.StepAfterResultPath, merged)
	}
	out, err := f.output(merged, c)
	return out, vars, err
}

func (f *jpFinish) output(v any, c *flow.Context) (any, error) {
	switch {
	case f.nullOutput:
		return map[string]any{}, nil
	case f.outputPath != nil:
		return (&env{input: v, c: c, st: f.st}).required(f.outputPath)
	}
	return v, nil
}

// evalAssign evaluates a JSONPath-mode Assign: an object of variables.
func evalAssign(t template, e *env) (map[string]any, error) {
	if t == nil {
		return nil, nil
	}
	v, err := t.eval(e)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// errorOutput is what a catcher passes on: AWS names the fields Error and
// Cause; the engine hands {"error", "cause"}.
func errorOutput(result any) map[string]any {
	m, _ := result.(map[string]any)
	return map[string]any{"Error": m["error"], "Cause": m["cause"]}
}

// jpCatch is a catcher's ResultPath and Assign.
type jpCatch struct {
	st         *stateInfo
	resultPath *path
	discard    bool
	assign     template
}

func (f *jpCatch) Finish(input, result any, c *flow.Context) (any, map[string]any, error) {
	eo := errorOutput(result)
	vars, err := evalAssign(f.assign, &env{input: eo, c: c, st: f.st})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case f.discard:
		return input, vars, nil
	case f.resultPath != nil && len(f.resultPath.steps) > 0:
		out, err := f.resultPath.set(input, eo)
		if err != nil {
			return nil, nil, runtimeError(c, "%v", err)
		}
		return out, vars, nil
	}
	return eo, vars, nil
}

// jaInput is JSONata's Arguments.
type jaInput struct {
	st   *stateInfo
	args jtemplate
}

func (x *jaInput) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: x.st}
	states, err := e.statesVar(data, "", nil)
	if err != nil {
		return nil, err
	}
	v, err := x.args.eval(e, states, "Arguments")
	if err == nil {
		c.Report(flow.StepAfterArguments, v)
	}
	return v, err
}

// jaFinish is JSONata's Output and Assign; extra names what the result is
// to them ("result", or "errorOutput" for a catcher).
type jaFinish struct {
	st     *stateInfo
	output jtemplate // nil: the result
	assign jtemplate
	extra  string
}

func (f *jaFinish) Finish(input, result any, c *flow.Context) (any, map[string]any, error) {
	if f.extra == "errorOutput" {
		result = errorOutput(result)
	}
	e := &env{input: input, c: c, st: f.st}
	extra := f.extra
	if extra == "" {
		extra = "result"
	}
	states, err := e.statesVar(input, extra, result)
	if err != nil {
		return nil, nil, err
	}
	var vars map[string]any
	if f.assign != nil {
		v, err := f.assign.eval(e, states, "Assign")
		if err != nil {
			return nil, nil, err
		}
		vars, _ = v.(map[string]any)
	}
	if f.output == nil {
		return result, vars, nil
	}
	out, err := f.output.eval(e, states, "Output")
	return out, vars, err
}

// jaExpr is a JSONata field evaluated on the state's input alone
// (Succeed's Output, Fail's Error and Cause).
type jaExpr struct {
	st    *stateInfo
	t     jtemplate
	field string
}

func (x *jaExpr) Eval(data any, c *flow.Context) (any, error) {
	e := &env{input: data, c: c, st: x.st}
	states, err := e.statesVar(data, "", nil)
	if err != nil {
		return nil, err
	}
	return x.t.eval(e, states, x.field)
}

// jpOutput is OutputPath on its own (Succeed).
type jpOutput struct{ f jpFinish }

func (x *jpOutput) Eval(data any, c *flow.Context) (any, error) { return x.f.output(data, c) }
