package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/cputime"
	"github.com/orbit-sidecar/orbit/store"
)

// stepsPerInstance is how many checkpoints a benchmark instance takes before
// the next one starts, so that commits mix inserts and updates like a run.
const stepsPerInstance = 5

// checkpointer builds the engine's per-transition batch: the instance record
// and three history events, reusing one Batch as the engine does.
type checkpointer struct {
	ids   *atomic.Uint64 // shared by all writers: instance numbers
	b     store.Batch
	in    store.Instance
	steps int
}

func (c *checkpointer) step(ctx context.Context, st store.Store) error {
	step := c.steps % stepsPerInstance
	c.steps++
	now := time.Now()
	if step == 0 {
		id := fmt.Sprintf("inst-%09d", c.ids.Add(1))
		c.in = store.Instance{
			Public: store.Public{ID: id, Workflow: "place_order", Version: "v1",
				Input: json.RawMessage(`{"order":{"id":"o-1","amount":42.5}}`), StartedAt: now},
			Bundle: "bundle",
		}
	}
	c.in.Status, c.in.State, c.in.UpdatedAt = store.Running, fmt.Sprintf("Step%d", step), now
	c.in.Data = json.RawMessage(`{"order":{"id":"o-1","amount":42.5},"payment":{"ok":true}}`)
	id, seq := c.in.ID, c.in.Seq
	c.in.Seq += 3
	c.b.Reset()
	c.b.Instances = append(c.b.Instances, &c.in)
	c.b.Events = append(c.b.Events,
		store.Event{Instance: id, Seq: seq + 1, Type: "TaskSucceeded", Time: now, State: c.in.State, Output: json.RawMessage(`{"ok":true}`)},
		store.Event{Instance: id, Seq: seq + 2, Type: "StateExited", Time: now, State: c.in.State},
		store.Event{Instance: id, Seq: seq + 3, Type: "StateEntered", Time: now, State: "Next"},
	)
	return st.Commit(ctx, &c.b)
}

func reportGrouping(b *testing.B, st store.Store, before store.Stats) {
	after := st.Stats()
	if c := after.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(after.Checkpoints-before.Checkpoints)/float64(c), "checkpoints/commit")
	}
}

// BenchCheckpoint is one writer committing the engine's per-transition
// batch: the latency of a lone checkpoint on st.
func BenchCheckpoint(b *testing.B, st store.Store) {
	ctx := context.Background()
	c := checkpointer{ids: new(atomic.Uint64)}
	before := st.Stats()
	lat := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if err := c.step(ctx, st); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportGrouping(b, st, before)
	reportLatency(b, lat)
}

// reportLatency reports the median and the 99th percentile of the
// latencies, where the mean of ns/op hides a tail (an fsync that waited).
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}

// BenchCheckpointParallel is 64 writers at once, as the engine runs many
// instances: a backend with group commit shares each write among them.
func BenchCheckpointParallel(b *testing.B, st store.Store) {
	ctx := context.Background()
	ids := new(atomic.Uint64)
	before := st.Stats()
	b.ReportAllocs()
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu, switches := cputime.Process(), cputime.Switches()
	b.RunParallel(func(pb *testing.PB) {
		c := checkpointer{ids: ids}
		for pb.Next() {
			if err := c.step(ctx, st); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// What a checkpoint costs the process, whatever its goroutines (the
	// committer, a background applier): on a shared machine the CPU time
	// moves less than the wall time, and a thread switch is a cost of its
	// own on a virtual machine.
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(cputime.Switches()-switches)/float64(b.N), "switches/op")
	reportGrouping(b, st, before)
}
