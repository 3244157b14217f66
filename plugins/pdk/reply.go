package pdk

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Error is a named error: what a workflow's retry and catch match on.
type Error struct {
	Name  string `json:"error"`
	Cause string `json:"cause"`
}

// Error prints the name and the cause.
func (e *Error) Error() string { return e.Name + ": " + e.Cause }

// Fail returns a named error for a handler to return, for example
// pdk.Fail("Payment.Declined", "card expired").
func Fail(name, cause string) error { return &Error{Name: name, Cause: cause} }

// errTaskFailed names errors that carry no name of their own, as a Lua
// routine's plain errors are named (SPEC 1.2).
const errTaskFailed = "States.TaskFailed"

// Handler answers one call: the JSON input in, the reply out (see
// plugins/abi.go for the reply's shape). Typed builds one from a function.
type Handler func(input []byte) (reply []byte)

// Typed adapts a function of decoded input to a Handler: the input is
// decoded into In (an empty input leaves In's zero value), the result is
// encoded from Out, and a returned error becomes a named error reply.
// Numbers decoded into an any (a map[string]any, say) are json.Number,
// the text the host sent, so that a handler passing them along returns
// them exactly (9007199254740993 stays itself; a float64 would round it);
// typed fields (float64, int64) decode as usual.
func Typed[In, Out any](fn func(In) (Out, error)) Handler {
	return func(input []byte) []byte {
		var in In
		if raw, ok := any(&in).(*json.RawMessage); ok {
			// The host encoded the input itself; scanning it again in the
			// guest is the slowest thing a handler can do (see ResultReply).
			*raw = append(json.RawMessage(nil), input...)
		} else if len(input) > 0 {
			d := json.NewDecoder(bytes.NewReader(input))
			d.UseNumber()
			if err := d.Decode(&in); err != nil {
				return ErrorReply(Fail(errTaskFailed, "input: "+err.Error()))
			}
		}
		out, err := fn(in)
		if err != nil {
			return ErrorReply(err)
		}
		return ResultReply(out)
	}
}

// ResultReply encodes a successful reply. A json.RawMessage result is
// copied as it is, unchecked: encoding/json would scan it byte by byte,
// which in a guest under Orbit's interruption checks costs far more than
// natively. Invalid JSON there fails the call with Plugin.Trap.
func ResultReply(v any) []byte {
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		return append(append([]byte(`{"result":`), raw...), '}')
	}
	b, err := json.Marshal(struct {
		Result any `json:"result"`
	}{v})
	if err != nil {
		return ErrorReply(Fail(errTaskFailed, "result: "+err.Error()))
	}
	return b
}

// ErrorReply encodes a failed reply: an *Error keeps its name, any other
// error is States.TaskFailed with its text as the cause.
func ErrorReply(err error) []byte {
	var named *Error
	if !errors.As(err, &named) {
		named = &Error{Name: errTaskFailed, Cause: err.Error()}
	}
	b, _ := json.Marshal(named) // two strings always encode
	return b
}
