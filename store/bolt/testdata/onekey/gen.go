//go:build ignore

// gen writes onekey.db, a data file in the layout Orbit wrote up to commit
// e470de7: one history event per key. It was run at that commit
// (`go run ./store/bolt/testdata/onekey/gen.go store/bolt/testdata/onekey/onekey.db`);
// the store's tests read the file it made, to prove that every later
// layout still reads it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

func main() {
	db, err := bolt.Open(os.Args[1], bolt.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// order-1 ended after fourteen events written by four checkpoints;
	// order-10 (order-1 is a prefix of its id) and order-2 are running.
	for _, w := range []struct {
		id      string
		batches []int
		status  store.Status
	}{
		{"order-1", []int{3, 4, 4, 3}, store.Succeeded},
		{"order-10", []int{2}, store.Running},
		{"order-2", []int{1, 2}, store.Running},
	} {
		in := &store.Instance{Public: store.Public{ID: w.id, Workflow: "order", Version: "v1", Status: store.Running,
			Input: json.RawMessage(`{"order":"` + w.id + `"}`), StartedAt: t0, UpdatedAt: t0}, Bundle: "b1"}
		for i, n := range w.batches {
			var b store.Batch
			for range n {
				in.Seq++
				ev := store.Event{Instance: w.id, Seq: in.Seq, Type: store.EventTaskSucceeded,
					Time: t0.Add(time.Duration(in.Seq) * time.Millisecond), State: fmt.Sprintf("Step%d", in.Seq),
					Output: json.RawMessage(fmt.Sprintf(`{"charged":%d,"order":%q}`, 40+in.Seq, w.id))}
				ev.Hash = store.ChainHash(in.Chain, &ev)
				in.Chain = ev.Hash
				b.Events = append(b.Events, ev)
			}
			if i == len(w.batches)-1 && w.status.Terminal() {
				in.Status = w.status
				in.EndedAt = &t0
			}
			b.Instances = []*store.Instance{in.Clone()}
			if err := db.Commit(context.Background(), &b); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	// bbolt grows a file well ahead of its pages; the rest is of no use.
	rep, err := bolt.CheckFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Truncate(os.Args[1], int64(rep.Pages)*int64(rep.PageSize)); err != nil {
		log.Fatal(err)
	}
}
