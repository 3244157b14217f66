package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// StartOptions are the optional parts of a start.
type StartOptions struct {
	ID string // client-chosen id; a repeated id is an idempotent start
	// IdempotencyKey, when set, names the start in the client's terms
	// (any printable text up to MaxKeyLen bytes): the instance's id is
	// IDForKey of it, so a repeated key is an idempotent start, and the
	// instance keeps the key. ID, when also set, must be that id.
	IdempotencyKey string
	Version        string          // run the newest kept bundle labelling the workflow so
	Input          json.RawMessage // JSON; empty means null
	TraceParent    string          // W3C traceparent of the request, or empty for a new trace
	// Wait says the caller will Wait for the end. An instance with a
	// generated id is then stored with its first step instead of before
	// it, saving a commit; Wait stores it if it gives up first, so the
	// instance is durable before anyone learns its id.
	Wait bool
}

// Start creates an instance and sets it running. existing is true when an
// instance with the same id and input was already there (it is returned
// as it is now).
func (e *Engine) Start(ctx context.Context, workflow string, opt StartOptions) (inst *store.Instance, existing bool, err error) {
	if err := e.Ready(); err != nil {
		return nil, false, err
	}
	if len(opt.Input) > e.maxPayload {
		return nil, false, fmt.Errorf("%w: input of %d bytes exceeds %d", ErrPayloadTooLarge, len(opt.Input), e.maxPayload)
	}
	input := []byte("null")
	if len(bytes.TrimSpace(opt.Input)) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, opt.Input); err != nil {
			return nil, false, fmt.Errorf("%w: input is not JSON: %v", ErrBadInput, err)
		}
		input = buf.Bytes()
		if string(input) == "[]" {
			// PHP's json_encode writes an empty array so, for what the
			// application meant as no fields: a workflow reads its input
			// as an object, and [] would fail its first path.
			input = []byte("{}")
		}
	}
	if err := store.CheckDepth(input); err != nil {
		return nil, false, fmt.Errorf("%w: input: %v", ErrBadInput, err)
	}
	var data any
	if err := flow.UnmarshalJSON(input, &data); err != nil {
		return nil, false, fmt.Errorf("%w: input is not JSON: %v", ErrBadInput, err)
	}
	b, wf, err := e.bundleFor(workflow, opt.Version)
	if err != nil {
		return nil, false, err
	}
	id, generated := opt.ID, opt.ID == "" && opt.IdempotencyKey == ""
	if opt.IdempotencyKey != "" {
		kid, err := IDForKey(opt.IdempotencyKey)
		if err != nil {
			return nil, false, err
		}
		if id != "" && id != kid {
			return nil, false, fmt.Errorf("%w: id %q is not the instance of idempotency key %q (%s)", ErrBadID, id, opt.IdempotencyKey, kid)
		}
		id = kid
	}
	if generated {
		id = newID(e.clock.Now())
	} else if err := CheckID(id); err != nil {
		return nil, false, err
	}

	claim := &startClaim{workflow: wf.Name, input: input, done: make(chan struct{})}
	if prev, err := e.claim(ctx, id, claim); prev != nil || err != nil {
		return prev, prev != nil, err
	}
	if !generated { // a fresh id cannot be stored already
		// The claim keeps every other start of this id out while the store
		// is read, without holding the engine's lock over the read.
		if prev, err := e.store.Instance(id); err == nil {
			e.unclaim(id, claim)
			prev, err := claim.repeat(prev)
			return prev, err == nil, err
		} else if !errors.Is(err, store.ErrNotFound) {
			e.unclaim(id, claim)
			return nil, false, err
		}
	}
	e.mu.Lock()
	if e.closed || e.owners[id] != nil {
		// A driver without a record: a control request for an id that does
		// not exist yet is being answered.
		closed := e.closed
		e.mu.Unlock()
		e.unclaim(id, claim)
		if closed {
			return nil, false, ErrClosed
		}
		return nil, false, fmt.Errorf("%w: another request for instance %s is in progress; try again", ErrConflict, id)
	}
	d := driverPool.Get().(*driver)
	d.e, d.id = e, id
	e.owners[id] = d
	e.drivers.Add(1)
	e.mu.Unlock()

	now := e.clock.Now()
	tp := opt.TraceParent
	if !flow.ValidTraceParent(tp) {
		// Kept, it would go out with every call the instance makes.
		tp = ""
	}
	if e.tracer != nil {
		// The instance keeps the start's span as its traceparent: every
		// run segment, after a restart too, goes under it, in the
		// caller's trace or in a new one.
		s := e.tracer.Start(tp, "start "+wf.Name, flow.SpanServer)
		s.SetString(flow.AttrInstance, id)
		s.SetString(flow.AttrWorkflow, wf.Name)
		s.SetString(flow.AttrVersion, wf.Version)
		defer s.End()
		tp = s.TraceParent()
	} else if tp == "" {
		tp = newTraceParent()
	}
	in := &store.Instance{
		Public: store.Public{ID: id, Workflow: wf.Name, Version: wf.Version, Status: store.Running,
			Input: input, StartedAt: now, UpdatedAt: now, IdempotencyKey: opt.IdempotencyKey},
		Bundle: b.Hash, Express: wf.Mode == flow.Express, TraceParent: tp,
	}
	// abandon hands the id back when the start fails after claiming it,
	// and the concurrency slot or queue place it took.
	slotted := false // the start took a slot or queue place of its key
	abandon := func() {
		if slotted {
			e.releaseSlot(wf.Name, in.ConcKey, id)
		}
		e.mu.Lock()
		delete(e.owners, id)
		e.mu.Unlock()
		e.drivers.Done()
		d.dropHold()
		d.release()
		e.unclaim(id, claim)
	}
	d.inst, d.bundle, d.wf, d.machine = in, b, wf, wf.Machines[""]
	d.data = data
	if e.coord != nil {
		// The start creates the lease with the instance: a start of the
		// same id on another sidecar at the same moment is fenced off.
		d.startLease()
	}
	d.setDeadline()
	d.event(store.Event{Type: store.EventExecutionStarted, Input: input})
	d.enter(wf.Start, data, input)
	if wf.Concurrency != nil {
		if err := e.concurrencyRestored(nil); err != nil {
			abandon()
			return nil, false, err
		}
		key, err := concurrencyKey(wf, data, d.context())
		if err != nil {
			abandon()
			return nil, false, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		in.ConcKey, in.ConcSeq = key, e.conc.arrival(time.Now())
		held, err := e.acquireSlot(wf.Name, key, wf.Concurrency.Limit, id)
		if err != nil {
			abandon()
			return nil, false, fmt.Errorf("%w: concurrency slot of %s: %v", ErrUnavailable, id, err)
		}
		slotted = true
		if !held {
			in.Status, in.Waiting = store.Queued, &store.WaitingFor{Kind: store.WaitConcurrency, Key: key}
		}
	}
	snapshot := in.Clone()
	claim.inst = snapshot
	switch {
	case opt.Wait && generated && !in.Express && in.Status == store.Running && e.coord == nil:
		d.unsaved = &unsavedStart{batch: store.Batch{Instances: []*store.Instance{snapshot},
			Events: slices.Clone(d.batch.Events), SetTimers: slices.Clone(d.batch.SetTimers)}}
		d.claim = claim // repeated starts answer from it until the driver stores the instance
		claim.settle()
	case in.Express:
		d.claim = claim // an express instance is stored only when it parks or ends
		claim.settle()
	default:
		if err := d.startCommit(ctx); err != nil {
			claim.inst = nil
			if errors.Is(err, store.ErrFenced) && !generated {
				// Another sidecar stored a start of this id first: the
				// slot of the id is its start's.
				slotted = false
			}
			abandon()
			if errors.Is(err, store.ErrFenced) && !generated {
				// Another sidecar stored a start of this id first.
				return e.repeatedStart(id, wf.Name, input)
			}
			return nil, false, unwritten("start "+id, err)
		}
		d.afterCommit()
		e.unclaim(id, claim)
	}
	go func() {
		defer e.drivers.Done()
		d.evaluate()
		d.runMailbox()
	}()
	return snapshot, false, nil
}

// startClaim marks an id a start is creating, so that a repeated start
// with the same id waits for it instead of racing it (SPEC 3: the same
// input answers the instance, another input conflicts). A durable start
// holds its claim while it commits; an express start, or one stored with
// its first step, until its driver first stores it, since until then the
// store knows nothing of it.
type startClaim struct {
	workflow string
	input    []byte
	done     chan struct{}   // closed (by settle) when inst is set, or when the claim is given up
	inst     *store.Instance // the instance as started; nil when the start failed
	once     sync.Once
}

// settle lets the starts waiting for this one look at it.
func (c *startClaim) settle() { c.once.Do(func() { close(c.done) }) }

// claim takes the id for a start. When another start holds it, claim
// waits for that start and answers as a repeat of it (prev), or takes
// the id once that start has given it up.
func (e *Engine) claim(ctx context.Context, id string, c *startClaim) (prev *store.Instance, err error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		other := e.starts[id]
		if other == nil {
			e.starts[id] = c
			e.mu.Unlock()
			return nil, nil
		}
		e.mu.Unlock()
		e.claimWaits.Add(1)
		select {
		case <-other.done:
		case <-ctx.Done():
		}
		e.claimWaits.Add(-1)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if other.inst != nil {
			if other.workflow != c.workflow || !bytes.Equal(other.input, c.input) {
				return nil, ErrConflict
			}
			return other.inst.Clone(), nil
		}
	}
}

// unclaim gives the id up; waiting starts then look again.
func (e *Engine) unclaim(id string, c *startClaim) {
	e.mu.Lock()
	if e.starts[id] == c {
		delete(e.starts, id)
	}
	e.mu.Unlock()
	c.settle()
}

// repeat answers a start whose id is already stored as prev.
func (c *startClaim) repeat(prev *store.Instance) (*store.Instance, error) {
	if prev.Workflow != c.workflow || !bytes.Equal(prev.Input, c.input) {
		return nil, ErrConflict
	}
	return prev, nil
}

// runMailbox hands a driver that started work itself over to its mailbox loop.
func (d *driver) runMailbox() {
	d.e.drivers.Add(1)
	d.run()
}

// CheckID validates a client-chosen instance id (SPEC 2.1).
func CheckID(id string) error {
	if len(id) == 0 || len(id) > 128 {
		return fmt.Errorf("%w: %q must be 1 to 128 characters", ErrBadID, id)
	}
	for _, r := range id {
		if !(r == '.' || r == '_' || r == '-' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%w: %q may hold only letters, digits and . _ : -", ErrBadID, id)
		}
	}
	return nil
}

// MaxKeyLen bounds an idempotency key, in bytes.
const MaxKeyLen = 255

// keyIDPrefix starts the id of an instance whose idempotency key is not an
// id itself.
const keyIDPrefix = "key-"

// IDForKey is the id of the instance an idempotency key names: the key
// itself when it is a valid id (so that a key and an id may name the same
// instance), else "key-" and 32 hex digits of the key's SHA-256. The
// mapping needs no index: a repeated key finds its instance by id, at
// once and atomically with the start.
func IDForKey(key string) (string, error) {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return "", fmt.Errorf("%w: idempotency key of %d bytes, want 1 to %d", ErrBadID, len(key), MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("%w: idempotency key %q is not UTF-8 text", ErrBadID, key)
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("%w: idempotency key %q holds the unprintable character %U", ErrBadID, key, r)
		}
	}
	if CheckID(key) == nil {
		return key, nil
	}
	sum := sha256.Sum256([]byte(key))
	return keyIDPrefix + hex.EncodeToString(sum[:16]), nil
}

// checkEventName refuses an event name no workflow can await: empty,
// holding a zero byte (which separates key parts in the store), or longer
// than flow.MaxEventName.
func checkEventName(name string) error {
	switch {
	case name == "" || strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: event name %q must be non-empty text without a zero byte", ErrBadInput, name)
	case len(name) > flow.MaxEventName:
		return fmt.Errorf("%w: event name of %d bytes; at most %d", ErrBadInput, len(name), flow.MaxEventName)
	}
	return nil
}

// newID makes a random id that sorts by start time (the layout of a UUIDv7):
// instances started together share the store's pages, so a group commit
// writes a few pages instead of one per instance.
func newID(now time.Time) string {
	var b [16]byte
	rand.Read(b[6:])
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	return hex.EncodeToString(b[:])
}

func newTraceParent() string {
	var b [24]byte
	rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// Get returns an instance as last checkpointed.
func (e *Engine) Get(id string) (*store.Instance, error) { return e.store.Instance(id) }

// WorkflowOf returns the definition an instance runs, in the bundle it
// started on (or was migrated to), which may no longer be the current
// one; and that bundle's observers.
func (e *Engine) WorkflowOf(in *store.Instance) (*flow.Workflow, []*flow.Observer, error) {
	b, err := e.bundle(in.Bundle)
	if err != nil {
		return nil, nil, err
	}
	wf := b.Workflows[in.Workflow]
	if wf == nil {
		return nil, nil, fmt.Errorf("%w %q in bundle %s", ErrUnknownWorkflow, in.Workflow, in.Bundle)
	}
	return wf, b.Observers, nil
}

// History returns an instance's events after seq, at most limit (0: all).
func (e *Engine) History(id string, after uint64, limit int) ([]store.Event, error) {
	if _, err := e.store.Instance(id); err != nil {
		return nil, err
	}
	return e.store.History(id, after, limit)
}

// List pages through instances, newest first.
func (e *Engine) List(q store.Query) ([]*store.Instance, string, error) { return e.store.List(q) }

// ByKey finds the instance started with an idempotency key, as a list
// of one when q selects it, else of none. No index is needed: the key
// names the id (IDForKey).
func (e *Engine) ByKey(key string, q store.Query) ([]*store.Instance, error) {
	id, err := IDForKey(key)
	if err != nil {
		return nil, err
	}
	in, err := e.store.Instance(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (in.IdempotencyKey != key || !q.Matches(&in.Public)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []*store.Instance{in}, nil
}

// Count tallies the instances q selects by workflow, version and status.
func (e *Engine) Count(q store.Query) ([]store.Tally, error) { return e.store.Count(q) }

// Cancel ends an instance as CANCELLED, and its children with it.
func (e *Engine) Cancel(id string) error { return e.control(id, msgCancel, "cancelled by request") }

// Pause stops an instance after its running step checkpoints.
func (e *Engine) Pause(id string) error { return e.control(id, msgPause, "") }

// Resume undoes Pause.
func (e *Engine) Resume(id string) error { return e.control(id, msgResume, "") }

// control asks for a change of an instance, once the store can write it.
func (e *Engine) control(id string, kind msgKind, cause string) error {
	if err := e.Ready(); err != nil {
		return err
	}
	return e.ask(id, kind, cause)
}

// unwritten says that what a call was to write was not written, and why:
// ErrUnavailable with the store's error, unless the caller gave up first.
func unwritten(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

// Redrive runs a FAILED or TIMED_OUT instance again from the state that
// failed, with the data it had there. The status is the one checkpointed
// when the request comes: an instance still running is refused at once,
// rather than redriven after it fails.
func (e *Engine) Redrive(id string) error {
	if err := e.Ready(); err != nil {
		return err
	}
	in, err := e.store.Instance(id)
	if err != nil {
		return err
	}
	if in.Status != store.Failed && in.Status != store.TimedOut {
		return fmt.Errorf("%w: instance %s is %s", ErrNotEnded, id, in.Status)
	}
	reply := make(chan error, 1)
	// The visit it failed in goes along: were the instance redriven and
	// failed again before this request is handled, this one would be a
	// second run nobody asked for.
	e.post(id, message{kind: msgRedrive, entered: in.Entered, reply: reply})
	return <-reply
}

// Wait blocks until the instance ends or ctx is done, and returns it as it
// is then.
func (e *Engine) Wait(ctx context.Context, id string) (*store.Instance, error) {
	ch := make(chan *store.Instance, 1)
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	d := e.owners[id]
	running := d != nil && !d.over
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		ws := e.waiters[id]
		if i := slices.Index(ws, ch); i >= 0 {
			ws = slices.Delete(ws, i, i+1)
		}
		if len(ws) == 0 {
			delete(e.waiters, id)
		} else {
			e.waiters[id] = ws
		}
		e.mu.Unlock()
	}()
	// A driver that has not ended will hand over the final instance; only
	// an instance without one needs a look in the store (an express
	// instance is not stored until it ends).
	if !running {
		inst, err := e.store.Instance(id)
		if err != nil || inst.Status.Terminal() {
			return inst, err
		}
	}
	if e.coord != nil && !running {
		// Another sidecar may run it: its end shows in the store.
		if inst, err := e.waitShared(ctx, id, ch); err == nil || ctx.Err() == nil {
			return inst, err
		}
		return e.store.Instance(id)
	}
	select {
	case inst := <-ch:
		return inst, nil
	case <-ctx.Done():
	}
	e.mu.Lock()
	var u *unsavedStart
	if d := e.owners[id]; d != nil {
		u = d.unsaved
	}
	e.mu.Unlock()
	if u != nil {
		if err := u.save(e.store); err != nil {
			return nil, unwritten("store the start of "+id, err)
		}
	}
	return e.store.Instance(id)
}

// unsavedStart is the start checkpoint of an instance whose driver stores
// it with the first step (StartOptions.Wait). Whichever comes first, that
// commit or a Wait giving up, writes it; the mutex keeps the older record
// from landing after the newer one.
type unsavedStart struct {
	mu    sync.Mutex
	saved bool
	batch store.Batch
}

// save writes the start checkpoint unless the driver has written more.
func (u *unsavedStart) save(s store.Store) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.saved {
		return nil
	}
	if err := s.Commit(context.Background(), &u.batch); err != nil {
		return err
	}
	u.saved = true
	return nil
}

// commit writes the driver's first checkpoint, which holds the start too.
func (u *unsavedStart) commit(s store.Store, b *store.Batch) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	err := s.Commit(context.Background(), b)
	u.saved = u.saved || err == nil
	return err
}

// ended hands the final instance to everyone waiting for it to end, and
// marks the driver over so that later waiters read the store instead.
func (d *driver) ended() {
	e := d.e
	e.mu.Lock()
	d.over = true
	ws := e.waiters[d.id]
	delete(e.waiters, d.id)
	e.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	final := d.inst.Clone()
	for _, ch := range ws {
		ch <- final
	}
}

// restarted marks a redriven instance as running again, for Wait.
func (d *driver) restarted() {
	d.e.mu.Lock()
	d.over = false
	d.e.mu.Unlock()
}

func sortSources(files []flow.Source) {
	slices.SortFunc(files, func(a, b flow.Source) int { return strings.Compare(a.Path, b.Path) })
}
