package api

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// StateTestRequest is the body of POST
// /v1/workflows/{name}/states/{state}/test: AWS's TestState request, in
// Orbit's snake case. Every field may be left out.
type StateTestRequest struct {
	Input              json.RawMessage     `json:"input,omitempty"`
	Context            json.RawMessage     `json:"context,omitempty"`
	Variables          json.RawMessage     `json:"variables,omitempty"`
	Mock               *MockRequest        `json:"mock,omitempty"`
	InspectionLevel    string              `json:"inspection_level,omitempty"`
	StateConfiguration *StateConfiguration `json:"state_configuration,omitempty"`
}

// MockRequest is what the tested state's call gives: a result or an
// error ({"error", "cause"}).
type MockRequest struct {
	Result      json.RawMessage `json:"result,omitempty"`
	ErrorOutput *flow.Error     `json:"error_output,omitempty"`
}

// StateConfiguration says where the tested state stands: the retries its
// retrier made, the failed items of a map, the state inside a map or
// parallel that raised the mocked error.
type StateConfiguration struct {
	RetrierRetryCount        int    `json:"retrier_retry_count,omitempty"`
	MapIterationFailureCount int    `json:"map_iteration_failure_count,omitempty"`
	ErrorCausedByState       string `json:"error_caused_by_state,omitempty"`
}

// testState answers POST /v1/workflows/{name}/states/{state}/test with
// how the state ends (engine.StateTestResult), 200 whatever the status.
func (s *Server) testState(ctx *fasthttp.RequestCtx, p []string) {
	body, ok := s.payload(ctx)
	if !ok {
		return
	}
	var req StateTestRequest
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "body is not a state test: "+err.Error())
			return
		}
	}
	t := engine.StateTest{Workflow: p[0], Version: string(ctx.QueryArgs().Peek("version")), State: p[1],
		Input: req.Input, Context: req.Context, Variables: req.Variables, Level: engine.InspectionLevel(req.InspectionLevel)}
	if m := req.Mock; m != nil {
		t.Mock = &engine.Mock{Result: m.Result, Error: m.ErrorOutput}
	}
	if c := req.StateConfiguration; c != nil {
		t.RetryCount, t.MapFailures, t.ErrorState = c.RetrierRetryCount, c.MapIterationFailureCount, c.ErrorCausedByState
	}
	// A task without a mock calls its routine: a shutdown stops the call.
	res, err := s.engine.TestState(s.closing, t)
	if err != nil {
		if s.closing.Err() != nil && err == context.Canceled {
			err = engine.ErrClosed
		}
		s.writeEngineError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, res)
}
