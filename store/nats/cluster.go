package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/orbit-sidecar/orbit/store"
)

// The store is also a store.Coordinator: leases are entries of the
// stream, renewed on condition of their last sequence; work is the wake
// entries and fired timers of all instances, delivered through one durable
// consumer that every sidecar pulls from.
//
//	ORBIT.x.<id>.l                  lease: {"node": ...}, expiring after the lease TTL; header
//	                                Orbit-Renewal names the write (see send)
//	ORBIT.x.<id>.q                  wake-up: the instance has something to do
//	ORBIT.x.<id>.g                  takeover guard: a scheduled message that, should the
//	                                holder stop renewing, publishes a wake-up
//	ORBIT.x.<id>.s.<at>.<kind>      a timer's scheduled message, which at <at> publishes
//	ORBIT.x.<id>.f.<at>.<kind>      the timer's work
//
// A lease's fencing token is the stream sequence of its last renewal. A
// write fenced by a lease carries the renewal as its first message with
// the condition Nats-Expected-Last-Subject-Sequence = token, so the whole
// atomic batch is refused once another sidecar renewed or claimed the
// lease, and when the lease lapsed (the server removed it) as well.

var _ store.Coordinator = (*Store)(nil)

// DefaultLeaseTTL is how long a lease lasts without renewal.
const DefaultLeaseTTL = 5 * time.Second

// workConsumer is the durable consumer every sidecar of a stream pulls
// work from.
const workConsumer = "orbit-work"

// leaseBody is a lease entry's data.
type leaseBody struct {
	Node string `json:"node"`
}

// Node names this sidecar among those that share the stream.
func (s *Store) Node() string { return s.node }

// LeaseTTL is how long a lease lasts without renewal.
func (s *Store) LeaseTTL() time.Duration { return s.leaseTTL }

// leaseMsg is a renewal of the lease on id by node, on condition that the
// lease's last sequence is token (0: that there is none). An empty node
// releases the lease.
func (s *Store) leaseMsg(id, node string, token uint64) (string, natsgo.Header, []byte) {
	data, _ := json.Marshal(leaseBody{Node: node})
	h := natsgo.Header{}
	h.Set(hdrExpectLastSubj, strconv.FormatUint(token, 10))
	h.Set(hdrRenewal, nuid.Next())
	ttl := s.leaseTTL
	if node == "" {
		ttl = time.Minute // a released lease only needs to outlive its readers
	}
	h.Set(hdrTTL, strconv.FormatInt(int64(max(ttl/time.Second, 1)), 10)+"s")
	return s.subj.lease(id), h, data
}

// guardMsg arms (or, with armed false, cancels) an instance's takeover
// guard: a scheduled message that wakes the instance a second after its
// lease would lapse. The holder pushes it on with every checkpoint and
// renewal while the instance runs, so it fires only when the holder has
// stopped renewing: then another sidecar receives the wake-up and takes
// the instance over. So a start needs no wake-up of its own, which every
// other sidecar would be handed and hand back while the instance runs.
func (s *Store) guardMsg(id string, armed bool) (string, natsgo.Header) {
	if !armed {
		return s.subj.guard(id), marker()
	}
	h := natsgo.Header{}
	h.Set(hdrSchedule, "@at "+time.Now().Add(s.leaseTTL+time.Second).UTC().Format(time.RFC3339Nano))
	h.Set(hdrScheduleTarget, s.subj.wake(id))
	return s.subj.guard(id), h
}

// current is a lease as stored: its last sequence (0: none), holder
// ("" when released or absent) and the renewal that wrote it.
type current struct {
	seq     uint64
	node    string
	renewal string
}

// leaseNow reads a lease from the stream leader.
func (s *Store) leaseNow(id string) (current, error) { return s.leaseAt(s.subj.lease(id)) }

// leaseAt reads the lease stored at subject from the stream leader.
func (s *Store) leaseAt(subject string) (current, error) {
	var m *jetstream.RawStreamMsg
	err := s.retry(context.Background(), "read lease "+subject, func(ctx context.Context) error {
		var err error
		m, err = s.stream.GetLastMsgForSubject(ctx, subject)
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return current{}, nil
	}
	if err != nil {
		return current{}, err
	}
	var body leaseBody
	if err := json.Unmarshal(m.Data, &body); err != nil {
		return current{}, fmt.Errorf("lease %s: %w", subject, err)
	}
	return current{seq: m.Sequence, node: body.Node, renewal: m.Header.Get(hdrRenewal)}, nil
}

// Claim takes the lease on an instance for this sidecar.
func (s *Store) Claim(ctx context.Context, id string) (store.Lease, error) {
	for try := 0; ; try++ {
		cur, err := s.leaseNow(id)
		if err != nil {
			return store.Lease{}, err
		}
		if cur.node != "" && cur.node != s.node {
			return store.Lease{}, &store.OwnedError{Instance: id, Node: cur.node}
		}
		l := store.Lease{Instance: id, Node: s.node, Token: cur.seq}
		err = s.renew(ctx, &l)
		if err == nil {
			return l, nil
		}
		// Another sidecar claimed it between the read and the write, or a
		// condition failed spuriously: read again and decide.
		if !wrongSequence(err) || try == 5 {
			return store.Lease{}, err
		}
	}
}

// renew publishes a renewal of l on its condition, updating its token.
func (s *Store) renew(ctx context.Context, l *store.Lease) error {
	subject, h, data := s.leaseMsg(l.Instance, l.Node, l.Token)
	seq, err := s.send(ctx, "renew lease of "+l.Instance, []*natsgo.Msg{{Subject: subject, Header: h, Data: data}})
	if err != nil {
		return err
	}
	l.Token = seq
	return nil
}

// Renew extends a held lease, and pushes the instance's takeover guard
// on with it.
func (s *Store) Renew(ctx context.Context, l *store.Lease) error {
	for try := 0; ; try++ {
		err := s.renew(ctx, l)
		if err == nil {
			subject, h := s.guardMsg(l.Instance, true)
			m := &natsgo.Msg{Subject: subject, Header: h}
			return s.retry(ctx, "push the takeover guard of "+l.Instance, func(ctx context.Context) error {
				_, err := s.js.PublishMsg(ctx, m)
				return err
			})
		}
		if !wrongSequence(err) {
			return err
		}
		cur, rerr := s.leaseNow(l.Instance)
		if rerr != nil {
			return rerr
		}
		if cur.seq != l.Token || cur.node != l.Node || try == 5 {
			return fmt.Errorf("%w (instance %s, now held by %q)", store.ErrFenced, l.Instance, cur.node)
		}
	}
}

// Release gives a lease up; one already taken over is left alone.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	subject, h, data := s.leaseMsg(l.Instance, "", l.Token)
	_, err := s.js.PublishMsg(ctx, &natsgo.Msg{Subject: subject, Header: h, Data: data})
	if wrongSequence(err) {
		return nil
	}
	return err
}

// Wake makes instances runnable on whichever sidecar takes their work.
func (s *Store) Wake(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.Commit(ctx, &store.Batch{Wake: ids})
}

// worker is this sidecar's pull from the work consumer, made on first use.
type worker struct {
	once sync.Once
	it   jetstream.MessagesContext
	err  error
}

// Work blocks until work is delivered to this sidecar or ctx ends.
func (s *Store) Work(ctx context.Context) (store.Work, error) {
	s.work.once.Do(func() { s.work.it, s.work.err = s.startWork() })
	if s.work.err != nil {
		return store.Work{}, s.work.err
	}
	for {
		m, err := s.work.it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return store.Work{}, err
		}
		w, err := s.workOf(m)
		if err != nil {
			s.log.Error("nats: dropping unreadable work", "subject", m.Subject(), "err", err)
			m.Term()
			continue
		}
		return w, nil
	}
}

// startWork creates (or joins) the durable work consumer and starts
// pulling from it.
func (s *Store) startWork() (jetstream.MessagesContext, error) {
	var cons jetstream.Consumer
	err := s.retry(context.Background(), "create work consumer", func(ctx context.Context) (err error) {
		cons, err = s.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:        workConsumer,
			Description:    "instances with something to do, for whichever sidecar takes them",
			FilterSubjects: []string{s.subj.allWakes(), s.subj.allFired()},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        s.leaseTTL,
			MaxDeliver:     -1,
			MaxAckPending:  -1,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return cons.Messages(jetstream.PullMaxMessages(256), jetstream.PullExpiry(pullExpiry))
}

// workOf reads a delivered message: a wake-up or a fired timer.
func (s *Store) workOf(m jetstream.Msg) (store.Work, error) {
	md, err := m.Metadata()
	if err != nil {
		return store.Work{}, err
	}
	w := store.Work{Delivery: md.NumDelivered, Ack: workAck{m}}
	subject := m.Subject()
	if id, err := parseOwn(subject, "q"); err == nil {
		w.Instance = id
		return w, nil
	}
	id, at, kind, err := parseTimer(subject)
	if err != nil {
		return store.Work{}, err
	}
	w.Instance = id
	w.Timer = &store.Timer{At: store.FromUnixNanos(at), Instance: id, Kind: kind}
	return w, nil
}

// workAck settles a delivery of work through its message.
type workAck struct{ m jetstream.Msg }

func (a workAck) Done() error                 { return a.m.Ack() }
func (a workAck) Later(d time.Duration) error { return a.m.NakWithDelay(d) }
func (a workAck) Extend() error               { return a.m.InProgress() }

// Call sends a request to another sidecar over core NATS: it is not
// stored, and a sidecar that is gone does not answer.
func (s *Store) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	// A sidecar's subscription reaches the other servers of a cluster a
	// few milliseconds after it reached its own: "no responders" is worth
	// another try for a moment before it means the sidecar is gone.
	deadline := time.Now().Add(noRespondersFor)
	for {
		m, err := s.nc.RequestWithContext(ctx, s.subj.node(node), req)
		if err == nil {
			return m.Data, nil
		}
		if !errors.Is(err, natsgo.ErrNoResponders) || time.Now().After(deadline) {
			return nil, fmt.Errorf("nats: call sidecar %s: %w", node, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nats: call sidecar %s: %w", node, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// noRespondersFor is how long Call retries a sidecar that no server
// knows to be listening.
const noRespondersFor = time.Second

// Serve answers Calls to this sidecar. Its own server knows the
// subscription when Serve returns.
func (s *Store) Serve(handle func(req []byte) []byte) error {
	if _, err := s.nc.Subscribe(s.subj.node(s.node), func(m *natsgo.Msg) {
		go m.Respond(handle(m.Data))
	}); err != nil {
		return fmt.Errorf("nats: serve calls: %w", err)
	}
	if err := s.nc.Flush(); err != nil {
		return fmt.Errorf("nats: serve calls: %w", err)
	}
	return nil
}
