package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/orbit-sidecar/orbit/store"
)

const (
	// maxGroup is the most messages one atomic batch may hold (the
	// server's default limit); maxGroupBytes keeps one batch well inside
	// what a server accepts and a replica applies quickly.
	maxGroup      = 1000
	maxGroupBytes = 4 << 20

	// Headers of the atomic batch protocol (server 2.12 and later).
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
	hdrTTL         = "Nats-TTL"
	// A scheduled message (server 2.12 and later) and where it publishes.
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTarget = "Nats-Schedule-Target"
	hdrExpectLastSubj = "Nats-Expected-Last-Subject-Sequence"
	// hdrRenewal names one write of a lease, the same on every copy of it
	// sent again, so that a copy refused because the first was stored
	// unanswered is told from a lease taken over (see send).
	hdrRenewal = "Orbit-Renewal"

	// Orbit's headers: a deletion marker, and a record's index fields,
	// which scans read without loading the record.
	hdrDeleted  = "Orbit-Deleted"
	hdrStatus   = "Orbit-Status"
	hdrWorkflow = "Orbit-Workflow"
	hdrVersion  = "Orbit-Version"
	hdrStart    = "Orbit-Start"
	hdrEnd      = "Orbit-End"

	// markerTTL is how long a deletion marker stays before the server
	// drops it. Readers treat a marker as absence, so its life only bounds
	// how long it costs space.
	markerTTL = "10m"
)

// job is one batch's messages waiting for a committer.
type job struct {
	msgs  []*natsgo.Msg
	purge []string // instances whose every entry goes once the batch is written
	bytes int
	done  chan error
	// lease, when set, fences the job: msgs[0] renews it on condition
	// that its token is still the newest, and the token is updated.
	lease *store.Lease
}

// Commit writes the batch atomically: its messages go out as one atomic
// batch publish, together with whatever other batches are waiting, and
// Commit returns when the servers acknowledged it (with replicas, once a
// majority stored it). b is fully encoded before Commit returns and may be
// reused at once. Purges are carried out after the rest of the batch.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Empty() && len(b.Wake) == 0 {
		return nil
	}
	if err := b.Validate(); err != nil {
		return err
	}
	j, err := s.encode(b, nil)
	if err != nil {
		return err
	}
	return s.commitJob(ctx, j)
}

// commitJob writes an encoded batch, then its purges.
func (s *Store) commitJob(ctx context.Context, j *job) error {
	if len(j.msgs) > 0 {
		if err := s.submit(ctx, j); err != nil {
			return err
		}
	} else {
		s.checkpoints.Add(1)
	}
	for _, id := range j.purge {
		if err := s.purgeInstance(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// CommitLeased commits b with a renewal of l in the same atomic batch, on
// condition that l's token is still the lease's newest; otherwise it
// writes nothing and returns store.ErrFenced.
func (s *Store) CommitLeased(ctx context.Context, b *store.Batch, l *store.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.Validate(); err != nil {
		return err
	}
	j, err := s.encode(b, l)
	if err != nil {
		return err
	}
	return s.commitJob(ctx, j)
}

// submit hands a job to the committers and waits for its batch.
func (s *Store) submit(ctx context.Context, j *job) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	j.done = make(chan error, 1)
	s.queue <- j
	s.mu.RUnlock()
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the batch may still be written
	}
}

// run is a committer: it takes the first waiting job and every job that
// queued meanwhile, up to one atomic batch, and publishes them together.
func (s *Store) run() {
	var group []*job
	for first := range s.queue {
		group = append(group[:0], first)
		n, size := len(first.msgs), first.bytes
	drain:
		for n < maxGroup && size < maxGroupBytes {
			select {
			case j, ok := <-s.queue:
				if !ok {
					break drain
				}
				if n+len(j.msgs) > maxGroup || size+j.bytes > maxGroupBytes {
					s.write([]*job{j}) // too big to join: it goes alone, first
					continue
				}
				group = append(group, j)
				n += len(j.msgs)
				size += j.bytes
			default:
				break drain
			}
		}
		s.write(group)
		clear(group)
	}
}

// write publishes a group. When a group of several fails, each job is
// tried alone so that one bad batch cannot fail its neighbours.
func (s *Store) write(group []*job) {
	err := s.publish(group)
	if err == nil {
		answer(group, nil)
		return
	}
	if len(group) == 1 {
		answer(group, s.settle(group[0], err))
		return
	}
	if !wrongSequence(err) {
		s.log.Warn("nats: group commit failed; retrying its batches one by one", "batches", len(group), "err", err)
	}
	for _, j := range group {
		one := []*job{j}
		err := s.publish(one)
		if err != nil {
			err = s.settle(j, err)
		}
		answer(one, err)
	}
}

// settle decides what a lone job's failed publish means. A fenced job
// whose condition failed was taken over, unless the lease is still what
// it carried: with replicas a condition can fail spuriously (reported as
// a wrong sequence), and then the job is published again. Or the lease
// holds the job's own renewal: its group was stored unanswered, and its
// retries given up, before it was sent alone (see send).
func (s *Store) settle(j *job, err error) error {
	for try := 0; j.lease != nil && wrongSequence(err) && try < 5; try++ {
		cur, lerr := s.leaseNow(j.lease.Instance)
		if lerr != nil {
			return lerr
		}
		if r := j.msgs[0].Header.Get(hdrRenewal); r != "" && cur.renewal == r {
			j.lease.Token = cur.seq
			s.checkpoints.Add(1)
			return nil
		}
		if cur.seq != j.lease.Token || cur.node != j.lease.Node {
			return fmt.Errorf("%w (instance %s, now held by %q)", store.ErrFenced, j.lease.Instance, cur.node)
		}
		if err = s.publish([]*job{j}); err == nil {
			return nil
		}
	}
	return err
}

// wrongSequence reports a failed condition on a subject's last sequence.
func wrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func answer(group []*job, err error) {
	for _, j := range group {
		j.done <- err
	}
}

// publish writes the jobs' messages as atomic batches of at most
// maxGroup messages, retrying while the cluster fails over.
func (s *Store) publish(group []*job) error {
	var msgs []*natsgo.Msg
	if len(group) == 1 {
		msgs = group[0].msgs
	} else {
		for _, j := range group {
			msgs = append(msgs, j.msgs...)
		}
	}
	// A single checkpoint larger than one atomic batch (a map state that
	// starts thousands of children) is written in parts, in order; its
	// instance records come last (see encode), so a crash between parts
	// leaves entries no record points to yet, which the re-run writes again.
	var firsts []uint64 // stream sequence of each part's first message
	for len(msgs) > 0 {
		part := msgs[:min(len(msgs), maxGroup)]
		msgs = msgs[len(part):]
		first, err := s.send(context.Background(), "commit", part)
		if err != nil {
			return err
		}
		firsts = append(firsts, first)
		s.commits.Add(1)
	}
	// A batch's messages are stored with consecutive sequences, so each
	// renewed lease's new token follows from its place in the batch.
	at := 0
	for _, j := range group {
		if j.lease != nil {
			j.lease.Token = firsts[at/maxGroup] + uint64(at%maxGroup)
		}
		at += len(j.msgs)
	}
	s.checkpoints.Add(uint64(len(group)))
	return nil
}

// send publishes msgs as one atomic batch, retrying while the cluster
// fails over, and returns the stream sequence of the first.
//
// A request that timed out or lost its connection may have been stored
// all the same, its answer lost. Sent again, a batch that renews a lease
// is then refused, because the lease's last sequence is now the renewal
// itself. So a refusal after such a failure reads the batch's leases: one
// whose stored renewal is this batch's own (hdrRenewal) shows the first
// copy stored, whole as atomic batches are, and the lease still held,
// since nobody wrote it since. A lease another sidecar took over in
// between leaves the refusal standing, and the caller reports a fence.
//
// JetStream's deduplication (Nats-Msg-Id) does not serve here: a
// duplicate inside an atomic batch fails the batch without the stored
// sequence, which the token needs, and the server would keep every
// renewal's id for the stream's duplicate window.
func (s *Store) send(ctx context.Context, what string, msgs []*natsgo.Msg) (uint64, error) {
	var first uint64
	unsure := false // an earlier copy may have been stored
	err := s.retry(ctx, what, func(ctx context.Context) (err error) {
		first, err = s.publishAtomic(ctx, msgs)
		if unsure && wrongSequence(err) {
			seq, ok, lerr := s.landed(msgs)
			if lerr != nil {
				return lerr
			}
			if ok {
				first = seq
				return nil
			}
		}
		unsure = unsure || transient(err)
		return err
	})
	return first, err
}

// landed reports whether msgs were stored by an earlier, unanswered copy:
// a lease they renew still holds their renewal. It returns the stream
// sequence of msgs[0] then.
func (s *Store) landed(msgs []*natsgo.Msg) (uint64, bool, error) {
	for i, m := range msgs {
		r := m.Header.Get(hdrRenewal)
		if r == "" {
			continue
		}
		cur, err := s.leaseAt(m.Subject)
		if err != nil {
			return 0, false, err
		}
		if cur.renewal == r && cur.seq > uint64(i) {
			return cur.seq - uint64(i), true, nil
		}
	}
	return 0, false, nil
}

// pubAck is the server's answer to a batch's commit message.
type pubAck struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	Seq   uint64              `json:"seq"`
	Count int                 `json:"count"`
}

// publishAtomic sends msgs as one atomic batch: every message but the
// last is staged by the stream leader, and the last commits them all or
// none. nats.go has no helper for it yet. It returns the stream sequence
// of the first message.
func (s *Store) publishAtomic(ctx context.Context, msgs []*natsgo.Msg) (uint64, error) {
	if len(msgs) == 1 {
		// One message needs no batch (and a lease renewal alone is the
		// commonest write of a busy cluster).
		m := msgs[0]
		ack, err := s.js.PublishMsg(ctx, m)
		if err != nil {
			return 0, err
		}
		return ack.Sequence, nil
	}
	id := nuid.Next()
	last := len(msgs) - 1
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < last {
			m.Header.Del(hdrBatchCommit)
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, err
			}
			continue
		}
		m.Header.Set(hdrBatchCommit, "1")
		resp, err := s.nc.RequestMsgWithContext(ctx, m)
		m.Header.Del(hdrBatchCommit)
		if err != nil {
			return 0, err
		}
		var ack pubAck
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return 0, fmt.Errorf("unreadable answer to a batch commit %q: %w", resp.Data, err)
		}
		if ack.Error != nil {
			return 0, ack.Error
		}
		if ack.Count != len(msgs) {
			return 0, fmt.Errorf("batch commit stored %d of %d messages", ack.Count, len(msgs))
		}
		return ack.Seq - uint64(ack.Count) + 1, nil
	}
	return 0, nil
}

// encode turns a batch into messages, in the order the parts of a Batch
// apply (so the last write of a subject wins as it does in bolt), except
// that instance records go last: a batch written in parts never has a
// record point at entries not yet written.
func (s *Store) encode(b *store.Batch, l *store.Lease) (*job, error) {
	j := &job{lease: l}
	add := func(subject string, h natsgo.Header, data []byte) {
		if h == nil {
			h = natsgo.Header{}
		}
		j.msgs = append(j.msgs, &natsgo.Msg{Subject: subject, Header: h, Data: data})
		j.bytes += len(subject) + len(data) + 64
	}
	if l != nil {
		subject, h, data := s.leaseMsg(l.Instance, l.Node, l.Token)
		add(subject, h, data)
		// The takeover guard follows the instance's own record: armed while
		// it runs, cancelled when it parks or ends, unless it ends holding
		// a concurrency slot (ReleaseSlot cancels it then).
		for _, in := range b.Instances {
			if in.ID == l.Instance {
				armed := in.Status == store.Running || in.Status.Terminal() && in.ConcKey != "" && in.Parent == ""
				subject, h := s.guardMsg(l.Instance, armed)
				add(subject, h, nil)
				break
			}
		}
	}
	for i := range b.Events {
		ev := &b.Events[i]
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode event %d of instance %q: %w", ev.Seq, ev.Instance, err)
		}
		add(s.subj.event(ev.Instance, ev.Seq), nil, data)
	}
	// A timer is an entry (for Timers) and a scheduled message that
	// publishes the timer's work when it falls due, to whichever sidecar
	// takes it; a deletion replaces both, which cancels the schedule.
	for _, t := range b.SetTimers {
		at := store.UnixNanos(t.At)
		add(s.subj.timer(t.Instance, at, t.Kind), nil, nil)
		h := natsgo.Header{}
		h.Set(hdrSchedule, "@at "+store.FromUnixNanos(max(at, 1)).Format(time.RFC3339Nano))
		h.Set(hdrScheduleTarget, s.subj.fired(t.Instance, at, t.Kind))
		add(s.subj.schedule(t.Instance, at, t.Kind), h, nil)
	}
	for _, t := range b.DelTimers {
		at := store.UnixNanos(t.At)
		add(s.subj.timer(t.Instance, at, t.Kind), marker(), nil)
		add(s.subj.schedule(t.Instance, at, t.Kind), marker(), nil)
	}
	for _, p := range b.AddPending {
		seq := p.Seq
		if seq == 0 {
			seq = s.pendingSeq.next()
		}
		add(s.subj.pending(p.Instance, p.Name, seq), nil, cloneBytes(p.Payload))
	}
	for _, p := range b.DelPending {
		add(s.subj.pending(p.Instance, p.Name, p.Seq), marker(), nil)
	}
	for _, bs := range b.Bundles {
		data, err := json.Marshal(bs)
		if err != nil {
			return nil, fmt.Errorf("encode bundle %s: %w", bs.Hash, err)
		}
		add(s.subj.bundle(bs.Hash), nil, data)
	}
	for _, h := range b.DeleteBundles {
		add(s.subj.bundle(h), marker(), nil)
	}
	for _, in := range b.Instances {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode instance %q: %w", in.ID, err)
		}
		add(s.subj.record(in.ID), recordHeader(in), data)
	}
	for _, id := range b.Wake {
		add(s.subj.wake(id), nil, nil)
	}
	j.purge = b.Purge
	if len(j.purge) > 0 {
		// A purge wins over anything else the batch writes for the instance.
		j.purge = append([]string(nil), b.Purge...)
	}
	return j, nil
}

// recordHeader carries the fields List, Count, Unfinished and Ended read
// without loading records.
func recordHeader(in *store.Instance) natsgo.Header {
	h := natsgo.Header{}
	h.Set(hdrStatus, string(in.Status))
	h.Set(hdrWorkflow, escape(in.Workflow))
	h.Set(hdrVersion, escape(in.Version))
	h.Set(hdrStart, strconv.FormatUint(store.UnixNanos(in.StartedAt), 10))
	if end := endNanos(in); end != 0 {
		h.Set(hdrEnd, strconv.FormatUint(end, 10))
	}
	return h
}

func marker() natsgo.Header {
	h := natsgo.Header{}
	h.Set(hdrDeleted, "1")
	h.Set(hdrTTL, markerTTL)
	return h
}

func deleted(h natsgo.Header) bool { return h.Get(hdrDeleted) != "" }

// purgeInstance removes every entry of an instance.
func (s *Store) purgeInstance(ctx context.Context, id string) error {
	return s.retry(ctx, "purge "+id, func(ctx context.Context) error {
		return s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subj.instance(id)+".>"))
	})
}

// KVPut writes a plugin's value; a nil value deletes the key. It counts as
// a commit but not as a checkpoint, as in bolt.
func (s *Store) KVPut(ns, key string, value []byte) error {
	if ns == "" || key == "" {
		return errors.New("kv: namespace and key must not be empty")
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	m := &natsgo.Msg{Subject: s.subj.kv(ns, key), Header: natsgo.Header{}, Data: cloneBytes(value)}
	if value == nil {
		m.Header = marker()
	}
	err := s.retry(context.Background(), "kv put", func(ctx context.Context) error {
		_, err := s.js.PublishMsg(ctx, m)
		return err
	})
	if err == nil {
		s.commits.Add(1)
	}
	return err
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// endNanos is when a terminal instance ended, for Ended, or 0 while it has
// not; an instance without EndedAt counts from its last update, as in bolt.
func endNanos(in *store.Instance) uint64 {
	if !in.Status.Terminal() {
		return 0
	}
	return max(store.UnixNanos(in.EndTime()), 1)
}
