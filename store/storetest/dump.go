package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// kvEntry is one plugin value as store.Dumper lists it.
type kvEntry struct {
	NS, Key string
	Value   []byte
}

// dumped lists a Dumper's kept events and plugin values.
func dumped(t *testing.T, d store.Dumper) ([]store.PendingEvent, []kvEntry) {
	t.Helper()
	var pending []store.PendingEvent
	if err := d.EachPending(func(p store.PendingEvent) error {
		pending = append(pending, p)
		return nil
	}); err != nil {
		t.Fatalf("each pending: %v", err)
	}
	var kvs []kvEntry
	if err := d.EachKV(func(ns, key string, value []byte) error {
		kvs = append(kvs, kvEntry{ns, key, value})
		return nil
	}); err != nil {
		t.Fatalf("each kv: %v", err)
	}
	return pending, kvs
}

// testDump checks that a store.Dumper lists every kept event and plugin
// value, in order, with names a key or subject must escape, and nothing
// deleted or purged. A store that is no Dumper skips it.
func testDump(t *testing.T, s store.Store) {
	d, ok := s.(store.Dumper)
	if !ok {
		t.Skip("the store lists no kept events or plugin values (store.Dumper)")
	}
	pending, kvs := dumped(t, d)
	if len(pending)+len(kvs) != 0 {
		t.Fatalf("a new store lists %v and %v", pending, kvs)
	}
	p := func(instance, name string, seq uint64, payload string) store.PendingEvent {
		return store.PendingEvent{Instance: instance, Name: name, Seq: seq, Payload: []byte(payload)}
	}
	commit(t, s, &store.Batch{AddPending: []store.PendingEvent{
		p("order.7", "paid", 9, `{"amount": 12}`),
		p("order.7", "paid", 3, `1`),
		p("order.7", "a b.c*>", 5, `"x"`),
		p("b", "gone", 4, `null`),
		p("purged", "x", 6, `2`),
	}})
	commit(t, s, &store.Batch{DelPending: []store.PendingEvent{{Instance: "b", Name: "gone", Seq: 4}}, Purge: []string{"purged"}})
	for _, kv := range []kvEntry{{"plug.in", "k 1", []byte("v1")}, {"plug.in", "a", []byte{0, 1, 2}}, {"b", "x", []byte("y")}, {"b", "del", []byte("z")}} {
		if err := s.KVPut(kv.NS, kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KVPut("b", "del", nil); err != nil {
		t.Fatal(err)
	}

	pending, kvs = dumped(t, d)
	want := []store.PendingEvent{p("order.7", "a b.c*>", 5, `"x"`), p("order.7", "paid", 3, `1`), p("order.7", "paid", 9, `{"amount": 12}`)}
	if !slices.EqualFunc(pending, want, func(a, b store.PendingEvent) bool {
		return a.Instance == b.Instance && a.Name == b.Name && a.Seq == b.Seq && bytes.Equal(a.Payload, b.Payload)
	}) {
		t.Errorf("pending = %+v\nwant %+v", pending, want)
	}
	wantKV := []kvEntry{{"b", "x", []byte("y")}, {"plug.in", "a", []byte{0, 1, 2}}, {"plug.in", "k 1", []byte("v1")}}
	if !slices.EqualFunc(kvs, wantKV, func(a, b kvEntry) bool {
		return a.NS == b.NS && a.Key == b.Key && bytes.Equal(a.Value, b.Value)
	}) {
		t.Errorf("kv = %+v\nwant %+v", kvs, wantKV)
	}
}
