package crashtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// kind is one workflow of testdata/scripts and how the test drives it.
type kind string

// The workflows of testdata/scripts/crash.lua.
const (
	kindChain    kind = "chain"    // a loop of tasks with retries on 503
	kindNap      kind = "nap"      // a durable timer between tasks
	kindApproval kind = "approval" // awaits, with events before and after them
	kindFanout   kind = "fanout"   // parallel branches and a map
	kindParent   kind = "parent"   // a child workflow
	kindSerial   kind = "serial"   // a concurrency key
	kindQuick    kind = "quick"    // express mode, started synchronously
	kindRefused  kind = "refused"  // a downstream error that fails the instance
)

var kinds = []kind{kindChain, kindNap, kindApproval, kindFanout, kindParent, kindSerial, kindQuick, kindRefused}

// serialKeys is how many concurrency keys the serial instances share.
const serialKeys = 4

// instance is one workflow instance the test starts, with what it must end
// as.
type instance struct {
	ID     string
	Kind   kind
	Input  json.RawMessage
	Status string          // the status it must end with
	Error  string          // its error, when it must fail
	Output json.RawMessage // its output, when it must succeed
	Resend bool            // start it again with the same id once it is answered
	Events []string        // events the test delivers: "early" at once, "late" once awaited
}

// plan makes n instances, every kind in turn, with inputs from rng.
func plan(n int, rng *rand.Rand) []*instance {
	out := make([]*instance, n)
	for i := range out {
		k := kinds[i%len(kinds)]
		in := &instance{ID: fmt.Sprintf("%s-%d", k, i), Kind: k, Status: "SUCCEEDED", Resend: rng.IntN(4) == 0}
		var input, output any
		switch k {
		case kindChain:
			rounds := 2 + rng.IntN(4)
			input, output = map[string]any{"n": 0, "rounds": rounds}, map[string]any{"n": rounds}
		case kindNap:
			input, output = map[string]any{}, map[string]any{"n": 2}
		case kindApproval:
			in.Events = []string{"early", "late"}
			input = map[string]any{}
			output = map[string]any{"n": 2, "early": payload(in.ID, "early"), "late": payload(in.ID, "late")}
		case kindFanout:
			start := rng.IntN(100)
			items := make([]any, 1+rng.IntN(4))
			each := make([]any, len(items))
			for j := range items {
				v := rng.IntN(100)
				items[j], each[j] = v, map[string]any{"n": v + 1}
			}
			input = map[string]any{"n": start, "items": items}
			output = map[string]any{"both": []any{map[string]any{"n": start + 1}, map[string]any{"n": start + 11}}, "each": each}
		case kindParent:
			rounds := 1 + rng.IntN(3)
			input, output = map[string]any{"n": 0, "rounds": rounds}, map[string]any{"n": rounds + 1}
		case kindSerial:
			key := fmt.Sprintf("k%d", rng.IntN(serialKeys))
			input, output = map[string]any{"key": key}, map[string]any{"key": key, "n": 2}
		case kindQuick:
			start := rng.IntN(100)
			input, output = map[string]any{"n": start}, map[string]any{"n": start + 2}
		case kindRefused:
			input, in.Status, in.Error = map[string]any{}, "FAILED", "Order.Refused"
		}
		in.Input = mustJSON(input)
		if output != nil {
			in.Output = mustJSON(output)
		}
		out[i] = in
	}
	return out
}

// payload is the body of an event the test delivers.
func payload(id, event string) map[string]any { return map[string]any{"id": id, "event": event} }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
