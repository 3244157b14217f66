package nats_test

import (
	"context"
	"fmt"
	"sync/atomic"
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

// BenchmarkRenew renews one lease: a conditional write of the lease
// entry, answered by the server.
func BenchmarkRenew(b *testing.B) {
	s := openBench(b, 1)
	ctx := context.Background()
	l, err := s.Claim(ctx, "renewed")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Renew(ctx, &l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenewParallel renews the leases of many instances at once, one
// per goroutine.
func BenchmarkRenewParallel(b *testing.B) {
	s := openBench(b, 1)
	ctx := context.Background()
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		l, err := s.Claim(ctx, fmt.Sprintf("renewed-%d", n.Add(1)))
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := s.Renew(ctx, &l); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
