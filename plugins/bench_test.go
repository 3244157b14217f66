package plugins_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/plugins"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// benchGuests are the test reactors the call benchmarks compare: the Go
// guest through pdk.Handle (typed) and pdk.HandleRaw (raw), and the C
// guest, whose echo copies its input into the reply as the raw one does.
var benchGuests = []struct{ name, module, fn string }{
	{"go-typed", "guest", "echo"},
	{"go-raw", "guest", "echo_raw"},
	{"c", "cguest", "echo"},
}

func benchmarkEcho(b *testing.B, module, fn string, size int) {
	dir := b.TempDir()
	addPlugin(b, dir, map[string]any{"name": "guest"}, built.Module(module))
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

// BenchmarkPluginCall100B is a routine call of an echo through the pool
// with 100 bytes of JSON in and out: the fixed cost of a plugin. typed
// decodes and encodes in the Go guest (pdk.Handle); raw does not
// (pdk.HandleRaw), which isolates the ABI's own cost, as the C guest does.
func BenchmarkPluginCall100B(b *testing.B) {
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) { benchmarkEcho(b, g.module, g.fn, 100) })
	}
}

// BenchmarkPluginCall10KB is the same with 10 KB, where copying and JSON
// decoding on both sides start to count.
func BenchmarkPluginCall10KB(b *testing.B) {
	for _, g := range benchGuests {
		b.Run(g.name, func(b *testing.B) { benchmarkEcho(b, g.module, g.fn, 10_000) })
	}
}

// BenchmarkCommandCall is a call of the command kind: a fresh instance per
// call, and for Go a runtime start-up.
func BenchmarkCommandCall(b *testing.B) {
	for name, module := range map[string]string{"go": "command", "c": "cguest-command"} {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			addPlugin(b, dir, map[string]any{"name": "cmd"}, built.Module(module))
			h := open(b, dir, nil, 0, nil)
			r, _ := h.Func("cmd", "echo")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Call(context.Background(), "ping", &flow.Context{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStart measures opening a plugins directory with one guest twice:
// first with an empty compilation cache (a first start), then with the
// cache the first open wrote (every later start); and what the loaded
// plugin holds at rest: its warm instance's linear memory, and the host
// heap the open added. Timings are logged and reported, never asserted.
func BenchmarkStart(b *testing.B) {
	for name, module := range map[string]string{"go": "guest", "c": "cguest"} {
		b.Run(name, func(b *testing.B) { benchmarkStart(b, module) })
	}
}

func benchmarkStart(b *testing.B, module string) {
	dir := b.TempDir()
	addPlugin(b, dir, map[string]any{"name": "guest"}, built.Module(module))
	var cold, warm time.Duration
	var linear uint32
	var heap int64
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
		before := heapInUse()
		t2 := time.Now()
		h, err = plugins.Open(dir, opt)
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		heap += heapInUse() - before
		if linear, err = plugins.IdleMemory(h, "guest"); err != nil {
			b.Fatal(err)
		}
		_ = h.Close(context.Background())
		cold += t1.Sub(t0)
		warm += t3.Sub(t2)
		_ = os.RemoveAll(cache)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((cold / n).Milliseconds()), "cold-ms")
	b.ReportMetric(float64((warm / n).Milliseconds()), "cached-ms")
	b.ReportMetric(float64(linear>>10), "idle-linear-KiB")
	b.ReportMetric(float64(heap/int64(b.N)>>10), "open-heap-KiB")
	b.Logf("%s: open with an empty cache %v, with the cache %v (pool of 1); idle instance's memory %d KiB, host heap %d KiB",
		module, cold/n, warm/n, linear>>10, heap/int64(b.N)>>10)
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
