package bolt

import (
	"bytes"
	"sync"

	"github.com/orbit-sidecar/orbit/store"
)

// overlay is what is logged but not yet applied to bbolt, for the reads
// that must see an acknowledged commit at once: instance records, kept
// bundles and plugin values, by key. Every other read first waits until
// bbolt holds everything acknowledged (DB.caughtUp): those are scans and
// history, which the step path does not make.
//
// Entries point into the logged jobs' buffers; the applier removes them
// before it lets those jobs go.
type overlay struct {
	mu        sync.RWMutex
	instances map[string]ovValue
	bundles   map[string]ovValue
	kv        map[kvKey]ovValue
}

// ovValue is the newest logged value of a key: part i of the job's batch,
// or a deletion when j is nil.
type ovValue struct {
	lsn uint64
	j   *job
	i   int
}

type kvKey struct{ ns, key string }

func newOverlay() *overlay {
	return &overlay{instances: map[string]ovValue{}, bundles: map[string]ovValue{}, kv: map[kvKey]ovValue{}}
}

// add records a logged group, in the order the applier will write it: a
// purge after an upsert in the same batch wins.
func (o *overlay) add(g *logged) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, j := range g.jobs {
		e := &j.enc
		for i := range e.instances {
			o.instances[e.instances[i].id] = ovValue{g.lsn, j, i}
		}
		for i := range e.bundles {
			o.bundles[e.bundles[i].hash] = ovValue{g.lsn, j, i}
		}
		for _, h := range e.delBundles {
			o.bundles[h] = ovValue{lsn: g.lsn}
		}
		for _, id := range e.purge {
			o.instances[id] = ovValue{lsn: g.lsn}
		}
		for i, kv := range e.kv {
			o.kv[kvKey{kv.ns, kv.key}] = ovValue{g.lsn, j, i}
		}
	}
}

// remove forgets the entries of groups that bbolt now holds, unless a
// later group replaced them.
func (o *overlay) remove(groups []*logged, applied uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, g := range groups {
		for _, j := range g.jobs {
			e := &j.enc
			for i := range e.instances {
				dropApplied(o.instances, e.instances[i].id, applied)
			}
			for i := range e.bundles {
				dropApplied(o.bundles, e.bundles[i].hash, applied)
			}
			for _, h := range e.delBundles {
				dropApplied(o.bundles, h, applied)
			}
			for _, id := range e.purge {
				dropApplied(o.instances, id, applied)
			}
			for _, kv := range e.kv {
				dropApplied(o.kv, kvKey{kv.ns, kv.key}, applied)
			}
		}
	}
}

func dropApplied[K comparable](m map[K]ovValue, k K, applied uint64) {
	if v, ok := m[k]; ok && v.lsn <= applied {
		delete(m, k)
	}
}

// instance reads a logged record; ok is false when the overlay does not
// have the instance and bbolt must be read.
func (o *overlay) instance(id string) (in *store.Instance, err error, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.instances[id]
	if !ok {
		return nil, nil, false
	}
	if v.j == nil {
		return nil, store.ErrNotFound, true
	}
	e := &v.j.enc
	in, err = decodeInstance(id, e.value(e.instances[v.i].record))
	return in, err, true
}

// has reports whether the logged record of an instance is held (false:
// purged); ok is false when the overlay does not have the instance and
// bbolt must be read.
func (o *overlay) has(id string) (held, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.instances[id]
	return ok && v.j != nil, ok
}

// bundle reads logged bundle sources, as instance does a record.
func (o *overlay) bundle(hash string) (bs *store.BundleSources, err error, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.bundles[hash]
	if !ok {
		return nil, nil, false
	}
	if v.j == nil {
		return nil, store.ErrNotFound, true
	}
	e := &v.j.enc
	bs, err = decodeBundle(hash, e.value(e.bundles[v.i].value))
	return bs, err, true
}

// kvValue reads a logged plugin value, as instance does a record.
func (o *overlay) kvValue(ns, key string) (val []byte, err error, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.kv[kvKey{ns, key}]
	if !ok {
		return nil, nil, false
	}
	kv := v.j.enc.kv[v.i]
	if kv.del {
		return nil, store.ErrNotFound, true
	}
	return bytes.Clone(v.j.enc.value(kv.value)), nil, true
}
