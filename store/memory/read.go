package memory

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

const defaultLimit = 100

// Instance reads one instance.
func (s *Store) Instance(id string) (*store.Instance, error) {
	s.mu.RLock()
	r, ok := s.instances[id]
	s.mu.RUnlock()
	if !ok {
		return nil, store.ErrNotFound
	}
	return copyInstance(r.in), nil
}

// Has reports whether the store holds instance id.
func (s *Store) Has(id string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.instances[id]
	return ok, nil
}

// listed is an instance in List's order: newest start first, then by id.
type listed struct {
	start uint64
	id    string
	in    *store.Instance
}

func compareListed(a, b listed) int {
	return cmp.Or(cmp.Compare(b.start, a.start), strings.Compare(a.id, b.id))
}

// List returns instances newest first, and the cursor of the next page (""
// at the end). The cursor is the position of the page's last instance, so
// pages stay stable while new instances start.
func (s *Store) List(q store.Query) ([]*store.Instance, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	var after *listed
	if q.Cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(c) < 8 {
			return nil, "", fmt.Errorf("%w %q: take next_cursor from a previous page", store.ErrBadCursor, q.Cursor)
		}
		after = &listed{start: binary.BigEndian.Uint64(c), id: string(c[8:])}
	}
	var hits []listed
	s.mu.RLock()
	for id, r := range s.instances {
		l := listed{start: r.start, id: id, in: r.in}
		if q.Matches(&r.in.Public) && (after == nil || compareListed(*after, l) < 0) {
			hits = append(hits, l)
		}
	}
	s.mu.RUnlock()

	slices.SortFunc(hits, compareListed)
	var next string
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = base64.RawURLEncoding.EncodeToString(append(binary.BigEndian.AppendUint64(nil, last.start), last.id...))
	}
	out := make([]*store.Instance, len(hits))
	for i, l := range hits {
		out[i] = copyInstance(l.in)
	}
	return out, next, nil
}

// Count counts the instances q selects by workflow, version and status.
func (s *Store) Count(q store.Query) ([]store.Tally, error) {
	idx := map[store.Tally]int{}
	var out []store.Tally
	s.mu.RLock()
	for _, r := range s.instances {
		if !q.Matches(&r.in.Public) {
			continue
		}
		k := store.Tally{Workflow: r.in.Workflow, Version: r.in.Version, Status: r.in.Status}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, k)
		}
		out[i].Count++
	}
	s.mu.RUnlock()
	store.SortTallies(out)
	return out, nil
}

// History returns an instance's events with seq > after, at most limit
// (0: all).
func (s *Store) History(id string, after uint64, limit int) ([]store.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.history[id]
	i, found := searchSeq(h, after, seqOfEvent)
	if found {
		i++
	}
	h = h[i:]
	if limit > 0 && len(h) > limit {
		h = h[:limit]
	}
	if len(h) == 0 {
		return nil, nil
	}
	out := make([]store.Event, len(h))
	for i, ev := range h {
		out[i] = copyEvent(ev)
	}
	return out, nil
}

// Pending returns the oldest kept event of that name for the instance.
func (s *Store) Pending(instance, name string) (*store.PendingEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	q := s.pending[instance][name]
	if len(q) == 0 {
		return nil, store.ErrNotFound
	}
	p := &store.PendingEvent{Instance: instance, Name: name, Seq: q[0].seq}
	if len(q[0].payload) > 0 {
		p.Payload = bytes.Clone(q[0].payload)
	}
	return p, nil
}

// PendingSize counts the kept events of an instance and their payload
// bytes.
func (s *Store) PendingSize(instance string) (events int, size int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, q := range s.pending[instance] {
		for _, p := range q {
			events++
			size += int64(len(p.payload))
		}
	}
	return events, size, nil
}

// Bundle reads kept bundle sources.
func (s *Store) Bundle(hash string) (*store.BundleSources, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bs, ok := s.bundles[hash]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := copyBundle(bs)
	return &c, nil
}

// Bundles lists kept bundles, oldest first.
func (s *Store) Bundles() ([]store.BundleSources, error) {
	s.mu.RLock()
	all := make([]store.BundleSources, 0, len(s.bundles))
	for _, bs := range s.bundles {
		all = append(all, copyBundle(bs))
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b store.BundleSources) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), strings.Compare(a.Hash, b.Hash))
	})
	return all, nil
}

// KVGet reads a plugin's value.
func (s *Store) KVGet(ns, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.kv[ns][key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return bytes.Clone(v), nil
}

// KVUsage sums the lengths of a namespace's keys and values.
func (s *Store) KVUsage(ns string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for k, v := range s.kv[ns] {
		n += int64(len(k) + len(v))
	}
	return n, nil
}

// unfinished is one entry that Unfinished reports.
type unfinished struct {
	id     string
	status store.Status
}

// Unfinished calls fn with the id and status of every instance that has not
// ended, by id.
func (s *Store) Unfinished(fn func(id string, status store.Status) error) error {
	var all []unfinished
	s.mu.RLock()
	for id, r := range s.instances {
		if !r.in.Status.Terminal() {
			all = append(all, unfinished{id, r.in.Status})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b unfinished) int { return strings.Compare(a.id, b.id) })
	for _, u := range all {
		if err := fn(u.id, u.status); err != nil {
			return err
		}
	}
	return nil
}

// Timers calls fn with every timer, earliest first; timers due at the same
// instant come by instance, then kind.
func (s *Store) Timers(fn func(store.Timer) error) error {
	type timer struct {
		at             uint64
		instance, kind string
	}
	var all []timer
	s.mu.RLock()
	for instance, ts := range s.timers {
		for k := range ts {
			all = append(all, timer{k.at, instance, k.kind})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b timer) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.instance, b.instance), strings.Compare(a.kind, b.kind))
	})
	for _, t := range all {
		if err := fn(store.Timer{At: store.FromUnixNanos(t.at), Instance: t.instance, Kind: t.kind}); err != nil {
			return err
		}
	}
	return nil
}

// Ended calls fn with ids of terminal instances that ended before t, oldest
// end first.
func (s *Store) Ended(before time.Time, fn func(id string) error) error {
	limit := store.UnixNanos(before)
	type ended struct {
		end uint64
		id  string
	}
	var all []ended
	s.mu.RLock()
	for id, r := range s.instances {
		if r.end != 0 && r.end < limit {
			all = append(all, ended{r.end, id})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b ended) int { return cmp.Or(cmp.Compare(a.end, b.end), strings.Compare(a.id, b.id)) })
	for _, e := range all {
		if err := fn(e.id); err != nil {
			return err
		}
	}
	return nil
}
