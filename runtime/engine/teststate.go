package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Testing one state in isolation, as AWS's TestState API does: the state
// runs once, on an input the caller gives, with the variables and context
// the caller gives, and a mocked result or error in place of what it
// calls; the answer says how the state would end — SUCCEEDED with its
// output and next state, CAUGHT_ERROR with a catcher's output and next
// state, RETRIABLE when a retrier would try again, or FAILED — and, at a
// DEBUG or TRACE inspection level, the values its data flow went through.
// Nothing is stored and no history is written; a task without a mock calls
// its routine for real.

// InspectionLevel says how much a state test reports.
type InspectionLevel string

// The inspection levels.
const (
	InspectInfo  InspectionLevel = "INFO"  // status, output, error, next state
	InspectDebug InspectionLevel = "DEBUG" // also the data flow's values (Inspection)
	InspectTrace InspectionLevel = "TRACE" // as DEBUG: Orbit's routines report nothing more
)

// TestStatus is how a tested state ends.
type TestStatus string

// The statuses of a state test.
const (
	TestSucceeded   TestStatus = "SUCCEEDED"    // the state ended; Output and NextState say how
	TestFailed      TestStatus = "FAILED"       // its error ends the machine
	TestCaughtError TestStatus = "CAUGHT_ERROR" // a catcher takes its error to NextState
	TestRetriable   TestStatus = "RETRIABLE"    // a retrier would run it again
)

// StateTest asks to run one state of a loaded workflow in isolation.
type StateTest struct {
	Workflow string
	Version  string // the kept version labelling the workflow so; "": the current bundle
	// State names the state, in the workflow's body or in any branch or
	// iterator (a name found in several machines is refused).
	State string
	Input json.RawMessage // the state's input; empty: null
	// Context, when set, is the context object (ASL's `$$`) the state
	// sees, as given; else one describing this test as an express
	// execution whose input is Input.
	Context json.RawMessage
	// Variables are the variables in force (a JSON object).
	Variables json.RawMessage
	// Mock stands for what the state calls: required for a parallel, map,
	// call or await state, optional for a task (without it the routine is
	// called), refused elsewhere.
	Mock  *Mock
	Level InspectionLevel // "": INFO
	// RetryCount is how many retries the retrier that takes the state's
	// error has made already.
	RetryCount int
	// MapFailures is how many items of a map state failed; over the
	// state's tolerance the map fails with States.ExceedToleratedFailureThreshold.
	MapFailures int
	// ErrorState names the state inside a map or parallel state that
	// raised the mocked error.
	ErrorState string
}

// Mock is a tested state's result or error, in place of what it calls.
type Mock struct {
	Result json.RawMessage // the result, as a routine, the items or branches would give it
	Error  *flow.Error     // or the error they would raise
}

// StateTestResult is how a tested state ends.
type StateTestResult struct {
	Status    TestStatus      `json:"status"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	NextState string          `json:"next_state,omitempty"`
	// Inspection is what the data flow went through (DEBUG and TRACE).
	Inspection *Inspection `json:"inspection_data,omitempty"`
}

// Inspection is the values a tested state's data flow went through, as
// its hooks reported them (flow.Step), and how its error was handled.
type Inspection struct {
	Input                      json.RawMessage `json:"input,omitempty"`
	AfterInputPath             json.RawMessage `json:"after_input_path,omitempty"`
	AfterParameters            json.RawMessage `json:"after_parameters,omitempty"`
	AfterArguments             json.RawMessage `json:"after_arguments,omitempty"`
	AfterItemsPath             json.RawMessage `json:"after_items_path,omitempty"`
	AfterItemSelector          json.RawMessage `json:"after_item_selector,omitempty"`
	Result                     json.RawMessage `json:"result,omitempty"`
	AfterResultSelector        json.RawMessage `json:"after_result_selector,omitempty"`
	AfterResultPath            json.RawMessage `json:"after_result_path,omitempty"`
	Variables                  json.RawMessage `json:"variables,omitempty"`
	MaxConcurrency             *int            `json:"max_concurrency,omitempty"`
	ToleratedFailureCount      *int            `json:"tolerated_failure_count,omitempty"`
	ToleratedFailurePercentage *float64        `json:"tolerated_failure_percentage,omitempty"`
	ErrorDetails               *ErrorDetails   `json:"error_details,omitempty"`
}

// ErrorDetails says which retrier or catcher took a tested state's error.
type ErrorDetails struct {
	RetryIndex *int `json:"retry_index,omitempty"`
	// RetryBackoffSeconds is the wait before the retry, when one is left.
	RetryBackoffSeconds *int `json:"retry_backoff_interval_seconds,omitempty"`
	CatchIndex          *int `json:"catch_index,omitempty"`
}

// TestState runs one state of a workflow once, in isolation (see
// StateTest). A test the state cannot run is ErrBadInput, a state the
// workflow lacks ErrUnknownState; how the state ends is in the result.
func (e *Engine) TestState(ctx context.Context, t StateTest) (*StateTestResult, error) {
	_, wf, err := e.bundleFor(t.Workflow, t.Version)
	if err != nil {
		return nil, err
	}
	st, err := findState(wf, t.State)
	if err != nil {
		return nil, err
	}
	r := &stateTest{e: e, wf: wf, st: st, t: t}
	if err := r.prepare(); err != nil {
		return nil, fmt.Errorf("%w: test of state %s: %v", ErrBadInput, st.Name, err)
	}
	return r.run(ctx)
}

// findState finds a state by name in any machine of wf.
func findState(wf *flow.Workflow, name string) (*flow.State, error) {
	var found *flow.State
	var in []string
	for _, key := range slices.Sorted(maps.Keys(wf.Machines)) {
		if st := wf.Machines[key].States[name]; st != nil {
			found = st
			in = append(in, cmpOr(key, "the body"))
		}
	}
	switch len(in) {
	case 0:
		return nil, fmt.Errorf("%w: workflow %s has no state %q", ErrUnknownState, wf.Name, name)
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%w: workflow %s has a state %q in several machines (%s); rename one to test it", ErrBadInput, wf.Name, name, strings.Join(in, ", "))
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// stateTest is one run of TestState.
type stateTest struct {
	e     *Engine
	wf    *flow.Workflow
	st    *flow.State
	t     StateTest
	data  any // the state's input
	vars  map[string]any
	c     flow.Context
	res   StateTestResult
	check *Inspection // nil at INFO
}

// prepare reads the test's JSON and checks that the state can run it.
func (r *stateTest) prepare() error {
	t, st := &r.t, r.st
	input := t.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if err := flow.UnmarshalJSON(input, &r.data); err != nil {
		return fmt.Errorf("input is not JSON: %v", err)
	}
	if len(t.Variables) > 0 {
		if err := flow.UnmarshalJSON(t.Variables, &r.vars); err != nil {
			return fmt.Errorf("variables must be a JSON object: %v", err)
		}
	}
	var object map[string]any
	if len(t.Context) > 0 {
		if err := flow.UnmarshalJSON(t.Context, &object); err != nil || object == nil {
			return fmt.Errorf("context must be a JSON object")
		}
	}
	switch t.Level {
	case "":
		t.Level = InspectInfo
	case InspectInfo, InspectDebug, InspectTrace:
	default:
		return fmt.Errorf("inspection level %q is not INFO, DEBUG or TRACE", t.Level)
	}
	if t.RetryCount < 0 || t.MapFailures < 0 {
		return errors.New("the retry count and the map's failure count cannot be negative")
	}
	if m := t.Mock; m != nil {
		if (len(m.Result) > 0) == (m.Error != nil) {
			return errors.New("a mock gives a result or an error, one of them")
		}
		if len(m.Result) > 0 && !json.Valid(m.Result) {
			return errors.New("the mock's result is not JSON")
		}
	}
	switch st.Kind {
	case flow.Task:
		if t.Mock == nil && st.Routine == nil {
			return errors.New("the task's routine is not resolved; give a mock")
		}
	case flow.Parallel, flow.Map, flow.Call, flow.Await:
		if t.Mock == nil {
			return fmt.Errorf("a %s state runs other work; give a mock of its result or error (test the states inside it by their names)", st.Kind)
		}
	default:
		if t.Mock != nil {
			return fmt.Errorf("a %s state calls nothing to mock", st.Kind)
		}
	}
	if t.ErrorState != "" && !inside(st, t.ErrorState) {
		return fmt.Errorf("the error's state %q is not a state inside %s", t.ErrorState, st.Name)
	}
	if t.MapFailures > 0 && st.Kind != flow.Map {
		return errors.New("a failure count applies to a map state")
	}
	now := r.e.clock.Now()
	id := newID(now)
	r.c = flow.Context{Instance: id, Workflow: r.wf.Name, Version: r.wf.Version, State: st.Name,
		Attempt: t.RetryCount + 1, Visit: 1, StartedAt: now, Now: now, IdempotencyKey: id + "/" + st.Name + "/1",
		ItemIndex: -1, EnteredAt: now, Vars: r.vars, ContextObject: object,
		Execution: func() (flow.Execution, error) {
			return flow.Execution{ID: id, Workflow: r.wf.Name, Input: input, StartedAt: now, Express: true}, nil
		}}
	if t.Level != InspectInfo {
		r.check = &Inspection{}
		r.c.Inspect = r.inspect
	}
	return nil
}

// inside reports whether name is a state of a branch or the iterator of
// st, at any depth.
func inside(st *flow.State, name string) bool {
	ms := slices.Clone(st.Branches)
	if st.Iterator != nil {
		ms = append(ms, st.Iterator)
	}
	for _, m := range ms {
		for _, s := range m.States {
			if s.Name == name || inside(s, name) {
				return true
			}
		}
	}
	return false
}

// inspect keeps a value the data flow reported.
func (r *stateTest) inspect(step flow.Step, v any) {
	enc, err := json.Marshal(v)
	if err != nil {
		return
	}
	i := r.check
	field := map[flow.Step]*json.RawMessage{
		flow.StepInput: &i.Input, flow.StepAfterInputPath: &i.AfterInputPath, flow.StepAfterParameters: &i.AfterParameters,
		flow.StepAfterArguments: &i.AfterArguments, flow.StepAfterItemsPath: &i.AfterItemsPath,
		flow.StepAfterItemSelector: &i.AfterItemSelector, flow.StepResult: &i.Result,
		flow.StepAfterResultSelector: &i.AfterResultSelector, flow.StepAfterResultPath: &i.AfterResultPath,
		flow.StepVariables: &i.Variables,
	}[step]
	if field != nil {
		*field = enc
	}
}

// run runs the state once and says how it ends.
func (r *stateTest) run(ctx context.Context) (*StateTestResult, error) {
	st, c := r.st, &r.c
	c.Report(flow.StepInput, r.data)
	in, err := eval(st.Input, r.data, c)
	if err != nil {
		return r.raise(flow.AsError(err, flow.ErrRuntime))
	}
	if st.Input != nil && st.Finish == nil {
		c.Report(flow.StepAfterInputPath, in)
	}
	switch st.Kind {
	case flow.Task:
		res, fe, err := r.task(ctx, in)
		if err != nil {
			return nil, err
		}
		if fe != nil {
			return r.raise(fe)
		}
		return r.complete(st.Finish, st.Next, res)
	case flow.Choice:
		next, finish, fe := chooseRule(st, in, c)
		if fe != nil {
			return r.raise(fe)
		}
		return r.complete(finish, next, in)
	case flow.Pass:
		res := in
		if st.HasValue {
			res = st.Value
			c.Report(flow.StepResult, res)
		}
		return r.complete(st.Finish, st.Next, res)
	case flow.Wait:
		// The end is checked, not waited for.
		if _, fe := waitEnd(st, in, c); fe != nil {
			return r.raise(fe)
		}
		return r.complete(st.Finish, st.Next, in)
	case flow.Succeed:
		return r.succeed(in)
	case flow.Fail:
		return r.end(TestFailed, nil, failure(st, in, c, r.wf.Dialect), "")
	case flow.Map:
		items, lim, fe := mapRun(st, in, c)
		if fe != nil {
			return r.raise(fe)
		}
		if r.check != nil {
			r.check.MaxConcurrency = &lim.MaxConcurrency
			if t := lim.Tolerance; t != nil && t.HasCount {
				r.check.ToleratedFailureCount = &t.Count
			}
			if t := lim.Tolerance; t != nil && t.HasPercent {
				r.check.ToleratedFailurePercentage = &t.Percent
			}
		}
		if r.t.Mock.Error != nil {
			return r.raise(r.t.Mock.Error)
		}
		if t := lim.Tolerance; t != nil && t.Exceeded(r.t.MapFailures, max(len(items), r.t.MapFailures)) {
			return r.raise(&flow.Error{Name: flow.ErrToleranceExceeded, Cause: toleranceCause})
		}
	}
	// Parallel, map, call and await: the mock stands for what they wait for.
	if r.t.Mock.Error != nil {
		return r.raise(r.t.Mock.Error)
	}
	var res any
	if err := flow.UnmarshalJSON(r.t.Mock.Result, &res); err != nil {
		return nil, fmt.Errorf("%w: the mock's result is not JSON: %v", ErrBadInput, err)
	}
	return r.complete(st.Finish, st.Next, res)
}

// task calls the routine, or takes the mock. fe is the state's error; err
// means the test itself could not go on (the caller went away).
func (r *stateTest) task(ctx context.Context, in any) (res any, fe *flow.Error, err error) {
	st, c := r.st, &r.c
	if m := r.t.Mock; m != nil {
		if m.Error != nil {
			return nil, m.Error, nil
		}
		if err := flow.UnmarshalJSON(m.Result, &res); err != nil {
			return nil, nil, fmt.Errorf("%w: the mock's result is not JSON: %v", ErrBadInput, err)
		}
	} else {
		timeout, heartbeat, fe := attemptBounds(st, r.data, c)
		if fe != nil {
			return nil, fe, nil
		}
		bound, byHeartbeat := attemptBound(timeout, heartbeat)
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if bound > 0 {
			callCtx, cancel = r.e.boundContext(ctx, bound)
		}
		res, err = st.Routine.Call(callCtx, in, c)
		timedOut := errors.Is(context.Cause(callCtx), context.DeadlineExceeded)
		cancel()
		switch {
		case err == nil:
		case errors.As(err, &fe):
			return nil, fe, nil
		case timedOut:
			return nil, timeoutError(st, r.wf.Dialect, byHeartbeat, timeout, heartbeat), nil
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		default:
			return nil, flow.AsError(err, flow.ErrTaskFailed), nil
		}
		if res, fe = decodeResult(res); fe != nil {
			return nil, fe, nil
		}
	}
	c.Report(flow.StepResult, res)
	return res, nil, nil
}

// complete leaves the state for next with what finish makes of res.
func (r *stateTest) complete(finish flow.Finisher, next string, res any) (*StateTestResult, error) {
	out, vars, err := outputOf(r.st, finish, r.data, res, &r.c)
	if err != nil {
		return r.raise(flow.AsError(err, flow.ErrRuntime))
	}
	r.assigned(vars)
	return r.end(TestSucceeded, out, nil, next)
}

// succeed ends a succeed state: its output shapes what it got.
func (r *stateTest) succeed(in any) (*StateTestResult, error) {
	out, err := eval(r.st.Output, in, &r.c)
	if err != nil {
		return r.raise(flow.AsError(err, flow.ErrRuntime))
	}
	return r.end(TestSucceeded, out, nil, "")
}

// assigned reports the variables in force once the state assigned vars.
func (r *stateTest) assigned(vars map[string]any) {
	if len(vars) == 0 {
		return
	}
	all := maps.Clone(r.vars)
	if all == nil {
		all = map[string]any{}
	}
	maps.Copy(all, vars)
	r.c.Report(flow.StepVariables, all)
}

// raise handles the state's error as the engine would: a retrier with
// retries left makes it RETRIABLE, else a catcher CAUGHT_ERROR, else it
// FAILED.
func (r *stateTest) raise(fe *flow.Error) (*StateTestResult, error) {
	fe = fe.Bounded(r.e.maxCause)
	if fe.Terminal {
		return r.end(TestFailed, nil, fe, "")
	}
	details := &ErrorDetails{}
	for i := range r.st.Retry {
		rt := &r.st.Retry[i]
		if !rt.Handles(fe.Name) {
			continue
		}
		details.RetryIndex = &i
		if r.t.RetryCount < rt.MaxAttempts {
			wait := int(math.Round(rt.Delay(r.t.RetryCount+1, r.e.random()).Seconds()))
			details.RetryBackoffSeconds = &wait
			r.details(details)
			return r.end(TestRetriable, nil, fe, "")
		}
		break
	}
	for i := range r.st.Catch {
		ct := &r.st.Catch[i]
		if !ct.Handles(fe.Name) {
			continue
		}
		details.CatchIndex = &i
		r.details(details)
		out, vars, err := caughtOutput(ct, r.data, fe, &r.c)
		if err != nil {
			// A catcher's own failure is not caught again.
			return r.end(TestFailed, nil, flow.AsError(err, flow.ErrRuntime), "")
		}
		r.assigned(vars)
		return r.end(TestCaughtError, out, fe, ct.Next)
	}
	if details.RetryIndex != nil {
		r.details(details)
	}
	return r.end(TestFailed, nil, fe, "")
}

func (r *stateTest) details(d *ErrorDetails) {
	if r.check != nil {
		r.check.ErrorDetails = d
	}
}

// end makes the answer; an output over the payload limit fails the state.
func (r *stateTest) end(status TestStatus, out any, fe *flow.Error, next string) (*StateTestResult, error) {
	res := &r.res
	res.Status, res.NextState, res.Inspection = status, next, r.check
	if fe != nil {
		res.Error, res.Cause = fe.Name, fe.Cause
	}
	if status == TestSucceeded || status == TestCaughtError {
		enc, err := json.Marshal(out)
		switch {
		case err != nil:
			res.Status, res.NextState = TestFailed, ""
			res.Error, res.Cause = flow.ErrRuntime, fmt.Sprintf("state %s: output is not JSON: %v", r.st.Name, err)
		case len(enc) > r.e.maxPayload:
			big := tooLarge(r.wf.Dialect, r.st, "data", len(enc), r.e.maxPayload)
			res.Status, res.NextState = TestFailed, ""
			res.Error, res.Cause = big.Name, big.Cause
		default:
			res.Output = enc
		}
	}
	return res, nil
}
