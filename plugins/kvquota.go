package plugins

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/orbit-sidecar/orbit/store"
)

// kvQuota keeps a plugin's key-value space under its manifest's kv_quota:
// the lengths of its keys and values added up. The count starts from the
// store's own (KVUsage) at the plugin's first write after a load and then
// follows every put, so that a check costs no scan of the namespace.
type kvQuota struct {
	limit   uint64
	printed string // the limit as the manifest says it, for refusals

	mu     sync.Mutex // guards used and loaded
	used   int64
	loaded bool

	// Puts of one key run one at a time, so that each sees the size of the
	// value it replaces; puts of different keys share only the count.
	keys [16]sync.Mutex
	seed maphash.Seed
}

func newKVQuota(limit uint64, printed string) *kvQuota {
	return &kvQuota{limit: limit, printed: printed, seed: maphash.MakeSeed()}
}

// errOverQuota is a put the quota refuses.
type errOverQuota struct {
	key         string
	delta, used int64
	quota       string // as the manifest says it
}

// Error says how much the put asked for and what is in use.
func (e errOverQuota) Error() string {
	return fmt.Sprintf("kv_put %q: %d more bytes would take the plugin's key-value space from %d bytes to over its kv_quota of %s (delete keys by putting empty values, or raise kv_quota in %s)",
		e.key, e.delta, e.used, e.quota, ManifestFile)
}

// put writes value under key in namespace ns unless that would take the
// namespace over the quota; an empty value deletes the key and frees its
// bytes.
func (q *kvQuota) put(kv KV, ns, key string, value []byte) error {
	lock := &q.keys[maphash.String(q.seed, key)%uint64(len(q.keys))]
	lock.Lock()
	defer lock.Unlock()
	if err := q.load(kv, ns); err != nil {
		return err
	}
	var old int64
	switch prev, err := kv.KVGet(ns, key); {
	case err == nil:
		old = int64(len(key) + len(prev))
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	var size int64
	if len(value) > 0 {
		size = int64(len(key) + len(value))
	} else {
		value = nil // the store deletes on nil
	}
	delta := size - old
	q.mu.Lock()
	if delta > 0 && q.used+delta > int64(q.limit) {
		used := q.used
		q.mu.Unlock()
		return errOverQuota{key: key, delta: delta, used: used, quota: q.printed}
	}
	q.used += delta // reserved before the write, so that concurrent puts cannot all fit
	q.mu.Unlock()
	if err := kv.KVPut(ns, key, value); err != nil {
		q.mu.Lock()
		q.used -= delta
		q.mu.Unlock()
		return err
	}
	return nil
}

// load reads the namespace's usage from the store once.
func (q *kvQuota) load(kv KV, ns string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.loaded {
		return nil
	}
	n, err := kv.KVUsage(ns)
	if err != nil {
		return err
	}
	q.used, q.loaded = n, true
	return nil
}
