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
// prefix, which names the state and the history event that entered it. A
// state tested alone was entered by no event, and AWS's TestState then
// gives the message alone.
func stateError(name string, c *flow.Context, format string, args ...any) *flow.Error {
	cause := fmt.Sprintf(format, args...)
	if c != nil && c.Entered > 0 {
		cause = fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). ", c.State, c.Entered) + cause
	}
	return &flow.Error{Name: name, Cause: cause, Terminal: name == flow.ErrRuntime}
}

// dialect names the errors the engine raises itself as AWS does (SPEC
// 1.7): an oversized payload is States.DataLimitExceeded, and a Fail
// state without Error fails with no error name.
type dialect struct {
	// services names what a Task state calls, as AWS's causes name it in
	// place of the state ("lambda").
	services map[*flow.State]string
}

// PayloadTooLarge is States.DataLimitExceeded with AWS's cause.
func (d *dialect) PayloadTooLarge(st *flow.State, what string, size, limit int) *flow.Error {
	name := st.Name
	if s := d.services[st]; s != "" {
		name = s
	}
	return &flow.Error{Name: ErrDataLimitExceeded,
		Cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", name)}
}

// UnnamedFailure is empty: AWS's execution then fails without an error.
func (*dialect) UnnamedFailure() string { return "" }

// TimedOut is States.Timeout or States.HeartbeatTimeout without a cause,
// as AWS reports them.
func (*dialect) TimedOut(_ *flow.State, heartbeat bool) *flow.Error {
	if heartbeat {
		return &flow.Error{Name: flow.ErrHeartbeat}
	}
	return &flow.Error{Name: flow.ErrTimeout}
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
