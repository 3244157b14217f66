package memory

import (
	"bytes"
	"maps"
	"slices"

	"github.com/orbit-sidecar/orbit/store"
)

var _ store.Dumper = (*Store)(nil)

// EachPending calls fn with every kept event, by instance, name, then seq,
// outside the lock, so fn may write.
func (s *Store) EachPending(fn func(store.PendingEvent) error) error {
	var all []store.PendingEvent
	s.mu.RLock()
	for _, id := range slices.Sorted(maps.Keys(s.pending)) {
		byName := s.pending[id]
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			for _, p := range byName[name] {
				all = append(all, store.PendingEvent{Instance: id, Name: name, Seq: p.seq, Payload: bytes.Clone(p.payload)})
			}
		}
	}
	s.mu.RUnlock()
	for _, p := range all {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// EachKV calls fn with every plugin value, by namespace, then key, outside
// the lock.
func (s *Store) EachKV(fn func(ns, key string, value []byte) error) error {
	type kv struct {
		ns, key string
		value   []byte
	}
	var all []kv
	s.mu.RLock()
	for _, ns := range slices.Sorted(maps.Keys(s.kv)) {
		for _, key := range slices.Sorted(maps.Keys(s.kv[ns])) {
			all = append(all, kv{ns, key, bytes.Clone(s.kv[ns][key])})
		}
	}
	s.mu.RUnlock()
	for _, e := range all {
		if err := fn(e.ns, e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}
