package engine_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/internal/cputime"
	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/metrics"
	"github.com/orbit-sidecar/orbit/runtime/tracing"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/memory"
)

// transitions is a workflow of ten task states, each adding one: a run is
// ten transitions plus the start.
func transitions() *flow.Bundle {
	inc := flow.RoutineFunc(func(_ context.Context, in any, _ *flow.Context) (any, error) {
		n, _ := flow.Number(in) // data keeps numbers as written (json.Number)
		return n + 1, nil
	})
	var states []*flow.State
	names := []string{"S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"}
	for i, n := range names {
		s := &flow.State{Name: n, Kind: flow.Task, Routine: inc}
		if i+1 < len(names) {
			s.Next = names[i+1]
		}
		states = append(states, s)
	}
	return bundle(workflow("ten", "S0", states...))
}

// threeCalls is the workflow of orbit bench: three http tasks on a
// loopback service, each result placed into the data under its own name.
// A run is three steps plus the start.
func threeCalls(b *testing.B) *flow.Bundle {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"ref":"r-1042"}`))
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	client := httpcall.NewClient()
	var states []*flow.State
	for i := 1; i <= 3; i++ {
		r, err := httpcall.New(client, httpcall.Spec{Method: "POST", URL: "http://" + ln.Addr().String() + "/step/" + strconv.Itoa(i), Timeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		s := &flow.State{Name: "S" + strconv.Itoa(i), Kind: flow.Task, Routine: r, Result: flow.MustPath("$.s" + strconv.Itoa(i))}
		if i < 3 {
			s.Next = "S" + strconv.Itoa(i+1)
		}
		states = append(states, s)
	}
	return bundle(workflow("three", "S1", states...))
}

func benchEngine(b *testing.B, st store.Store, parallel bool) {
	benchEngineWith(b, engine.Config{Store: st}, parallel)
}

// benchEngineWith is benchEngine with the engine's whole configuration.
func benchEngineWith(b *testing.B, cfg engine.Config, parallel bool) {
	benchBundle(b, cfg, transitions(), "ten", `0`, 10, parallel)
}

// benchBundle runs the bundle's workflow wf with input and reports
// nanoseconds per transition (steps per run).
func benchBundle(b *testing.B, cfg engine.Config, bu *flow.Bundle, wf, input string, steps int, parallel bool) {
	st := cfg.Store
	e := engine.New(cfg)
	ctx := context.Background()
	if err := e.Load(ctx, bu); err != nil {
		b.Fatal(err)
	}
	if err := e.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	run := func() {
		in, _, err := e.Start(ctx, wf, engine.StartOptions{Input: json.RawMessage(input)})
		if err != nil {
			b.Fatal(err)
		}
		if in, err = e.Wait(ctx, in.ID); err != nil || in.Status != store.Succeeded {
			b.Fatalf("%v %v", in, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	before, cpu := st.Stats(), cputime.Process()
	if parallel {
		b.SetParallelism(32) // 64 concurrent instances on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run()
			}
		})
	} else {
		for b.Loop() {
			run()
		}
	}
	b.StopTimer()
	after := st.Stats()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/transition")
	// On a shared machine the CPU time per run says more than the wall time.
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
	if c := after.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(after.Checkpoints-before.Checkpoints)/float64(c), "checkpoints/commit")
	}
}

func openBolt(b *testing.B) *bolt.DB {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "orbit.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkTransitionBolt runs instances one after another with a durable
// checkpoint (fsync) per transition.
func BenchmarkTransitionBolt(b *testing.B) { benchEngine(b, openBolt(b), false) }

// BenchmarkTransitionBoltParallel runs 64 instances at once, so group
// commit shares each fsync among many checkpoints.
func BenchmarkTransitionBoltParallel(b *testing.B) { benchEngine(b, openBolt(b), true) }

// BenchmarkTransitionMemory measures the engine alone: the same workflow
// on the in-memory store, with no disk.
func BenchmarkTransitionMemory(b *testing.B) { benchEngine(b, memory.New(), false) }

// BenchmarkTransitionMemoryMetrics is BenchmarkTransitionMemory feeding
// the sidecar's metrics, as orbit serve does: what they cost a step.
func BenchmarkTransitionMemoryMetrics(b *testing.B) {
	m := metrics.New()
	benchEngineWith(b, engine.Config{Store: memory.New(), OnEvent: m.OnEvent, OnStep: m.OnStep}, false)
}

// BenchmarkTransitionMemoryTraced is BenchmarkTransitionMemoryMetrics with
// every span recorded and handed to an exporter that drops them.
func BenchmarkTransitionMemoryTraced(b *testing.B) {
	m := metrics.New()
	t := tracing.New(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer t.Shutdown(context.Background())
	benchEngineWith(b, engine.Config{Store: memory.New(), OnEvent: m.OnEvent, OnStep: m.OnStep, Tracer: t}, false)
}

// BenchmarkThreeCallsMemory runs orbit bench's workflow (three http tasks
// on loopback, results placed into the data) on the in-memory store: the
// step path's own allocations with real HTTP and JSON, without the disk.
func BenchmarkThreeCallsMemory(b *testing.B) {
	benchBundle(b, engine.Config{Store: memory.New()}, threeCalls(b), "three", `{"order":{"id":"o-1042","qty":2}}`, 3, false)
}

// BenchmarkThreeCallsBoltParallel is BenchmarkThreeCallsMemory on bbolt
// with 64 instances at once, as orbit bench runs it.
func BenchmarkThreeCallsBoltParallel(b *testing.B) {
	benchBundle(b, engine.Config{Store: openBolt(b)}, threeCalls(b), "three", `{"order":{"id":"o-1042","qty":2}}`, 3, true)
}

// BenchmarkTimerWindow reads a window of timers (engine.TimerWindow of
// them, of as many instances parked on a timer) from a bbolt store, as the
// timer queue reads each next window while it holds its lock: what a
// window costs every add and removal that waits for the lock meanwhile.
func BenchmarkTimerWindow(b *testing.B) {
	st := openBolt(b)
	clk := clock.NewFake(epoch)
	at := epoch.Add(time.Hour)
	data := json.RawMessage(`{"order":{"id":"o-1042","items":[{"sku":"a-1","qty":2},{"sku":"b-7","qty":1}]},` +
		`"authorize":{"ok":true,"ref":"r-1042"},"reserve":{"ok":true,"ref":"r-1042"},"charge":{"ok":true,"ref":"r-1042"}}`)
	bun := bundle(workflow("w", "Later", &flow.State{Name: "Later", Kind: flow.Wait, WaitFor: time.Hour}))
	var batch store.Batch
	for i := range engine.TimerWindow {
		id := "parked-" + strconv.Itoa(i)
		in := &store.Instance{Public: store.Public{ID: id, Workflow: "w", Version: "v1", Status: store.Waiting,
			State: "Later", Input: data, StartedAt: epoch, UpdatedAt: epoch,
			Waiting: &store.WaitingFor{Kind: store.WaitTimer, Until: &at}},
			Bundle: bun.Hash, Data: data, Attempt: 1, Visits: map[string]int{"A": 1, "B": 1, "Later": 1}, Seq: 9,
			TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
		batch.Instances = append(batch.Instances, in)
		batch.SetTimers = append(batch.SetTimers, store.Timer{At: at, Instance: id, Kind: "wake"})
	}
	if err := st.Commit(context.Background(), &batch); err != nil {
		b.Fatal(err)
	}
	e := engine.New(engine.Config{Store: st, Clock: clk})
	if err := e.Load(context.Background(), bun); err != nil {
		b.Fatal(err)
	}
	if err := e.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := e.Rechecked(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	if n := engine.HeldTimers(e); n != engine.TimerWindow {
		b.Fatalf("%d timers held, want %d", n, engine.TimerWindow)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := engine.ReadTimerWindow(e); err != nil {
			b.Fatal(err)
		}
	}
	if n := engine.HeldTimers(e); n != engine.TimerWindow {
		b.Fatalf("%d timers held, want %d", n, engine.TimerWindow)
	}
}
