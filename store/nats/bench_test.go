package nats_test

import (
	"context"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

func openBench(b *testing.B, nodes int) *natsstore.Store {
	b.Helper()
	c := devnatstest.Start(b, nodes)
	s, err := natsstore.Open(context.Background(), natsstore.Options{URL: c.URL(), Replicas: min(nodes, 3)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkCheckpoint(b *testing.B) { storetest.BenchCheckpoint(b, openBench(b, 1)) }

func BenchmarkCheckpointParallel(b *testing.B) {
	storetest.BenchCheckpointParallel(b, openBench(b, 1))
}

func BenchmarkCheckpointParallelThreeNodes(b *testing.B) {
	storetest.BenchCheckpointParallel(b, openBench(b, 3))
}
