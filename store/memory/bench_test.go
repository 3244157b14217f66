package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/memory"
)

// BenchmarkCheckpoint is the engine's per-transition batch, as in store/bolt:
// the instance record and three history events, one Batch reused, and a new
// instance every five steps so that commits mix inserts and updates.
func BenchmarkCheckpoint(b *testing.B) {
	const stepsPerInstance = 5
	s := memory.New()
	ctx := context.Background()
	var (
		batch store.Batch
		in    store.Instance
		n     int
	)
	b.ReportAllocs()
	for b.Loop() {
		step := n % stepsPerInstance
		now := time.Now()
		if step == 0 {
			in = store.Instance{
				ID: fmt.Sprintf("inst-%09d", n/stepsPerInstance), Workflow: "place_order", Version: "v1", Bundle: "bundle",
				Input: json.RawMessage(`{"order":{"id":"o-1","amount":42.5}}`), StartedAt: now,
			}
		}
		n++
		in.Status, in.State, in.UpdatedAt = store.Running, fmt.Sprintf("Step%d", step), now
		in.Data = json.RawMessage(`{"order":{"id":"o-1","amount":42.5},"payment":{"ok":true}}`)
		seq := in.Seq
		in.Seq += 3
		batch.Reset()
		batch.Instances = append(batch.Instances, &in)
		batch.Events = append(batch.Events,
			store.Event{Instance: in.ID, Seq: seq + 1, Type: "TaskSucceeded", Time: now, State: in.State, Output: json.RawMessage(`{"ok":true}`)},
			store.Event{Instance: in.ID, Seq: seq + 2, Type: "StateExited", Time: now, State: in.State},
			store.Event{Instance: in.ID, Seq: seq + 3, Type: "StateEntered", Time: now, State: "Next"},
		)
		if err := s.Commit(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
}
