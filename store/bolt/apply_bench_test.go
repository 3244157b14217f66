package bolt

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// BenchmarkApplyWindow is the applier's transaction for one window of a
// busy durable store: 64 three-step workflows, each checkpointed five
// times with its fourteen history events (as the engine writes them),
// applied without bbolt's fsyncs, so that what is measured is the CPU of
// the transaction. One op is one window; ns/wf is per workflow, file-B/wf
// the pages in use per workflow at the end. On a shared machine, the
// samples of applyEncoded in a -cpuprofile are the steadier measure.
func BenchmarkApplyWindow(b *testing.B) {
	const workflows = 64
	split := []int{2, 3, 4, 3, 2} // events per checkpoint: fourteen in all
	db := openHistory(b)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	window := func() []encoded {
		var batches []*store.Batch
		ins := make([]*store.Instance, workflows)
		for i := range ins {
			n++
			ins[i] = &store.Instance{Public: store.Public{ID: fmt.Sprintf("%08d-order", n), Workflow: "order", Version: "v1",
				Status: store.Running, Input: json.RawMessage(`{"order":{"id":"o-1","amount":42.5}}`), StartedAt: t0, UpdatedAt: t0}, Bundle: "b"}
		}
		for step, events := range split {
			for _, in := range ins {
				bt := &store.Batch{}
				for range events {
					in.Seq++
					bt.Events = append(bt.Events, store.Event{Instance: in.ID, Seq: in.Seq, Type: store.EventTaskSucceeded, Time: t0,
						State: fmt.Sprintf("Step%d", step), Output: json.RawMessage(`{"ok":true,"charged":42.5}`)})
				}
				if step == len(split)-1 {
					in.Status = store.Succeeded
					in.EndedAt = &t0
				}
				bt.Instances = []*store.Instance{in.Clone()}
				batches = append(batches, bt)
			}
		}
		return encodeWindow(b, batches...)
	}
	var w writer
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		encs := window()
		b.StartTimer()
		applyEncoded(b, db, &w, encs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*workflows), "ns/wf")
	var size int64 // the pages in use: the file's high-water mark
	if err := db.bolt.View(func(tx *bbolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size)/float64(n), "file-B/wf")
}
