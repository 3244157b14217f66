package nats

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/orbit-sidecar/orbit/store"
)

const defaultLimit = 100

// errLagging is a scan that met a replica behind the leader; it is repeated.
var errLagging = errors.New("the replica behind the scan's consumer lags")

// get reads the message kept on a subject; a missing or deleted one is
// store.ErrNotFound.
func (s *Store) get(subject string) (*jetstream.RawStreamMsg, error) {
	var m *jetstream.RawStreamMsg
	err := s.retry(context.Background(), "read "+subject, func(ctx context.Context) error {
		var err error
		m, err = s.stream.GetLastMsgForSubject(ctx, subject)
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) || err == nil && deleted(m.Header) {
		return nil, store.ErrNotFound
	}
	return m, err
}

// Instance reads one instance.
func (s *Store) Instance(id string) (*store.Instance, error) {
	m, err := s.get(s.subj.record(id))
	if err != nil {
		return nil, err
	}
	return decodeInstance(id, m.Data)
}

// Has reports whether the store holds instance id, reading its record
// without decoding it.
func (s *Store) Has(id string) (bool, error) {
	_, err := s.get(s.subj.record(id))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func decodeInstance(id string, data []byte) (*store.Instance, error) {
	in := new(store.Instance)
	if err := json.Unmarshal(data, in); err != nil {
		return nil, &store.DamagedError{Instance: id, Record: "instance", Err: err}
	}
	return in, nil
}

// scan calls fn with the last message of every subject that matches
// filter, in stream order, through a short-lived consumer. With
// headersOnly the messages carry no data. fn runs while the scan holds
// its consumer; callers collect and call their own callbacks afterwards.
func (s *Store) scan(filter string, headersOnly bool, fn func(subject string, h natsgo.Header, data []byte)) error {
	return s.retry(context.Background(), "scan "+filter, func(ctx context.Context) error {
		return s.scanOnce(ctx, filter, headersOnly, fn)
	})
}

// walkGets is how many messages few walks reads one request at a time
// before it takes a consumer for the rest: a request per message is
// cheapest for an instance's short history or few pending events.
const walkGets = 32

// few calls fn with every message whose subject matches filter, in stream
// order (each subject holds one message). It suits filters that select a
// few messages, such as one instance's history.
func (s *Store) few(filter string, fn func(subject string, h natsgo.Header, data []byte)) error {
	var seq uint64 = 1
	for range walkGets {
		var m *jetstream.RawStreamMsg
		err := s.retry(context.Background(), "read "+filter, func(ctx context.Context) error {
			var err error
			m, err = s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
			return err
		})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(m.Subject, m.Header, m.Data)
		seq = m.Sequence + 1
	}
	return s.retry(context.Background(), "scan "+filter, func(ctx context.Context) error {
		return s.consume(ctx, filter, false, seq, fn)
	})
}

func (s *Store) scanOnce(ctx context.Context, filter string, headersOnly bool, fn func(string, natsgo.Header, []byte)) error {
	return s.consume(ctx, filter, headersOnly, 0, fn)
}

// consume reads through a short-lived consumer: the last message of every
// subject, or with from > 0 every message from that stream sequence on,
// and calls fn once per subject with the newest message seen.
//
// The consumer may sit on a replica that lags behind the leader. So the
// scan first writes a barrier message (through the leader, like every
// write) and reads until the barrier comes by. When the barrier is among
// what the consumer found at its creation, the replica had applied every
// write and purge acknowledged before the scan began, and the scan is
// exact; when it comes later, the replica lagged (it may have listed
// entries purged since), and the scan is repeated.
func (s *Store) consume(ctx context.Context, filter string, headersOnly bool, from uint64, fn func(string, natsgo.Header, []byte)) error {
	barrier := &natsgo.Msg{Subject: s.barrier, Header: natsgo.Header{}}
	barrier.Header.Set(hdrTTL, "1m")
	ack, err := s.js.PublishMsg(ctx, barrier)
	if err != nil {
		return err
	}
	policy := jetstream.DeliverLastPerSubjectPolicy
	if from > 0 {
		policy = jetstream.DeliverByStartSequencePolicy
	}
	cons, err := s.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects:    []string{filter, s.barrier},
		DeliverPolicy:     policy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       headersOnly,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	defer func() {
		// The consumer is gone after InactiveThreshold anyway; deleting it
		// at once keeps a busy API from piling them up.
		name := cons.CachedInfo().Name
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
			defer cancel()
			s.stream.DeleteConsumer(dctx, name)
		}()
	}()
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	type entry struct {
		subject string
		h       natsgo.Header
		data    []byte
	}
	var seen []entry
	index := map[string]int{}
	initial, delivered := cons.CachedInfo().NumPending, uint64(0)
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		delivered++
		subject := m.Subject()
		if subject == s.barrier {
			if md.Sequence.Stream < ack.Sequence {
				continue // an earlier scan's barrier
			}
			if delivered > initial {
				return errLagging
			}
			break
		}
		e := entry{subject, m.Headers(), m.Data()}
		if i, ok := index[subject]; ok {
			seen[i] = e
		} else {
			index[subject] = len(seen)
			seen = append(seen, e)
		}
	}
	for _, e := range seen {
		fn(e.subject, e.h, e.data)
	}
	return nil
}

// header is a record's index fields, read from its headers.
type header struct {
	id         string
	status     store.Status
	workflow   string
	version    string
	start, end uint64
}

// records reads every record's index fields.
func (s *Store) records() ([]header, error) {
	var out []header
	var bad error
	err := s.scan(s.subj.allRecords(), true, func(subject string, h natsgo.Header, _ []byte) {
		id, err := parseRecord(subject)
		if err != nil {
			bad = cmp.Or(bad, err)
			return
		}
		wf, err1 := unescape(h.Get(hdrWorkflow))
		ver, err2 := unescape(h.Get(hdrVersion))
		start, err3 := strconv.ParseUint(h.Get(hdrStart), 10, 64)
		var end uint64
		var err4 error
		if e := h.Get(hdrEnd); e != "" {
			end, err4 = strconv.ParseUint(e, 10, 64)
		}
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			bad = cmp.Or(bad, fmt.Errorf("record %s: %w", id, err))
			return
		}
		out = append(out, header{id: id, status: store.Status(h.Get(hdrStatus)), workflow: wf, version: ver, start: start, end: end})
	})
	return out, cmp.Or(err, bad)
}

func (h *header) public() *store.Public {
	return &store.Public{ID: h.id, Workflow: h.workflow, Version: h.version, Status: h.status}
}

// compareListed is List's order: newest start first, then by id.
func compareListed(a, b header) int {
	return cmp.Or(cmp.Compare(b.start, a.start), strings.Compare(a.id, b.id))
}

// List returns instances newest first, and the cursor of the next page (""
// at the end). The cursor is the position of the page's last instance, so
// pages stay stable while new instances start. Every call reads the index
// fields of all records; only the page's records are loaded.
func (s *Store) List(q store.Query) ([]*store.Instance, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	var after *header
	if q.Cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(c) < 8 {
			return nil, "", fmt.Errorf("%w %q: take next_cursor from a previous page", store.ErrBadCursor, q.Cursor)
		}
		after = &header{start: binary.BigEndian.Uint64(c), id: string(c[8:])}
	}
	all, err := s.records()
	if err != nil {
		return nil, "", err
	}
	hits := all[:0]
	for _, h := range all {
		if q.Matches(h.public()) && (after == nil || compareListed(*after, h) < 0) {
			hits = append(hits, h)
		}
	}
	slices.SortFunc(hits, compareListed)
	var next string
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = base64.RawURLEncoding.EncodeToString(append(binary.BigEndian.AppendUint64(nil, last.start), last.id...))
	}
	out := make([]*store.Instance, len(hits))
	errs := make([]error, len(hits))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, h := range hits {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = s.Instance(h.id)
		})
	}
	wg.Wait()
	// An instance purged between the scan and its load drops out of the
	// page; a damaged one is shown as a stub.
	kept := out[:0]
	for i, in := range out {
		switch {
		case errs[i] == nil:
			kept = append(kept, in)
		case errors.Is(errs[i], store.ErrDamaged):
			known := *hits[i].public()
			known.StartedAt = store.FromUnixNanos(hits[i].start)
			kept = append(kept, store.DamagedStub(known, errs[i]))
		case !errors.Is(errs[i], store.ErrNotFound):
			return nil, "", errs[i]
		}
	}
	return kept, next, nil
}

// Count counts the instances q selects by workflow, version and status.
func (s *Store) Count(q store.Query) ([]store.Tally, error) {
	all, err := s.records()
	if err != nil {
		return nil, err
	}
	idx := map[store.Tally]int{}
	var out []store.Tally
	for _, h := range all {
		if !q.Matches(h.public()) {
			continue
		}
		k := store.Tally{Workflow: h.workflow, Version: h.version, Status: h.status}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, k)
		}
		out[i].Count++
	}
	store.SortTallies(out)
	return out, nil
}

// Unfinished calls fn with the id and status of every instance that has
// not ended, by id.
func (s *Store) Unfinished(fn func(id string, status store.Status) error) error {
	all, err := s.records()
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b header) int { return strings.Compare(a.id, b.id) })
	for _, h := range all {
		if h.status.Terminal() {
			continue
		}
		if err := fn(h.id, h.status); err != nil {
			return err
		}
	}
	return nil
}

// Ended calls fn with ids of terminal instances that ended before t, oldest
// end first.
func (s *Store) Ended(before time.Time, fn func(id string) error) error {
	limit := store.UnixNanos(before)
	all, err := s.records()
	if err != nil {
		return err
	}
	hits := all[:0]
	for _, h := range all {
		if h.end != 0 && h.end < limit {
			hits = append(hits, h)
		}
	}
	slices.SortFunc(hits, func(a, b header) int { return cmp.Or(cmp.Compare(a.end, b.end), strings.Compare(a.id, b.id)) })
	for _, h := range hits {
		if err := fn(h.id); err != nil {
			return err
		}
	}
	return nil
}

// History returns an instance's events with seq > after, at most limit
// (0: all).
func (s *Store) History(id string, after uint64, limit int) ([]store.Event, error) {
	var out []store.Event
	var bad error
	err := s.few(s.subj.history(id), func(subject string, _ natsgo.Header, data []byte) {
		var ev store.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			bad = cmp.Or(bad, error(&store.DamagedError{Instance: id, Record: "event " + lastToken(subject), Err: err}))
			return
		}
		if ev.Seq > after {
			ev.Instance = id
			out = append(out, ev)
		}
	})
	if err := cmp.Or(err, bad); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Timers calls fn with every timer, earliest first; timers due at the same
// instant come by instance, then kind.
func (s *Store) Timers(fn func(store.Timer) error) error {
	type timer struct {
		at             uint64
		instance, kind string
	}
	var all []timer
	var bad error
	err := s.scan(s.subj.allTimers(), true, func(subject string, h natsgo.Header, _ []byte) {
		if deleted(h) {
			return
		}
		id, at, kind, err := parseTimer(subject)
		if err != nil {
			bad = cmp.Or(bad, err)
			return
		}
		all = append(all, timer{at, id, kind})
	})
	if err := cmp.Or(err, bad); err != nil {
		return err
	}
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

// Pending returns the oldest kept event of that name for the instance.
func (s *Store) Pending(instance, name string) (*store.PendingEvent, error) {
	var oldest *store.PendingEvent
	var bad error
	err := s.few(s.subj.pendingOf(instance, name), func(subject string, h natsgo.Header, data []byte) {
		if deleted(h) {
			return
		}
		seq, err := strconv.ParseUint(lastToken(subject), 10, 64)
		if err != nil {
			bad = cmp.Or(bad, fmt.Errorf("pending event %s: %w", subject, err))
			return
		}
		if oldest == nil || seq < oldest.Seq {
			oldest = &store.PendingEvent{Instance: instance, Name: name, Seq: seq, Payload: cloneBytes(data)}
		}
	})
	if err := cmp.Or(err, bad); err != nil {
		return nil, err
	}
	if oldest == nil {
		return nil, store.ErrNotFound
	}
	if len(oldest.Payload) == 0 {
		oldest.Payload = nil
	}
	return oldest, nil
}

// PendingSize counts the kept events of an instance, of every name, and
// the bytes of their payloads.
func (s *Store) PendingSize(instance string) (events int, size int64, err error) {
	err = s.few(s.subj.allPending(instance), func(_ string, h natsgo.Header, data []byte) {
		if !deleted(h) {
			events++
			size += int64(len(data))
		}
	})
	if err != nil {
		return 0, 0, err
	}
	return events, size, nil
}

// Bundle reads kept bundle sources.
func (s *Store) Bundle(hash string) (*store.BundleSources, error) {
	m, err := s.get(s.subj.bundle(hash))
	if err != nil {
		return nil, err
	}
	bs := new(store.BundleSources)
	if err := json.Unmarshal(m.Data, bs); err != nil {
		return nil, &store.DamagedError{Record: "bundle " + hash, Err: err}
	}
	return bs, nil
}

// Bundles lists kept bundles, oldest first.
func (s *Store) Bundles() ([]store.BundleSources, error) {
	var all []store.BundleSources
	var bad error
	err := s.scan(s.subj.allBundles(), false, func(subject string, h natsgo.Header, data []byte) {
		if deleted(h) {
			return
		}
		var bs store.BundleSources
		if err := json.Unmarshal(data, &bs); err != nil {
			bad = cmp.Or(bad, error(&store.DamagedError{Record: "bundle " + lastToken(subject), Err: err}))
			return
		}
		all = append(all, bs)
	})
	if err := cmp.Or(err, bad); err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b store.BundleSources) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), strings.Compare(a.Hash, b.Hash))
	})
	return all, nil
}

// KVGet reads a plugin's value.
func (s *Store) KVGet(ns, key string) ([]byte, error) {
	m, err := s.get(s.subj.kv(ns, key))
	if err != nil {
		return nil, err
	}
	return cloneBytes(m.Data), nil
}

// KVUsage is the bytes a namespace holds: the lengths of its keys and
// values.
func (s *Store) KVUsage(ns string) (int64, error) {
	var n int64
	var bad error
	err := s.few(s.subj.kvOf(ns), func(subject string, h natsgo.Header, data []byte) {
		if deleted(h) {
			return
		}
		key, err := unescape(lastToken(subject))
		bad = cmp.Or(bad, err)
		n += int64(len(key) + len(data))
	})
	if err := cmp.Or(err, bad); err != nil {
		return 0, err
	}
	return n, nil
}
