package plugins_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

func benchmarkEcho(b *testing.B, fn string, size int) {
	dir := b.TempDir()
	addPlugin(b, dir, map[string]any{"name": "guest"}, built.Module("guest"))
	h := open(b, dir, nil, 0, nil)
	r, err := h.Func("guest", fn)
	if err != nil {
		b.Fatal(err)
	}
	// A JSON string of size bytes once encoded, quotes included.
	input := strings.Repeat("x", size-2)
	c := &flow.Context{Instance: "bench"}
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Call(ctx, input, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPluginCall100B is a routine call of a Go guest's echo through
// the pool with 100 bytes of JSON in and out: the fixed cost of a plugin.
// typed decodes and encodes in the guest (pdk.Handle); raw does not
// (pdk.HandleRaw), which isolates the ABI's own cost.
func BenchmarkPluginCall100B(b *testing.B) {
	b.Run("typed", func(b *testing.B) { benchmarkEcho(b, "echo", 100) })
	b.Run("raw", func(b *testing.B) { benchmarkEcho(b, "echo_raw", 100) })
}

// BenchmarkPluginCall10KB is the same with 10 KB, where copying and JSON
// decoding on both sides start to count.
func BenchmarkPluginCall10KB(b *testing.B) {
	b.Run("typed", func(b *testing.B) { benchmarkEcho(b, "echo", 10_000) })
	b.Run("raw", func(b *testing.B) { benchmarkEcho(b, "echo_raw", 10_000) })
}

// BenchmarkCommandCall is a call of the command kind: a fresh instance,
// and a Go runtime start-up, per call.
func BenchmarkCommandCall(b *testing.B) {
	dir := b.TempDir()
	addPlugin(b, dir, map[string]any{"name": "cmd"}, built.Module("command"))
	h := open(b, dir, nil, 0, nil)
	r, _ := h.Func("cmd", "echo")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Call(context.Background(), "ping", &flow.Context{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart measures opening a plugins directory with one Go guest
// twice: first with an empty compilation cache (a first start), then with
// the cache the first open wrote (every later start). Timings are logged
// and reported, never asserted.
func BenchmarkStart(b *testing.B) {
	dir := b.TempDir()
	addPlugin(b, dir, map[string]any{"name": "guest"}, built.Module("guest"))
	var cold, warm time.Duration
	for i := 0; b.Loop(); i++ {
		cache := filepath.Join(b.TempDir(), "cache")
		opt := plugins.Options{CacheDir: cache, PoolSize: 1}
		t0 := time.Now()
		h, err := plugins.Open(dir, opt)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		_ = h.Close(context.Background())
		t2 := time.Now()
		h, err = plugins.Open(dir, opt)
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		_ = h.Close(context.Background())
		cold += t1.Sub(t0)
		warm += t3.Sub(t2)
		_ = os.RemoveAll(cache)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((cold / n).Milliseconds()), "cold-ms")
	b.ReportMetric(float64((warm / n).Milliseconds()), "cached-ms")
	b.Logf("open with an empty cache %v, with the cache %v (pool of 1, Go guest)", cold/n, warm/n)
}
