package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/memory"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// kept is a store whose Close leaves it open: the registry below plays the
// part of the file, so that the suite's reopen test finds the data again.
type kept struct{ *memory.Store }

func (kept) Close() error { return nil }

// TestConformance runs the shared suite; opening a path again returns the
// store first opened there.
func TestConformance(t *testing.T) {
	var (
		mu     sync.Mutex
		byPath = map[string]*memory.Store{}
	)
	storetest.Run(t, func(t *testing.T, path string) store.Store {
		mu.Lock()
		defer mu.Unlock()
		if byPath[path] == nil {
			byPath[path] = memory.New()
		}
		return kept{byPath[path]}
	})
}

func running(id string) *store.Instance {
	return &store.Instance{Public: store.Public{ID: id, Workflow: "wf", Status: store.Running, StartedAt: time.Now()}}
}

func commit(t *testing.T, s *memory.Store, b *store.Batch) {
	t.Helper()
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// TestBadBatchWritesNothing commits batches that bolt rejects: each fails
// whole, before any of it is written.
func TestBadBatchWritesNothing(t *testing.T) {
	s := memory.New()
	bad := map[string]func(in *store.Instance) *store.Batch{
		"invalid raw JSON": func(in *store.Instance) *store.Batch {
			in.Input = json.RawMessage(`{not json`)
			return &store.Batch{Instances: []*store.Instance{in}}
		},
		"event without seq": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in}, Events: []store.Event{{Instance: in.ID, Type: "NoSeq"}}}
		},
		"event without instance": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in}, Events: []store.Event{{Seq: 1, Type: "NoInstance"}}}
		},
		"zero byte in timer instance": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in}, SetTimers: []store.Timer{{Instance: "x\x00y"}}}
		},
		"nil instance": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in, nil}}
		},
		"pending without name": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in}, AddPending: []store.PendingEvent{{Instance: in.ID}}}
		},
		"bundle without hash": func(in *store.Instance) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{in}, Bundles: []store.BundleSources{{}}}
		},
	}
	for name, mk := range bad {
		if err := s.Commit(context.Background(), mk(running("a"))); err == nil {
			t.Errorf("%s: committed", name)
		}
	}
	if _, err := s.Instance("a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("part of a bad batch was written: %v", err)
	}
	if st := s.Stats(); st != (store.Stats{}) {
		t.Errorf("bad batches were counted: %+v", st)
	}
}

// TestReadsAreCopies changes everything a read returned: the store must not
// follow, down to the pointers that Instance.Clone shares.
func TestReadsAreCopies(t *testing.T) {
	s := memory.New()
	in := running("a")
	until := time.Now()
	in.Data, in.EndedAt = json.RawMessage(`{"v":1}`), &until
	in.Waiting = &store.WaitingFor{Kind: "timer", Until: &until}
	in.Collected = map[int]json.RawMessage{0: json.RawMessage(`"x"`)}
	commit(t, s, &store.Batch{
		Instances: []*store.Instance{in},
		Events:    []store.Event{{Instance: "a", Seq: 1, Type: "T", Output: json.RawMessage(`1`)}},
	})

	got, _ := s.Instance("a")
	got.Data[0], got.Collected[0][0] = 'X', 'X'
	*got.EndedAt, *got.Waiting.Until = time.Time{}, time.Time{}
	h, _ := s.History("a", 0, 0)
	h[0].Output[0] = '2'

	again, _ := s.Instance("a")
	if string(again.Data) != `{"v":1}` || string(again.Collected[0]) != `"x"` ||
		!again.EndedAt.Equal(until) || !again.Waiting.Until.Equal(until) {
		t.Errorf("a changed read reached the store: %+v", again)
	}
	if h, _ := s.History("a", 0, 0); string(h[0].Output) != `1` {
		t.Errorf("a changed event reached the store: %s", h[0].Output)
	}
}

func TestClosed(t *testing.T) {
	s := memory.New()
	commit(t, s, &store.Batch{Instances: []*store.Instance{running("a")}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := s.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("b")}}); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("commit after close: %v", err)
	}
	if err := s.KVPut("ns", "k", []byte("v")); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("kv put after close: %v", err)
	}
	if _, err := s.Instance("a"); err != nil {
		t.Errorf("read after close: %v", err)
	}
}

func TestCommitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := memory.New().Commit(ctx, &store.Batch{Instances: []*store.Instance{running("a")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("commit with a cancelled context: %v", err)
	}
}

// TestPendingChosenSeq mixes caller-chosen and store-chosen seqs: arrival
// order still holds.
func TestPendingChosenSeq(t *testing.T) {
	s := memory.New()
	for _, p := range []store.PendingEvent{{Seq: 40, Payload: []byte("1")}, {Payload: []byte("2")}} {
		p.Instance, p.Name = "i", "e"
		commit(t, s, &store.Batch{AddPending: []store.PendingEvent{p}})
	}
	for _, want := range []string{"1", "2"} {
		p, err := s.Pending("i", "e")
		if err != nil || string(p.Payload) != want {
			t.Fatalf("pending = %+v, %v; want payload %s", p, err, want)
		}
		if want == "1" && p.Seq != 40 {
			t.Errorf("chosen seq became %d", p.Seq)
		}
		commit(t, s, &store.Batch{DelPending: []store.PendingEvent{*p}})
	}
}

// TestCallbackCommits writes from inside every callback that walks the
// store: none may hold the lock while it calls back.
func TestCallbackCommits(t *testing.T) {
	s := memory.New()
	commit(t, s, &store.Batch{
		Instances: []*store.Instance{running("a")},
		SetTimers: []store.Timer{{At: time.Now(), Instance: "a", Kind: "wait"}},
	})
	touch := func() error {
		return s.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("b")}})
	}
	if err := s.Unfinished(func(string, store.Status) error { return touch() }); err != nil {
		t.Error(err)
	}
	if err := s.Timers(func(store.Timer) error { return touch() }); err != nil {
		t.Error(err)
	}
}
