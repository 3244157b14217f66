//go:build orbitfault

package bolt

import (
	"github.com/orbit-sidecar/orbit/internal/fault"
	bbolt "go.etcd.io/bbolt"
)

// bboltFailpoints maps the failpoints of bbolt's Tx.Commit (the comments
// "// gofail: var NAME" in its tx.go) to Orbit's fault points. A fault
// build replaces those comments with calls of bbolt.FaultHook, which bbolt
// itself does not have: this file compiles only against that patched copy
// (internal/crashtest makes it).
var bboltFailpoints = map[string]fault.Point{
	"beforeSyncDataPages":  FaultPagesWritten,
	"beforeWriteMetaError": FaultPagesSynced,
	"beforeSyncMetaPage":   FaultMetaWritten,
}

func init() {
	bbolt.FaultHook = func(name string) {
		if p, ok := bboltFailpoints[name]; ok {
			fault.Hit(p)
		}
	}
}
