package asl

import (
	"encoding/json"
	"fmt"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// AWS's error names that ASL definitions match on, beyond flow's.
const (
	ErrQueryEvaluation        = "States.QueryEvaluationError"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrExceedToleratedFailure = "States.ExceedToleratedFailureThreshold"
	ErrItemReaderFailed       = "States.ItemReaderFailed"
	ErrResultWriterFailed     = "States.ResultWriterFailed"
	ErrBranchFailed           = "States.BranchFailed"
	ErrPermissions            = "States.Permissions"
)

// stateError builds an error of the running state with AWS's cause
// prefix, which names the state and the history event that entered it.
func stateError(name string, c *flow.Context, format string, args ...any) *flow.Error {
	state, entered := "", uint64(0)
	if c != nil {
		state, entered = c.State, c.Entered
	}
	cause := fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). ", state, entered) +
		fmt.Sprintf(format, args...)
	return &flow.Error{Name: name, Cause: cause, Terminal: name == flow.ErrRuntime}
}

// runtimeError is States.Runtime, which ends the execution: no retrier or
// catcher applies to it, as on AWS.
func runtimeError(c *flow.Context, format string, args ...any) *flow.Error {
	return stateError(flow.ErrRuntime, c, format, args...)
}

// queryError is States.QueryEvaluationError (JSONata mode).
func queryError(c *flow.Context, format string, args ...any) *flow.Error {
	return stateError(ErrQueryEvaluation, c, format, args...)
}

// compact is a value as compact JSON, for causes that quote it.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// matcher is AWS's error matching: an exact name, States.ALL for any
// error, and States.TaskFailed for any error but States.Timeout.
func matcher(names []string) func(string) bool {
	return func(name string) bool {
		for _, m := range names {
			switch {
			case m == name, m == flow.ErrAll:
				return true
			case m == flow.ErrTaskFailed && name != flow.ErrTimeout:
				return true
			}
		}
		return false
	}
}
