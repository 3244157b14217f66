package bolt

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// A job goes back to the pool with its buffer when its batch was of the
// usual size, and without it after a large batch: under steady load the
// pool never empties, so a kept large buffer would stay for good.
func TestPooledJobsDropLargeBuffers(t *testing.T) {
	batch := func(data string) *store.Batch {
		return &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: "a", Status: store.Running},
			Data: json.RawMessage(`{"s":"` + data + `"}`)}}}
	}
	for _, c := range []struct {
		name string
		data string
		kept bool
	}{
		{"a checkpoint of a few KiB", strings.Repeat("x", 2<<10), true},
		{"a 200 KiB payload", strings.Repeat("x", 200<<10), false},
	} {
		j := getJob()
		if err := j.enc.encode(batch(c.data)); err != nil {
			t.Fatal(err)
		}
		if len(j.enc.buf) < len(c.data) {
			t.Fatalf("%s: encoded into %d bytes", c.name, len(j.enc.buf))
		}
		putJob(j)
		if kept := j.enc.buf != nil; kept != c.kept {
			t.Errorf("%s: buffer of %d bytes kept in the pool: %v, want %v", c.name, cap(j.enc.buf), kept, c.kept)
		}
	}
}
