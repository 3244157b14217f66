// Package devnatstest starts NATS servers for tests: in the test's own
// process, or, when the test is built with the race detector, in a child
// process so that the servers are not slowed ten times by it.
package devnatstest

import (
	"testing"

	"github.com/orbit-sidecar/orbit/internal/devnats"
)

// Start runs nodes NATS servers (a cluster when more than one) until the
// test ends.
func Start(t testing.TB, nodes int) devnats.Servers {
	t.Helper()
	opts := devnats.Options{Dir: t.TempDir(), Nodes: nodes}
	var (
		s   devnats.Servers
		err error
	)
	if raceEnabled {
		s, err = devnats.Spawn(opts)
	} else {
		s, err = devnats.Start(opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}
