// Package memory is a store.Store that keeps everything in the process's
// memory: for benchmarks that measure the engine without a disk, for tests,
// and for throwaway runs. Nothing survives the process.
//
// It behaves like store/bolt wherever a caller can tell: the same
// validation, orders, stable list pages and copying, so that what passes on
// it passes on the default store.
//
// Writes. Commit validates the batch before taking the lock, then applies
// it whole under one lock, which is what makes it atomic. Writes touch plain
// maps and append to per-instance slices only, so a checkpoint costs a few
// map operations per item whatever the store holds. There is nothing to
// group: every Commit is one commit and one checkpoint in Stats.
//
// Reads. The orders of List, Unfinished, Timers, Ended and Bundles are made
// by sorting at read time, which is where this design pays for its cheap
// writes. Unfinished, Timers and Ended copy what they report and call back
// after the lock is released, so a callback may Commit.
//
// Everything kept is a deep copy of what the caller passed, and everything
// returned is a deep copy of what is kept: callers reuse their batches and
// records, and may change what they read. Records are kept as values and
// never decoded, so none can be damaged: store.ErrDamaged never arises
// here, and storetest.RunDamaged does not apply.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/orbit-sidecar/orbit/store"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store is closed")

// Store is a store.Store held in memory. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	closed bool
	stats  store.Stats

	instances  map[string]record
	history    map[string][]store.Event             // by instance, sorted by seq
	timers     map[string]map[timerKey]struct{}     // by instance
	pending    map[string]map[string][]pendingEvent // by instance and name, sorted by seq
	pendingSeq uint64                               // the last seq the store chose or was given
	bundles    map[string]store.BundleSources
	kv         map[string]map[string][]byte
}

var _ store.Store = (*Store)(nil)

// record is a kept instance with the keys that List and Ended order it by.
// The instance is never changed in place, only replaced, so a reader may
// copy it after releasing the lock.
type record struct {
	in         *store.Instance
	start, end uint64
}

// timerKey is what identifies a timer within its instance, as in bolt: the
// instant in nanoseconds, so equal instants in other locations are one key.
type timerKey struct {
	at   uint64
	kind string
}

type pendingEvent struct {
	seq     uint64
	payload []byte
}

// New returns an empty store.
func New() *Store {
	return &Store{
		instances: map[string]record{},
		history:   map[string][]store.Event{},
		timers:    map[string]map[timerKey]struct{}{},
		pending:   map[string]map[string][]pendingEvent{},
		bundles:   map[string]store.BundleSources{},
		kv:        map[string]map[string][]byte{},
	}
}

// Commit applies the batch atomically. b is copied before Commit returns
// and may be reused at once. A batch that fails validation writes nothing.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	if err := b.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.apply(b)
	s.stats.Commits++
	s.stats.Checkpoints++
	return nil
}

// apply writes a valid batch. Parts apply in the order of the Batch fields,
// as in bolt, so a purge in the same batch as an upsert wins.
func (s *Store) apply(b *store.Batch) {
	for _, in := range b.Instances {
		s.instances[in.ID] = record{in: copyInstance(in), start: store.UnixNanos(in.StartedAt), end: endNanos(in)}
	}
	for _, ev := range b.Events {
		s.history[ev.Instance] = insertBySeq(s.history[ev.Instance], copyEvent(ev), seqOfEvent)
	}
	for _, t := range b.SetTimers {
		ts := s.timers[t.Instance]
		if ts == nil {
			ts = map[timerKey]struct{}{}
			s.timers[t.Instance] = ts
		}
		ts[timerKey{store.UnixNanos(t.At), t.Kind}] = struct{}{}
	}
	for _, t := range b.DelTimers {
		if ts := s.timers[t.Instance]; ts != nil {
			delete(ts, timerKey{store.UnixNanos(t.At), t.Kind})
			if len(ts) == 0 {
				delete(s.timers, t.Instance)
			}
		}
	}
	for _, p := range b.AddPending {
		s.addPending(p)
	}
	for _, p := range b.DelPending {
		s.delPending(p)
	}
	for _, bs := range b.Bundles {
		s.bundles[bs.Hash] = copyBundle(bs)
	}
	for _, h := range b.DeleteBundles {
		delete(s.bundles, h)
	}
	for _, id := range b.Purge {
		delete(s.instances, id)
		delete(s.history, id)
		delete(s.timers, id)
		delete(s.pending, id)
	}
}

// addPending keys an event by arrival. A caller-chosen seq pushes the
// store's sequence past it, so later store-chosen ones still sort after.
func (s *Store) addPending(p store.PendingEvent) {
	seq := p.Seq
	if seq == 0 {
		s.pendingSeq++
		seq = s.pendingSeq
	} else {
		s.pendingSeq = max(s.pendingSeq, seq)
	}
	byName := s.pending[p.Instance]
	if byName == nil {
		byName = map[string][]pendingEvent{}
		s.pending[p.Instance] = byName
	}
	byName[p.Name] = insertBySeq(byName[p.Name], pendingEvent{seq, bytes.Clone(p.Payload)}, seqOfPending)
}

// delPending drops one consumed event, and the maps that held only it, so
// that instances that come and go leave nothing behind.
func (s *Store) delPending(p store.PendingEvent) {
	byName := s.pending[p.Instance]
	q := byName[p.Name]
	i, found := searchSeq(q, p.Seq, seqOfPending)
	if !found {
		return
	}
	if q = slices.Delete(q, i, i+1); len(q) > 0 {
		byName[p.Name] = q
		return
	}
	delete(byName, p.Name)
	if len(byName) == 0 {
		delete(s.pending, p.Instance)
	}
}

// KVPut writes a plugin's value; a nil value deletes the key. Like bolt, it
// counts as a commit but not as a checkpoint.
func (s *Store) KVPut(ns, key string, value []byte) error {
	if ns == "" || key == "" {
		return errors.New("kv: namespace and key must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stats.Commits++
	if value == nil {
		delete(s.kv[ns], key)
		if len(s.kv[ns]) == 0 {
			delete(s.kv, ns)
		}
		return nil
	}
	if s.kv[ns] == nil {
		s.kv[ns] = map[string][]byte{}
	}
	s.kv[ns][key] = bytes.Clone(value)
	return nil
}

// Stats reports commits and checkpoints; they differ only by KV puts.
func (s *Store) Stats() store.Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

// Close makes later writes fail with ErrClosed; reads keep answering from
// what was kept. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// copyInstance copies a record deeply: Clone shares raw JSON, times and
// waits, which callers change in place.
func copyInstance(in *store.Instance) *store.Instance {
	c := in.Clone()
	c.Input, c.Output, c.Data = bytes.Clone(in.Input), bytes.Clone(in.Output), bytes.Clone(in.Data)
	c.Vars, c.Outer = bytes.Clone(in.Vars), bytes.Clone(in.Outer)
	for k, v := range c.Collected {
		c.Collected[k] = bytes.Clone(v)
	}
	c.EndedAt, c.Deadline = clonePtr(in.EndedAt), clonePtr(in.Deadline)
	c.Waiting, c.PausedWaiting = copyWaiting(in.Waiting), copyWaiting(in.PausedWaiting)
	return c
}

func copyWaiting(w *store.WaitingFor) *store.WaitingFor {
	c := clonePtr(w)
	if c != nil {
		c.Until = clonePtr(w.Until)
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func copyEvent(ev store.Event) store.Event {
	ev.Input, ev.Output = bytes.Clone(ev.Input), bytes.Clone(ev.Output)
	return ev
}

func copyBundle(bs store.BundleSources) store.BundleSources {
	files := bs.Files
	bs.Files = make(map[string][]byte, len(files))
	for name, src := range files {
		bs.Files[name] = bytes.Clone(src)
	}
	return bs
}

func seqOfEvent(ev store.Event) uint64   { return ev.Seq }
func seqOfPending(p pendingEvent) uint64 { return p.seq }

// searchSeq finds seq in s, which is sorted by seq; i is where it is or
// would go.
func searchSeq[T any](s []T, seq uint64, seqOf func(T) uint64) (i int, found bool) {
	return slices.BinarySearchFunc(s, seq, func(e T, seq uint64) int { return cmp.Compare(seqOf(e), seq) })
}

// insertBySeq keeps s sorted by seq. An equal seq replaces the kept entry,
// as a put of the same key does in bolt. Seqs mostly arrive in order, so
// the common case is an append without a search.
func insertBySeq[T any](s []T, v T, seqOf func(T) uint64) []T {
	seq := seqOf(v)
	if len(s) == 0 || seqOf(s[len(s)-1]) < seq {
		return append(s, v)
	}
	i, found := searchSeq(s, seq, seqOf)
	if found {
		s[i] = v
		return s
	}
	return slices.Insert(s, i, v)
}

// endNanos is when a terminal instance ended, for Ended, or 0 while it has
// not; an instance without EndedAt counts from its last update, as in bolt.
func endNanos(in *store.Instance) uint64 {
	if !in.Status.Terminal() {
		return 0
	}
	return max(store.UnixNanos(in.EndTime()), 1)
}
