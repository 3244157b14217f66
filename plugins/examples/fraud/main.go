//go:build wasip1

// Command fraud is an example plugin: a fraud-scoring adapter. It posts the
// order to a risk service the manifest allows, and answers the service's
// score with a verdict against the configured threshold. Declared in its
// manifest as the routine fraud.score, so any workflow can use it by name.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/orbit-sidecar/orbit/plugins/pdk"
)

func main() {}

//go:wasmexport score
func score(ptr, size uint32) uint64 { return pdk.Handle(ptr, size, scoreOrder) }

// Order is what the routine needs of a task's input.
type Order struct {
	ID       string  `json:"id"`
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
	Customer string  `json:"customer"`
}

// Verdict is the routine's result.
type Verdict struct {
	Risk      float64 `json:"risk"`
	Flagged   bool    `json:"flagged"`
	Threshold float64 `json:"threshold"`
}

func scoreOrder(order Order) (Verdict, error) {
	endpoint, ok := pdk.Config("endpoint")
	if !ok {
		return Verdict{}, pdk.Fail("Fraud.Misconfigured", "config has no endpoint")
	}
	threshold := 0.8
	if s, ok := pdk.Config("threshold"); ok {
		t, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Verdict{}, pdk.Fail("Fraud.Misconfigured", "threshold: "+err.Error())
		}
		threshold = t
	}
	body, err := json.Marshal(order)
	if err != nil {
		return Verdict{}, err
	}
	resp, err := pdk.HTTPRequest(pdk.Request{Method: "POST", URL: endpoint + "/score", Body: string(body)})
	switch {
	case errors.Is(err, pdk.ErrDenied):
		return Verdict{}, pdk.Fail("Fraud.Denied", err.Error())
	case err != nil:
		// Named so that a workflow can retry it like an unavailable service.
		return Verdict{}, pdk.Fail("Fraud.Unavailable", err.Error())
	case resp.Status >= 500:
		return Verdict{}, pdk.Fail("Fraud.Unavailable", fmt.Sprintf("risk service answered %d", resp.Status))
	case resp.Status != 200:
		return Verdict{}, pdk.Fail("Fraud.Rejected", fmt.Sprintf("risk service answered %d: %s", resp.Status, resp.Body))
	}
	var answer struct {
		Risk *float64 `json:"risk"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &answer); err != nil || answer.Risk == nil {
		return Verdict{}, pdk.Fail("Fraud.BadAnswer", "risk service answered without a numeric risk: "+resp.Body)
	}
	v := Verdict{Risk: *answer.Risk, Threshold: threshold, Flagged: *answer.Risk > threshold}
	if v.Flagged {
		pdk.Log(pdk.LevelWarn, fmt.Sprintf("order %s flagged: risk %.2f", order.ID, v.Risk))
	}
	return v, nil
}
