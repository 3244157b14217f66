//go:build wasip1

// Command audit is an example plugin: a hook that audits completed orders.
// Its manifest registers on_saved as an observer of place_order's Save
// state; each time Save is exited the hook logs the order and keeps an
// audit record in the plugin's key-value store, keyed by instance. The
// records count against the manifest's kv_quota (16MiB, some forty
// thousand orders); past it the hook fails with Audit.StoreFailed, so a
// real one would ship its records elsewhere and delete them.
package main

import (
	"encoding/json"
	"time"

	"github.com/orbit-sidecar/orbit/plugins/pdk"
)

func main() {}

//go:wasmexport on_saved
func onSaved(ptr, size uint32) uint64 { return pdk.Handle(ptr, size, audit) }

// Record is what the hook keeps for an order.
type Record struct {
	Instance string          `json:"instance"`
	Workflow string          `json:"workflow"`
	State    string          `json:"state"`
	At       time.Time       `json:"at"`
	Event    json.RawMessage `json:"event"`
}

func audit(event json.RawMessage) (map[string]string, error) {
	tc, err := pdk.Context()
	if err != nil {
		return nil, err
	}
	rec, err := json.Marshal(Record{Instance: tc.Instance, Workflow: tc.Workflow, State: tc.State, At: time.Now().UTC(), Event: event})
	if err != nil {
		return nil, err
	}
	key := "audit/" + tc.Instance
	if err := pdk.KVPut(key, rec); err != nil {
		return nil, pdk.Fail("Audit.StoreFailed", err.Error())
	}
	pdk.Log(pdk.LevelInfo, "order audited: "+string(rec))
	return map[string]string{"key": key}, nil
}
