package bolt

import (
	"bytes"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// writer applies encoded batches inside a write transaction. It belongs to
// the committer goroutine, so its key buffers are reused without locks;
// bbolt copies keys on Put, so reuse across puts is safe.
type writer struct {
	key, key2 []byte
	tx        *bbolt.Tx
	buckets   [numBuckets]*bbolt.Bucket
	// cursors serve the transaction's reads: a bbolt Get makes a new
	// cursor and grows its stack every time, a kept cursor reuses both.
	cursors [numBuckets]*bbolt.Cursor
	// newest is, for each instance upserted in this transaction, its last
	// upsert: the earlier ones are skipped (see coalesce).
	newest map[string]upsertRef
	// history gathers the transaction's events by instance, written as
	// chunks when it ends (see putHistory).
	history historyWriter
}

// upsertRef is the i-th instance upsert of a batch.
type upsertRef struct {
	e *encoded
	i int
}

func (w *writer) begin(tx *bbolt.Tx) { w.tx = tx }

// end drops the transaction and its bucket handles, which die with it.
func (w *writer) end() {
	w.tx = nil
	clear(w.buckets[:])
	clear(w.cursors[:])
	clear(w.newest)
	w.history.reset()
}

// coalesce notes e's upserts before the transaction applies anything: an
// instance checkpointed several times in one transaction is written once,
// by its last upsert. Skipping the earlier ones is exact: an upsert
// replaces the whole record, and moves the index entries by comparing
// with what is stored, not with what an earlier upsert wrote; a purge
// between them still applies in its place.
func (w *writer) coalesce(e *encoded) {
	if w.newest == nil {
		w.newest = make(map[string]upsertRef)
	}
	for i := range e.instances {
		w.newest[e.instances[i].id] = upsertRef{e, i}
	}
}

// bucket opens a bucket on first use: opening costs allocations, and a
// typical checkpoint touches only a few of them.
func (w *writer) bucket(id bucketID) *bbolt.Bucket {
	if w.buckets[id] == nil {
		w.buckets[id] = bucket(w.tx, id)
		w.buckets[id].FillPercent = fillPercent
	}
	return w.buckets[id]
}

// get is bucket(id).Get(k) through the bucket's kept cursor. A Seek
// searches from the root through the nodes this transaction changed, so
// the kept cursor sees the transaction's own puts and deletes.
func (w *writer) get(id bucketID, k []byte) []byte {
	if got, v := w.cursor(id).Seek(k); bytes.Equal(got, k) {
		return v
	}
	return nil
}

// cursor is the bucket's kept cursor.
func (w *writer) cursor(id bucketID) *bbolt.Cursor {
	if w.cursors[id] == nil {
		w.cursors[id] = w.bucket(id).Cursor()
	}
	return w.cursors[id]
}

// fillPercent packs pages fuller than bbolt's default of one half. Most
// keys here grow at the end (time-ordered ids, start and end times,
// sequence numbers), where half-full pages would stay half empty for good
// and double both the file and the pages a process keeps mapped.
const fillPercent = 0.9

// apply writes one batch. Parts apply in the order of the Batch fields, so
// a purge in the same batch as an upsert wins.
func (w *writer) apply(e *encoded) error {
	for i := range e.instances {
		if r, ok := w.newest[e.instances[i].id]; ok && (r.e != e || r.i != i) {
			continue // a later upsert in this transaction replaces it
		}
		if err := w.upsert(e, &e.instances[i]); err != nil {
			return err
		}
	}
	for i := range e.events {
		w.history.add(e, &e.events[i])
	}
	for _, t := range e.setTimers {
		w.timerKeys(t)
		if err := putBoth(w.bucket(bTimers), w.key, w.bucket(bInstanceTimers), w.key2); err != nil {
			return fmt.Errorf("timer of %q: %w", t.Instance, err)
		}
	}
	for _, t := range e.delTimers {
		w.timerKeys(t)
		if err := deleteBoth(w.bucket(bTimers), w.key, w.bucket(bInstanceTimers), w.key2); err != nil {
			return fmt.Errorf("timer of %q: %w", t.Instance, err)
		}
	}
	for i := range e.addPending {
		if err := w.addPending(e, &e.addPending[i]); err != nil {
			return err
		}
	}
	for _, p := range e.delPending {
		w.key = appendPendingKey(w.key[:0], p.instance, p.name, p.seq)
		if err := w.bucket(bPending).Delete(w.key); err != nil {
			return fmt.Errorf("pending event of %q: %w", p.instance, err)
		}
	}
	for _, b := range e.bundles {
		w.key = append(w.key[:0], b.hash...)
		if err := w.bucket(bBundles).Put(w.key, e.value(b.value)); err != nil {
			return fmt.Errorf("bundle %s: %w", b.hash, err)
		}
	}
	for _, h := range e.delBundles {
		w.key = append(w.key[:0], h...)
		if err := w.bucket(bBundles).Delete(w.key); err != nil {
			return fmt.Errorf("bundle %s: %w", h, err)
		}
	}
	for _, id := range e.purge {
		if err := w.purge(id); err != nil {
			return fmt.Errorf("purge %q: %w", id, err)
		}
	}
	for _, kv := range e.kv {
		if err := w.putKV(e, kv); err != nil {
			return fmt.Errorf("kv %s/%s: %w", kv.ns, kv.key, err)
		}
	}
	return nil
}

// timerKeys puts a timer's key in the due-time index in w.key and its key
// in the per-instance index in w.key2.
func (w *writer) timerKeys(t store.Timer) {
	at := store.UnixNanos(t.At)
	w.key = appendTimerKey(w.key[:0], at, t.Instance, t.Kind)
	w.key2 = appendInstanceTimerKey(w.key2[:0], t.Instance, at, t.Kind)
}

// upsert writes a record and moves its index entries when the times they
// are keyed by changed.
func (w *writer) upsert(e *encoded, in *encInstance) error {
	w.key = append(w.key[:0], in.id...)
	if start, end, ok := parseHeader(w.get(bInstances, w.key)); ok {
		if err := w.dropIndexes(in.id, start, end, start != in.start, end != in.end); err != nil {
			return fmt.Errorf("instance %q: %w", in.id, err)
		}
	}
	w.key = append(w.key[:0], in.id...)
	listVal := e.value(in.listVal)
	err := w.bucket(bInstances).Put(w.key, e.value(in.record))
	if err == nil {
		if in.terminal {
			err = w.bucket(bUnfinished).Delete(w.key)
		} else {
			err = w.putChanged(bUnfinished, w.key, listVal[:in.statusLen])
		}
	}
	if err == nil {
		w.key2 = appendListKey(w.key2[:0], in.start, in.id)
		err = w.putChanged(bList, w.key2, listVal)
	}
	if err == nil && in.end != 0 {
		w.key2 = appendEndedKey(w.key2[:0], in.end, in.id)
		err = w.putChanged(bEnded, w.key2, empty)
	}
	if err != nil {
		return fmt.Errorf("instance %q: %w", in.id, err)
	}
	return nil
}

// putChanged skips a put that would not change the value. Most checkpoints
// keep an instance's status, workflow and times; skipping leaves those
// index pages clean, so the commit writes (and syncs) fewer pages.
func (w *writer) putChanged(id bucketID, k, v []byte) error {
	if old := w.get(id, k); old != nil && bytes.Equal(old, v) {
		return nil
	}
	return w.bucket(id).Put(k, v)
}

// dropIndexes removes the list and ended entries keyed by an old record's
// times.
func (w *writer) dropIndexes(id string, start, end uint64, dropList, dropEnded bool) error {
	if dropList {
		w.key2 = appendListKey(w.key2[:0], start, id)
		if err := w.bucket(bList).Delete(w.key2); err != nil {
			return err
		}
	}
	if dropEnded && end != 0 {
		w.key2 = appendEndedKey(w.key2[:0], end, id)
		if err := w.bucket(bEnded).Delete(w.key2); err != nil {
			return err
		}
	}
	return nil
}

// addPending keys an event by arrival. A caller-chosen seq pushes the
// bucket's sequence past it, so later store-chosen ones still sort after.
func (w *writer) addPending(e *encoded, p *encPending) error {
	seq := p.seq
	var err error
	if seq == 0 { // the committer numbers them; a batch from elsewhere may not be
		seq, err = w.bucket(bPending).NextSequence()
	} else if seq > w.bucket(bPending).Sequence() {
		err = w.bucket(bPending).SetSequence(seq)
	}
	if err == nil {
		w.key = appendPendingKey(w.key[:0], p.instance, p.name, seq)
		err = w.bucket(bPending).Put(w.key, e.value(p.payload))
	}
	if err != nil {
		return fmt.Errorf("pending event of %q: %w", p.instance, err)
	}
	return nil
}

// purge removes an instance with everything kept for it.
func (w *writer) purge(id string) error {
	w.key = append(w.key[:0], id...)
	if start, end, ok := parseHeader(w.bucket(bInstances).Get(w.key)); ok {
		if err := w.dropIndexes(id, start, end, true, true); err != nil {
			return err
		}
	}
	w.key = append(w.key[:0], id...)
	if err := deleteBoth(w.bucket(bInstances), w.key, w.bucket(bUnfinished), w.key); err != nil {
		return err
	}
	w.history.drop(id) // what this transaction wrote before the purge goes with it
	w.key = appendPrefix(w.key[:0], id)
	if err := deletePrefix(w.bucket(bHistory), w.key); err != nil {
		return err
	}
	if err := deletePrefix(w.bucket(bPending), w.key); err != nil {
		return err
	}
	c := w.bucket(bInstanceTimers).Cursor()
	for k, _ := c.Seek(w.key); k != nil && bytes.HasPrefix(k, w.key); k, _ = c.Seek(w.key) {
		w.key2 = appendTimerKeyFromInstanceKey(w.key2[:0], k, len(w.key))
		if err := w.bucket(bTimers).Delete(w.key2); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) putKV(e *encoded, kv encKV) error {
	w.key = append(w.key[:0], kv.ns...)
	if kv.del {
		ns := w.bucket(bKV).Bucket(w.key)
		if ns == nil {
			return nil
		}
		w.key = append(w.key[:0], kv.key...)
		return ns.Delete(w.key)
	}
	ns, err := w.bucket(bKV).CreateBucketIfNotExists(w.key)
	if err != nil {
		return err
	}
	w.key = append(w.key[:0], kv.key...)
	return ns.Put(w.key, e.value(kv.value))
}

// deletePrefix removes every key that starts with prefix. It seeks afresh
// after each delete because a bbolt cursor may skip an entry when Next
// follows Delete.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func putBoth(a *bbolt.Bucket, ka []byte, b *bbolt.Bucket, kb []byte) error {
	if err := a.Put(ka, empty); err != nil {
		return err
	}
	return b.Put(kb, empty)
}

func deleteBoth(a *bbolt.Bucket, ka []byte, b *bbolt.Bucket, kb []byte) error {
	if err := a.Delete(ka); err != nil {
		return err
	}
	return b.Delete(kb)
}
