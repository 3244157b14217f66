package plugins_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/orbit-sidecar/orbit/plugins/pluginstest"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
)

func TestExampleFraudRoutine(t *testing.T) {
	var got map[string]any
	risk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &got)
		if r.URL.Path != "/score" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"risk": 0.93}`))
	}))
	defer risk.Close()
	h := open(t, built.Examples(t, risk.URL), pluginstest.NewKV(), 0, nil)

	score, ok := h.Routines()["fraud.score"]
	if !ok {
		t.Fatalf("routines = %v, want fraud.score", h.Routines())
	}
	order := map[string]any{"id": "o-1", "amount": 1250.0, "currency": "EUR"}
	out, err := score.Call(context.Background(), order, &flow.Context{Instance: "i-9", State: "Score", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"risk": 0.93, "flagged": true, "threshold": 0.8}
	if !sameValue(out, want) {
		t.Fatalf("fraud.score = %v, want %v", out, want)
	}
	if got["id"] != "o-1" || got["amount"] != 1250.0 {
		t.Fatalf("risk service got %v", got)
	}

	// A risk service that is down is the plugin's own named error, which a
	// workflow can retry.
	risk.Close()
	_, err = score.Call(context.Background(), order, &flow.Context{})
	flowtest.WantError(t, err, "Fraud.Unavailable")
}

func TestExampleAuditHook(t *testing.T) {
	kv := pluginstest.NewKV()
	h := open(t, built.Examples(t, "http://127.0.0.1:1"), kv, 0, nil)

	hooks := h.Hooks()
	if len(hooks) != 1 {
		t.Fatalf("hooks = %d, want 1", len(hooks))
	}
	o := hooks[0]
	if o.Workflow != "place_order" || o.On != "StateExited" || o.State != "Save" || o.Routine == nil || o.Plugin != "audit" {
		t.Fatalf("observer = %+v", o)
	}
	event := map[string]any{"type": "StateExited", "state": "Save", "output": map[string]any{"saved": true}}
	if _, err := runObserver(o, event, &flow.Context{Instance: "i-42", Workflow: "place_order", State: "Save"}); err != nil {
		t.Fatal(err)
	}
	rec, err := kv.KVGet("audit", "audit/i-42")
	if err != nil {
		t.Fatalf("audit record: %v (keys %v)", err, kv.Keys("audit"))
	}
	var r map[string]any
	if err := json.Unmarshal(rec, &r); err != nil || r["instance"] != "i-42" || r["event"].(map[string]any)["state"] != "Save" {
		t.Fatalf("audit record = %s (%v)", rec, err)
	}
}

// runObserver runs a hook's routine as the engine does for an observer
// without an input expression: with the event. The workflow-level
// end-to-end test replaces it with the real engine.
func runObserver(o *flow.Observer, event any, c *flow.Context) (any, error) {
	return o.Routine.Call(context.Background(), event, c)
}

func TestExampleLuhnRoutine(t *testing.T) {
	h := open(t, built.Examples(t, "http://127.0.0.1:1"), nil, 0, nil)
	check, ok := h.Routines()["card.check"]
	if !ok {
		t.Fatalf("routines = %v, want card.check", h.Routines())
	}
	for card, want := range map[string]map[string]any{
		"4242-4242-4242-4242": {"valid": true, "brand": "visa", "last4": "4242"},
		"4000 0000 0000 0002": {"valid": true, "brand": "visa", "last4": "0002"},
		"5555555555554444":    {"valid": true, "brand": "mastercard", "last4": "4444"},
		"378282246310005":     {"valid": true, "brand": "amex", "last4": "0005"},
		"4242-4242-4242-4241": {"valid": false, "brand": "visa", "last4": "4241"},
	} {
		out, err := check.Call(context.Background(), card, &flow.Context{})
		if err != nil || !reflect.DeepEqual(out, want) {
			t.Errorf("card.check(%q) = %v, %v; want %v", card, out, err, want)
		}
	}
	for _, bad := range []any{"4242-abcd", "4242", "4242424242424242424242", 4242.0, nil} {
		_, err := check.Call(context.Background(), bad, &flow.Context{})
		flowtest.WantError(t, err, "Card.Invalid")
	}
}
