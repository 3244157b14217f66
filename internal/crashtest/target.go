package crashtest

import (
	"path/filepath"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// Target is a store, or a commit path in front of one, that the crash test
// runs against: how `orbit serve` selects it and where its commits can be
// killed. Another store joins the test with a Target of its own; the
// workload and the invariants stay the same.
type Target struct {
	Name string
	// Serve returns the arguments of `orbit serve` that select the store,
	// keeping its data under dir across restarts. It may start what the
	// store needs (a server) and stop it with tb.Cleanup.
	Serve func(tb testing.TB, dir string) []string
	// Points are the fault points of its commit path that the first
	// commits of a new store reach; Later, those reached only after more
	// work or a crash. The crash test arms both; TestFaultPointsKill
	// checks that each of Points kills a new store.
	Points, Later []fault.Point
	// Env is what the sidecar's environment adds, to reach Later sooner.
	Env []string
}

// Bolt is the embedded store: one bbolt file.
var Bolt = Target{
	Name:   "bbolt",
	Serve:  func(_ testing.TB, dir string) []string { return []string{"--data", filepath.Join(dir, "orbit.db")} },
	Points: bolt.FaultPoints,
	Later:  bolt.LaterFaultPoints,
	Env:    []string{bolt.FaultSegmentEnv + "=65536"}, // rotate the log every few dozen checkpoints
}

// Targets are every target the crash test knows.
var Targets = []Target{Bolt}
