package api_test

import (
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
)

// POST /v1/workflows/{name}/states/{state}/test runs one state with the
// body's input, mock and configuration and answers how it ends; a body
// that is not a test is a 400, an unknown state a 404.
func TestTestStateEndpoint(t *testing.T) {
	wf := flowtest.Workflow("order", "Charge",
		&flow.State{Name: "Charge", Kind: flow.Task, Routine: flow.RoutineFunc(nil), Result: flow.MustPath("$.charge"), Next: "Done",
			Retry: []flow.Retrier{{Errors: []string{"Card.Busy"}, MaxAttempts: 3, Interval: 1e9, Backoff: 2}},
			Catch: []flow.Catcher{{Errors: []string{"Card.Declined"}, Next: "Declined"}}},
		&flow.State{Name: "Declined", Kind: flow.Fail},
		&flow.State{Name: "Done", Kind: flow.Succeed})
	s := newServer(t, flowtest.Bundle(wf), api.Options{})
	r := s.post("/v1/workflows/order/states/Charge/test",
		`{"input":{"id":1},"mock":{"result":{"ok":true}},"inspection_level":"DEBUG"}`).want(t, 200, "")
	if got := strings.TrimSpace(string(r.body)); got != `{"status":"SUCCEEDED","output":{"charge":{"ok":true},"id":1},"next_state":"Done","inspection_data":{"input":{"id":1},"result":{"ok":true},"after_result_path":{"charge":{"ok":true},"id":1}}}` {
		t.Fatalf("mocked result: %s", got)
	}
	r = s.post("/v1/workflows/order/states/Charge/test",
		`{"mock":{"error_output":{"error":"Card.Busy","cause":"later"}},"state_configuration":{"retrier_retry_count":2}}`).want(t, 200, "")
	if r.json["status"] != "RETRIABLE" || r.json["error"] != "Card.Busy" {
		t.Fatalf("mocked error: %s", r.body)
	}
	s.post("/v1/workflows/order/states/Charge/test", `{"mock":{"result":1},"surprise":true}`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/order/states/Charge/test", `{"inspection_level":"LOUD"}`).want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/order/states/Nope/test", `{}`).want(t, 404, api.CodeUnknownState)
	s.post("/v1/workflows/other/states/Charge/test", `{}`).want(t, 404, api.CodeUnknownWorkflow)
}
