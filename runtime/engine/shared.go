package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Sharing a store with other sidecars (Config.Coordinator).
//
// A driver runs an instance only while this sidecar holds the instance's
// lease (store.Coordinator): it claims the lease before it loads the
// instance, every checkpoint renews it in the same write, a keeper renews
// it every third of its life while a step runs, and the driver releases it
// when it has nothing left to do. A checkpoint refused because another
// sidecar took the lease over (store.ErrFenced) drops the instance here:
// its new owner carries on from the last checkpoint.
//
// Work comes from the store instead of this process's memory: durable
// timers fall due as work, wake-ups (a kept event, a child that ended)
// are written as Batch.Wake in the checkpoint that causes them, and
// whichever sidecar receives the work claims the instance. The work stays
// unsettled while the instance runs here, so when this sidecar dies it is
// delivered to another, whose claim succeeds once the lease lapsed. A
// start has no work to keep: the store's takeover guard (CommitLeased)
// wakes it elsewhere if this sidecar dies while it runs.
//
// A request about an instance another sidecar holds (cancel, pause,
// resume, redrive, migrate) is handed to that sidecar (Coordinator.Call)
// and answered by its driver; a wake-up for such an instance is handed
// back to come again later.

// sharedState is what an engine keeps only when it shares its store.
type sharedState struct {
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu    sync.Mutex
	holds map[*hold]struct{} // what the keeper renews
}

// hold is a driver's lease and the work deliveries it keeps until it lets
// the instance go. It lives apart from the pooled driver, so that the
// keeper, which renews it while a step runs, never sees a driver reused.
type hold struct {
	mu     sync.Mutex
	lease  store.Lease
	leased bool
	works  []store.Work
}

// holding registers a driver's new hold with the keeper.
func (d *driver) holding(l store.Lease) {
	h := &hold{lease: l, leased: true}
	d.hold = h
	e := d.e
	e.sharing.mu.Lock()
	if e.sharing.holds == nil {
		e.sharing.holds = map[*hold]struct{}{}
	}
	e.sharing.holds[h] = struct{}{}
	e.sharing.mu.Unlock()
}

// dropHold forgets a hold whose lease was never written (a start that
// failed before its first checkpoint).
func (d *driver) dropHold() {
	if h := d.hold; h != nil {
		d.hold = nil
		d.e.sharing.mu.Lock()
		delete(d.e.sharing.holds, h)
		d.e.sharing.mu.Unlock()
	}
}

// holds reports whether the driver holds the instance's lease.
func (d *driver) holds() bool {
	if d.hold == nil {
		return false
	}
	d.hold.mu.Lock()
	defer d.hold.mu.Unlock()
	return d.hold.leased
}

// workers is how many goroutines take work from the store: enough that a
// slow claim does not hold up the rest.
const workers = 4

// openShared starts taking work and answering other sidecars' requests
// instead of loading every timer and waking every unfinished instance:
// what this sidecar must do arrives as work.
func (e *Engine) openShared(ctx context.Context) error {
	e.rechecked = make(chan struct{})
	close(e.rechecked)
	if err := e.coord.Serve(e.serveCall); err != nil {
		return fmt.Errorf("answer other sidecars: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	e.sharing.stop = cancel
	for range workers {
		e.sharing.wg.Go(func() { e.takeWork(wctx) })
	}
	e.sharing.wg.Go(func() { e.keepLeases(wctx) })
	return nil
}

// closeShared stops taking work; drivers hand theirs back as they stop.
func (e *Engine) closeShared() {
	if e.sharing.stop != nil {
		e.sharing.stop()
		e.sharing.wg.Wait()
	}
}

// takeWork hands delivered work to drivers until ctx ends.
func (e *Engine) takeWork(ctx context.Context) {
	for {
		w, err := e.coord.Work(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("take work from the shared store", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			continue
		}
		e.onWork(w)
	}
}

// onWork starts what a piece of work asks for.
func (e *Engine) onWork(w store.Work) {
	if t := w.Timer; t != nil {
		// A timer fires at its time by the store's clock; one that comes
		// before this sidecar's clock says it is due waits the difference,
		// or the instance would find nothing due and wait forever.
		if early := t.At.Sub(e.clock.Now()); early > 0 {
			w.Ack.Later(early)
			return
		}
		if strings.HasPrefix(t.Kind, observePrefix) {
			e.observers.runWork(*t, w.Ack)
			return
		}
	}
	e.post(w.Instance, message{kind: msgWake, work: &w})
}

// acquire claims the instance's lease for a driver about to load it. When
// another sidecar holds it, the messages go to that sidecar and acquire
// returns false.
func (d *driver) acquire(msgs []message) bool {
	e := d.e
	if d.hold != nil {
		d.letGo() // a lease lost before: start afresh
	}
	l, err := e.coord.Claim(context.Background(), d.id)
	if err == nil {
		d.holding(l)
		return true
	}
	var owned *store.OwnedError
	if !errors.As(err, &owned) {
		e.log.Error("claim instance", "instance", d.id, "err", err)
		for _, m := range msgs {
			m.settleLater(e.coord.LeaseTTL())
			m.answer(err)
		}
		return false
	}
	for _, m := range msgs {
		switch {
		case m.work != nil:
			// The holder runs the instance and may let it go any moment
			// (then this work is to be done), or it died (then its lease
			// lapses): look again soon, then less often.
			m.work.Ack.Later(retryOwned(m.work.Delivery, e.coord.LeaseTTL()))
			m.answer(nil)
		case m.forwarded:
			m.answer(err) // handed over already: the caller tries again
		case m.reply != nil || m.kind != msgWake:
			go e.forward(owned.Node, d.id, m)
		}
	}
	return false
}

// retryOwned is how long work for an instance another sidecar holds waits
// before it comes again: 50ms after the first delivery, doubling up to the
// lease's life.
func retryOwned(delivery uint64, ttl time.Duration) time.Duration {
	return min(ttl, 50*time.Millisecond<<min(max(delivery, 1)-1, 10))
}

// settleLater hands a message's work back to come again after d.
func (m message) settleLater(d time.Duration) {
	if m.work != nil {
		m.work.Ack.Later(d)
	}
}

// holdWork keeps the deliveries of the messages a driver handles; they are
// settled when the driver lets the instance go.
func (d *driver) holdWork(msgs []message) {
	h := d.hold
	for _, m := range msgs {
		if m.work == nil {
			continue
		}
		if h == nil { // not ours to run: settled by the driver that has it
			m.work.Ack.Done()
			continue
		}
		h.mu.Lock()
		h.works = append(h.works, *m.work)
		h.mu.Unlock()
	}
}

// letGo lets the instance go as the driver stops: work it held is settled
// and the lease released. An instance left running (the engine is
// closing) is woken for another sidecar to take over at once.
//
// A driver whose lease was fenced hands its work back instead: its last
// checkpoint was refused, so what the work asked for (a fired timer) may
// not be done, and the store fences a lease that no other sidecar holds
// as well (one that lapsed while this sidecar paused or was cut off).
// Settled, the work of an instance parked on a timer would be gone, and
// nothing would wake it again. Handed back, it comes to whichever sidecar
// holds the instance then, whose driver looks at it afresh.
func (d *driver) letGo() {
	e := d.e
	h := d.hold
	if h == nil {
		return
	}
	d.hold = nil
	e.sharing.mu.Lock()
	delete(e.sharing.holds, h)
	e.sharing.mu.Unlock()
	h.mu.Lock()
	works, lease, leased := h.works, h.lease, h.leased
	h.works, h.leased = nil, false
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e.coord.LeaseTTL())
	defer cancel()
	if d.inst != nil && d.inst.Status == store.Running && leased {
		if err := e.coord.Wake(ctx, d.id); err != nil {
			e.log.Warn("hand over a running instance", "instance", d.id, "err", err)
		}
	}
	for _, w := range works {
		if leased {
			w.Ack.Done()
		} else {
			w.Ack.Later(retryOwned(w.Delivery, e.coord.LeaseTTL()))
		}
	}
	if leased {
		if err := e.coord.Release(ctx, lease); err != nil {
			e.log.Warn("release lease", "instance", d.id, "err", err)
		}
	}
}

// writeLeased commits the driver's checkpoint fenced by its lease, with
// the wake-ups it causes in the same write.
func (d *driver) writeLeased() error {
	d.batch.Wake = append(d.batch.Wake, d.wake...)
	d.wake = d.wake[:0]
	if d.unsaved != nil && !d.started {
		d.batch.Instances = append(d.batch.Instances, d.unsaved.batch.Instances...)
		d.started = true
	}
	h := d.hold
	if h == nil {
		return store.ErrFenced
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.leased {
		return store.ErrFenced
	}
	err := d.e.coord.CommitLeased(context.Background(), &d.batch, &h.lease)
	if errors.Is(err, store.ErrFenced) {
		h.leased = false
		d.e.log.Warn("another sidecar took the instance over; dropping it here", "instance", d.id, "err", err)
	}
	return err
}

// keepLeases renews the leases and work of the instances running here, so
// that a long step does not let them lapse.
func (e *Engine) keepLeases(ctx context.Context) {
	every := e.coord.LeaseTTL() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.sharing.mu.Lock()
		hs := make([]*hold, 0, len(e.sharing.holds))
		for h := range e.sharing.holds {
			hs = append(hs, h)
		}
		e.sharing.mu.Unlock()
		for _, h := range hs {
			e.keep(ctx, h)
		}
	}
}

// keep renews one hold's lease and work.
func (e *Engine) keep(ctx context.Context, h *hold) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.leased {
		return
	}
	if err := e.coord.Renew(ctx, &h.lease); err != nil {
		if errors.Is(err, store.ErrFenced) {
			h.leased = false
		}
		e.log.Warn("renew lease", "instance", h.lease.Instance, "err", err)
		return
	}
	for _, w := range h.works {
		w.Ack.Extend()
	}
}

// call is a message handed to the sidecar that holds its instance.
type call struct {
	ID      string       `json:"id"`
	Kind    msgKind      `json:"kind"`
	Cause   string       `json:"cause,omitempty"`
	Entered uint64       `json:"entered,omitempty"`
	Event   *store.Event `json:"event,omitempty"`
	Timer   *store.Timer `json:"timer,omitempty"`
	Version string       `json:"version,omitempty"` // msgMigrate
	DryRun  bool         `json:"dry_run,omitempty"`
}

// callReply is the holder's answer: the error's kind and text, and a
// migration's outcome.
type callReply struct {
	Code      int        `json:"code,omitempty"` // 1 + index in forwarded; 0: none or unknown
	Error     string     `json:"error,omitempty"`
	Migration *Migration `json:"migration,omitempty"`
}

// forwarded are the errors whose identity survives a hand-over, so that
// the API answers a forwarded request as it answers a local one.
var forwarded = []error{ErrEnded, ErrNotEnded, ErrNotPaused, ErrCannotMigrate, ErrClosed, ErrUnavailable,
	store.ErrNotFound, store.ErrOwned, store.ErrDamaged}

// remoteError is an error another sidecar answered.
type remoteError struct {
	is   error
	text string
}

func (r *remoteError) Error() string { return r.text }
func (r *remoteError) Unwrap() error { return r.is }

// forward hands m to the sidecar node and answers m with its reply.
func (e *Engine) forward(node, id string, m message) {
	c := call{ID: id, Kind: m.kind, Cause: m.cause, Entered: m.entered, Timer: m.timer}
	if m.kind == msgAppend {
		c.Event = &m.event
	}
	if m.migrate != nil {
		c.Version, c.DryRun = m.migrate.version, m.migrate.dryRun
	}
	req, _ := json.Marshal(c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.coord.LeaseTTL())
	defer cancel()
	resp, err := e.coord.Call(ctx, node, req)
	if err != nil {
		// The holder is gone or busy: its lease lapses, and the request
		// is worth another try here, where the claim then succeeds.
		if m.reply == nil {
			e.coord.Wake(context.Background(), id)
			return
		}
		m.answer(fmt.Errorf("%w: instance %s is run by sidecar %s, which did not answer: %v", ErrUnavailable, id, node, err))
		return
	}
	var r callReply
	if err := json.Unmarshal(resp, &r); err != nil {
		m.answer(fmt.Errorf("answer of sidecar %s: %w", node, err))
		return
	}
	if r.Migration != nil && m.migrate != nil {
		*m.migrate.result = *r.Migration
	}
	switch {
	case r.Error == "":
		m.answer(nil)
	case r.Code > 0 && r.Code <= len(forwarded):
		m.answer(&remoteError{is: forwarded[r.Code-1], text: r.Error})
	default:
		m.answer(errors.New(r.Error))
	}
}

// serveCall answers a message another sidecar handed over.
func (e *Engine) serveCall(req []byte) []byte {
	var c call
	if err := json.Unmarshal(req, &c); err != nil {
		out, _ := json.Marshal(callReply{Error: "unreadable request: " + err.Error()})
		return out
	}
	reply := make(chan error, 1)
	m := message{kind: c.Kind, cause: c.Cause, entered: c.Entered, timer: c.Timer, reply: reply, forwarded: true}
	if c.Event != nil {
		m.event = *c.Event
	}
	var res *Migration
	if c.Kind == msgMigrate {
		res = &Migration{Instance: c.ID, To: c.Version}
		m.migrate = &migrateRequest{version: c.Version, dryRun: c.DryRun, result: res}
	}
	e.post(c.ID, m)
	err := <-reply
	r := callReply{Migration: res}
	if err != nil {
		r.Error = err.Error()
		for i, f := range forwarded {
			if errors.Is(err, f) {
				r.Code = i + 1
				break
			}
		}
	}
	out, _ := json.Marshal(r)
	return out
}

// waitShared polls the store for the end of an instance another sidecar
// may be running, until ctx ends.
func (e *Engine) waitShared(ctx context.Context, id string, local <-chan *store.Instance) (*store.Instance, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case inst := <-local:
			return inst, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		inst, err := e.store.Instance(id)
		if err != nil {
			return nil, err
		}
		if inst.Status.Terminal() {
			return inst, nil
		}
	}
}

// startCommit writes a start's first checkpoint: with a shared store it
// creates the lease (the store arms the takeover guard that wakes the
// instance elsewhere if this sidecar dies before it parks).
func (d *driver) startCommit(ctx context.Context) error {
	if d.e.coord == nil {
		return d.e.store.Commit(ctx, &d.batch)
	}
	return d.writeLeased()
}

// startLease makes a start's driver hold the lease its first checkpoint
// creates (a lease that does not exist yet: token 0).
func (d *driver) startLease() {
	d.holding(store.Lease{Instance: d.id, Node: d.e.coord.Node()})
}

// repeatedStart answers a start whose id another sidecar stored first, as
// a repeated start answers: the instance, or ErrConflict for another input.
func (e *Engine) repeatedStart(id, workflow string, input []byte) (*store.Instance, bool, error) {
	prev, err := e.store.Instance(id)
	if err != nil {
		return nil, false, err
	}
	if prev.Workflow != workflow || !bytes.Equal(prev.Input, input) {
		return nil, false, ErrConflict
	}
	return prev, true, nil
}
