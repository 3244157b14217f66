package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// History is kept in chunks: one bbolt entry holds a run of an instance's
// events with consecutive sequence numbers (up to maxChunk bytes), so
// that the applier inserts a key for a few events where it used to
// insert one per event (a three-step workflow has fourteen).
//
// A chunk's key is "id 0x00 last" when it holds the one event last, and
// "id 0x00 last first" when it holds first to last; its value is the
// events' JSON objects one after the other. Files written before chunks
// existed hold one event per key, which is a chunk of one: they read
// unchanged. Chunks of one instance never overlap (the applier trims a
// stored chunk that a new one rewrites part of), so the chunk that holds
// an event is the first one whose last event is at or after it: a
// forward Seek finds it. (Keyed by their first event, chunks would need
// a step back from the one found, and a bbolt cursor does not step back
// reliably over the pages a write transaction has emptied.)

// appendChunkKey is the key of the chunk of events first to last.
func appendChunkKey(dst []byte, id string, first, last uint64) []byte {
	dst = appendHistoryKey(dst, id, last)
	if last != first {
		dst = binary.BigEndian.AppendUint64(dst, first)
	}
	return dst
}

// parseChunkKey reads the events a chunk holds from its key, whose
// instance prefix ("id 0x00") has prefixLen bytes.
func parseChunkKey(k []byte, prefixLen int) (first, last uint64, ok bool) {
	switch len(k) - prefixLen {
	case 8:
		last = binary.BigEndian.Uint64(k[prefixLen:])
		return last, last, last != 0
	case 16:
		last, first = binary.BigEndian.Uint64(k[prefixLen:]), binary.BigEndian.Uint64(k[prefixLen+8:])
		return first, last, first != 0 && last > first
	}
	return 0, 0, false
}

// seekChunk positions c at the chunk of the instance whose key starts
// with prefix that holds event seq, or else at its first chunk after seq,
// and returns that chunk; k is nil or outside prefix when there is none.
func seekChunk(c *bbolt.Cursor, prefix []byte, seq uint64, key []byte) (k, v []byte) {
	return c.Seek(binary.BigEndian.AppendUint64(append(key[:0], prefix...), seq))
}

// errNotObject is a chunk's byte that cannot start an event.
var errNotObject = errors.New("no whole JSON object starts there")

// objectEnd returns the length of the JSON object at the start of b
// (after white space), or -1 if b holds no whole one. It only finds where
// the object ends; json.Unmarshal of what it delimits checks the rest.
func objectEnd(b []byte) int {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return -1
	}
	depth, inString := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// splitChunk appends to offs the end of each of the n events of chunk v.
// A chunk that does not hold n objects and nothing more is damaged: the
// error says at which byte.
func splitChunk(v []byte, n uint64, offs []int) ([]int, error) {
	off := 0
	for range n {
		end := objectEnd(v[off:])
		if end < 0 {
			return offs, fmt.Errorf("at byte %d: %w", off, errNotObject)
		}
		off += end
		offs = append(offs, off)
	}
	if len(bytes.TrimLeft(v[off:], " \t\r\n")) > 0 {
		return offs, fmt.Errorf("%d bytes follow its last event, from byte %d", len(v)-off, off)
	}
	return offs, nil
}

// chunkReader decodes one instance's history chunks in key order.
type chunkReader struct {
	id     string
	prefix int    // length of the key prefix "id 0x00"
	read   uint64 // the last event read, so that an overlap is seen
	offs   []int
}

// chunk decodes the events of one chunk and calls fn with each whose seq
// is above after. Anything that does not read as the events the key names
// is a *store.DamagedError that says which events and which byte.
func (r *chunkReader) chunk(k, v []byte, after uint64, fn func(ev *store.Event) error) error {
	first, last, ok := parseChunkKey(k, r.prefix)
	if !ok {
		return &store.DamagedError{Instance: r.id, Record: "history", Err: fmt.Errorf("malformed key %x", k)}
	}
	damaged := func(seq uint64, err error) error {
		if first != last {
			err = fmt.Errorf("in the chunk of events %d to %d: %w", first, last, err)
		}
		return &store.DamagedError{Instance: r.id, Record: fmt.Sprintf("event %d", seq), Err: err}
	}
	if first <= r.read {
		return damaged(first, fmt.Errorf("the chunk before it holds events up to %d: they overlap", r.read))
	}
	r.read = last
	var err error
	if r.offs, err = splitChunk(v, last-first+1, r.offs[:0]); err != nil {
		return damaged(min(first+uint64(len(r.offs)), last), err)
	}
	start := 0
	for i, end := range r.offs {
		seq := first + uint64(i)
		if seq <= after {
			start = end
			continue
		}
		var ev store.Event
		if err := json.Unmarshal(v[start:end], &ev); err != nil {
			return damaged(seq, fmt.Errorf("at byte %d: %w", start, err))
		}
		if ev.Seq != seq {
			// An event that decodes but names another place in the
			// history is as damaged as one that does not decode.
			return damaged(seq, fmt.Errorf("it holds event %d", ev.Seq))
		}
		ev.Instance = r.id
		if err := fn(&ev); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// maxChunk bounds a chunk's bytes (a single event may exceed it). bbolt
// splits a node no finer than two entries a page, so a page holds two
// chunks of 1.8 KB but only one of 2 KB: a history of ten 260-byte events
// in one chunk took 42% more pages than with one key per event, in
// chunks of at most 1 KiB as many. Small chunks also keep a read of one
// page of a long history (an import) from decoding all of it.
const maxChunk = 1 << 10

// maxArena is the most a historyWriter's arena keeps from one window to
// the next: a busy window joins a few hundred KB of events.
const maxArena = 512 << 10

// histEvent is an event a transaction writes: its seq and where its JSON
// is in the buffer of the batch that brought it.
type histEvent struct {
	seq uint64
	e   *encoded
	s   span
}

func bySeq(a, b histEvent) int { return cmp.Compare(a.seq, b.seq) }

// historyWriter gathers the events of one transaction by instance, so
// that each instance's run of events becomes one chunk when the
// transaction ends. It belongs to the writer and is reused.
type historyWriter struct {
	index  map[string]int // instance -> its place in ids and events
	ids    []string
	events [][]histEvent
	order  []int // of ids, by id
	// arena holds the values of chunks joined from several batches. bbolt
	// keeps a value until its transaction commits, so the arena is only
	// written again in the next one; when it grows, the values already
	// handed out stay in the old array.
	arena []byte
	offs  []int
}

// add notes an event of batch e.
func (h *historyWriter) add(e *encoded, ev *encEvent) {
	i, ok := h.index[ev.instance]
	if !ok {
		if h.index == nil {
			h.index = make(map[string]int)
		}
		i = len(h.ids)
		h.index[ev.instance] = i
		h.ids = append(h.ids, ev.instance)
		if i == len(h.events) {
			h.events = append(h.events, nil)
		}
	}
	h.events[i] = append(h.events[i], histEvent{seq: ev.seq, e: e, s: ev.value})
}

// drop forgets the events of an instance noted so far: a purge applied
// after them removes them.
func (h *historyWriter) drop(id string) {
	if i, ok := h.index[id]; ok {
		clear(h.events[i])
		h.events[i] = h.events[i][:0]
	}
}

func (h *historyWriter) reset() {
	clear(h.index)
	for i := range h.ids {
		clear(h.events[i])
		h.events[i] = h.events[i][:0]
	}
	clear(h.ids)
	h.ids = h.ids[:0]
	if cap(h.arena) > maxArena {
		h.arena = nil // a rare large window does not pin its memory
	}
	h.arena = h.arena[:0]
}

// inOneBatch reports whether evs are events that one batch encoded one
// after the other, and so already a chunk's value in that batch's buffer.
func inOneBatch(evs []histEvent) bool {
	e, end := evs[0].e, evs[0].s.end
	for _, ev := range evs[1:] {
		if ev.e != e || ev.s.off != end {
			return false
		}
		end = ev.s.end
	}
	return true
}

// chunkLen is how many of evs (sorted by seq, one per seq) the next chunk
// holds, and its bytes: a run of consecutive seqs of up to maxChunk bytes.
func chunkLen(evs []histEvent) (n, size int) {
	n, size = 1, evs[0].s.end-evs[0].s.off
	for n < len(evs) && evs[n].seq == evs[n-1].seq+1 && size+evs[n].s.end-evs[n].s.off <= maxChunk {
		size += evs[n].s.end - evs[n].s.off
		n++
	}
	return n, size
}

// value is the chunk of evs: the events' JSON one after the other. Events
// that one batch encoded one after the other are already that; others
// are joined in the arena.
func (h *historyWriter) value(evs []histEvent) []byte {
	if inOneBatch(evs) {
		first, last := evs[0], evs[len(evs)-1]
		return first.e.buf[first.s.off:last.s.end:last.s.end]
	}
	off := len(h.arena)
	for _, ev := range evs {
		h.arena = append(h.arena, ev.e.value(ev.s)...)
	}
	return h.arena[off:len(h.arena):len(h.arena)]
}

// keep copies b into the arena, for a value that must outlive the entry
// it was read from.
func (h *historyWriter) keep(b []byte) []byte {
	off := len(h.arena)
	h.arena = append(h.arena, b...)
	return h.arena[off:len(h.arena):len(h.arena)]
}

// putHistory writes the events gathered in the transaction: for each
// instance, in order of seq (a batch may list them in any order, and of
// two events with one seq the later one wins, as a put of the same key
// would), one chunk per run of consecutive seqs of up to maxChunk bytes.
func (w *writer) putHistory() error {
	h := &w.history
	// In key order: bbolt inserts into a node's sorted slice of entries,
	// and an insert at its end moves none of them.
	h.order = h.order[:0]
	for i := range h.ids {
		h.order = append(h.order, i)
	}
	slices.SortFunc(h.order, func(a, b int) int { return strings.Compare(h.ids[a], h.ids[b]) })
	// First the chunks are laid out, to count the bytes of those that join
	// several batches: the arena then grows once to hold them all, where
	// growing as they came copied it again at each doubling (a busy
	// durable window, whose instances checkpoint several times in it,
	// joins more than the arena keeps from one window to the next).
	joined := 0
	for _, i := range h.order {
		evs := h.events[i]
		if len(evs) == 0 {
			continue
		}
		if !slices.IsSortedFunc(evs, bySeq) {
			slices.SortStableFunc(evs, bySeq)
		}
		kept := evs[:0]
		for j := range evs {
			if j+1 < len(evs) && evs[j+1].seq == evs[j].seq {
				continue
			}
			kept = append(kept, evs[j])
		}
		clear(evs[len(kept):])
		h.events[i] = kept
		for evs = kept; len(evs) > 0; {
			n, size := chunkLen(evs)
			if !inOneBatch(evs[:n]) {
				joined += size
			}
			evs = evs[n:]
		}
	}
	h.arena = slices.Grow(h.arena, joined)
	for _, i := range h.order {
		id, evs := h.ids[i], h.events[i]
		for len(evs) > 0 {
			n, _ := chunkLen(evs)
			if err := w.putChunk(id, evs[:n]); err != nil {
				return fmt.Errorf("history of %q: %w", id, err)
			}
			evs = evs[n:]
		}
	}
	return nil
}

// putChunk writes one run of consecutive events as a chunk.
func (w *writer) putChunk(id string, evs []histEvent) error {
	first, last := evs[0].seq, evs[len(evs)-1].seq
	w.key = appendChunkKey(w.key[:0], id, first, last) // room for the seeks of trimOverlaps
	w.key2 = appendPrefix(w.key2[:0], id)
	if err := w.trimOverlaps(w.key2, first, last); err != nil {
		return err
	}
	w.key = appendChunkKey(w.key[:0], id, first, last)
	return w.bucket(bHistory).Put(w.key, w.history.value(evs))
}

// trimOverlaps makes room for a chunk of events first to last of the
// instance whose keys start with prefix: a stored chunk that holds any of
// them loses them, as a put of their keys replaced them when each event
// had its own, and keeps the others under new keys. The engine only
// appends, so this finds something only when a history is written again
// (an import run a second time); the common case costs one seek.
func (w *writer) trimOverlaps(prefix []byte, first, last uint64) error {
	c := w.cursor(bHistory)
	k, v := seekChunk(c, prefix, first, w.key)
	for k != nil && bytes.HasPrefix(k, prefix) {
		p, q, ok := parseChunkKey(k, len(prefix))
		if ok && p > last {
			return nil
		}
		var err error
		if ok {
			w.history.offs, err = splitChunk(v, q-p+1, w.history.offs[:0])
		}
		if !ok || err != nil {
			// Damaged: left as it is, for reads and verify to report.
			k, v = c.Next()
			continue
		}
		var head, tail []byte
		if p < first {
			head = w.history.keep(v[:w.history.offs[first-p-1]])
		}
		if q > last {
			tail = w.history.keep(bytes.TrimLeft(v[w.history.offs[last-p]:], " \t\r\n"))
		}
		if err := c.Delete(); err != nil {
			return err
		}
		if head != nil {
			w.key = appendChunkKey(w.key[:0], string(prefix[:len(prefix)-1]), p, first-1)
			if err := w.bucket(bHistory).Put(w.key, head); err != nil {
				return err
			}
		}
		if tail != nil {
			w.key = appendChunkKey(w.key[:0], string(prefix[:len(prefix)-1]), last+1, q)
			if err := w.bucket(bHistory).Put(w.key, tail); err != nil {
				return err
			}
		}
		k, v = seekChunk(c, prefix, first, w.key)
	}
	return nil
}
