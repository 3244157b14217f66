// Package engine runs workflow instances: the step loop, retries and
// catches, timers, events, child instances, observers, recovery after a
// restart, cancellation and redrive.
//
// Every instance is owned by at most one goroutine at a time (its driver).
// Everything that touches an instance — a timer firing, an event arriving,
// a child ending, a cancel — is a message to its mailbox; the driver applies
// messages between steps. Instances that wait on timers or events have no
// driver and cost no memory beyond a timer entry.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Config wires an engine.
type Config struct {
	Store store.Store
	Clock clock.Clock // nil: the real clock
	Log   *slog.Logger
	// Compile rebuilds a kept bundle from its sources, for instances pinned
	// to a bundle that is no longer current (after a reload or restart).
	Compile func(files []flow.Source) (*flow.Bundle, error)
	// MaxPayload bounds inputs, outputs, event payloads and data (bytes;
	// 0: 256 KiB).
	MaxPayload int
	// MaxPendingEvents and MaxPendingBytes bound the events kept for one
	// instance that it does not await yet: how many, and their payload
	// bytes (0: DefaultMaxPendingEvents; 4 × MaxPayload). An event the
	// instance awaits right now is always taken.
	MaxPendingEvents int
	MaxPendingBytes  int
	// Random returns a uniform number in [0, 1) for retry jitter; nil: math/rand.
	Random func() float64
	// OnEvent, when set, sees every history event once it is committed
	// (metrics count steps, ends and errors with it). It must be quick.
	OnEvent func(workflow string, ev *store.Event)
	// Coordinator, when set, is the ownership service of a store other
	// sidecars share (usually the store itself): the engine then runs an
	// instance only while it holds its lease, and takes work from it
	// (shared.go). Nil: the engine owns every instance of its store.
	Coordinator store.Coordinator
	// OnStep, when set, is told how long each step took: the workflow, the
	// state, its kind (a task's routine kind, flow.KindOfRoutine, or the
	// state type) and the time (metrics time steps with it). It must be
	// quick. Nil costs nothing.
	OnStep func(workflow, state, kind string, took time.Duration)
	// Tracer, when set, records a span for the start of an instance, for
	// each run segment (under the instance's traceparent, which it keeps
	// across restarts) and for each step; a step's routine gets the step's
	// span in flow.Context.Span to open its calls' spans under. Nil is no
	// tracing, at no cost on the step path.
	Tracer flow.Tracer
}

// DefaultMaxPendingEvents is how many events an instance may be sent
// before it awaits them, unless Config says otherwise.
const DefaultMaxPendingEvents = 100

// Engine runs instances of the workflows of its bundles.
type Engine struct {
	store      store.Store
	clock      clock.Clock
	log        *slog.Logger
	compile    func([]flow.Source) (*flow.Bundle, error)
	maxPayload int
	maxCause   int        // bound of a recorded error cause
	maxPending int        // events kept for an instance that does not await them
	maxPendBy  int        // their payload bytes
	sends      keyedLocks // one Send per instance counts and keeps at a time
	random     func() float64
	onEvent    func(string, *store.Event)
	onStep     func(string, string, string, time.Duration)
	tracer     flow.Tracer
	waits      waitCounts // instances waiting, by kind (metrics)
	timers     *timerQueue
	observers  *observerQueue
	conc       *concurrency
	coord      store.Coordinator
	sharing    sharedState

	mu      sync.Mutex
	current *flow.Bundle
	bundles map[string]*flow.Bundle
	owners  map[string]*driver     // instances that have a driver now
	starts  map[string]*startClaim // ids that starts are creating now
	// suspects are running instances Open resumes one at a time, until
	// their turn comes (quarantine.go).
	suspects map[string]bool

	claimWaits atomic.Int64 // starts waiting for another start of their id (for tests)

	health  storeHealth
	closing chan struct{} // closed when Close begins: pending retries give up
	waiters map[string][]chan *store.Instance
	closed  bool
	drivers sync.WaitGroup

	rechecked chan struct{} // closed when Open's re-check is done
}

// New makes an engine. Call Load with a bundle and Open before starting
// instances.
func New(cfg Config) *Engine {
	e := &Engine{
		closing:    make(chan struct{}),
		clock:      cfg.Clock,
		log:        cfg.Log,
		compile:    cfg.Compile,
		maxPayload: cfg.MaxPayload,
		maxPending: cfg.MaxPendingEvents,
		maxPendBy:  cfg.MaxPendingBytes,
		random:     cfg.Random,
		onEvent:    cfg.OnEvent,
		coord:      cfg.Coordinator,
		onStep:     cfg.OnStep,
		tracer:     cfg.Tracer,
		bundles:    map[string]*flow.Bundle{},
		owners:     map[string]*driver{},
		starts:     map[string]*startClaim{},
		waiters:    map[string][]chan *store.Instance{},
	}
	e.store = watchedStore{Store: cfg.Store, e: e}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.maxPayload <= 0 {
		e.maxPayload = 256 << 10
	}
	// A caught error goes into the data, so its cause must leave room
	// there under the payload limit.
	e.maxCause = min(flow.MaxErrorCause, e.maxPayload/4)
	if e.maxPending <= 0 {
		e.maxPending = DefaultMaxPendingEvents
	}
	if e.maxPendBy <= 0 {
		e.maxPendBy = 4 * e.maxPayload
	}
	if e.random == nil {
		e.random = rand.Float64
	}
	e.timers = newTimerQueue(e.clock, e.fire)
	e.timers.gone, e.timers.drop = e.instanceGone, e.dropOrphanTimers
	e.observers = newObserverQueue(e)
	e.conc = newConcurrency()
	return e
}

// Load makes b the bundle new instances start on and keeps its sources in
// the store, so instances pinned to it survive reloads and restarts.
func (e *Engine) Load(ctx context.Context, b *flow.Bundle) error {
	e.mu.Lock()
	_, known := e.bundles[b.Hash]
	e.mu.Unlock()
	if !known {
		_, err := e.store.Bundle(b.Hash)
		if errors.Is(err, store.ErrDamaged) {
			// The hash names the sources, so these are what was kept.
			e.log.Warn("kept sources of the loaded bundle were damaged; they are stored again", "bundle", b.Hash, "err", err)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDamaged) {
			files := make(map[string][]byte, len(b.Sources))
			for _, s := range b.Sources {
				files[s.Path] = s.Body
			}
			batch := &store.Batch{Bundles: []store.BundleSources{{Hash: b.Hash, Files: files, AddedAt: e.clock.Now()}}}
			if err := e.store.Commit(ctx, batch); err != nil {
				return fmt.Errorf("keep bundle %s: %w", b.Hash, err)
			}
		} else if err != nil {
			return fmt.Errorf("read bundle %s: %w", b.Hash, err)
		}
	}
	e.mu.Lock()
	e.bundles[b.Hash] = b
	e.current = b
	e.mu.Unlock()
	return nil
}

// Bundle returns the current bundle (nil before Load).
func (e *Engine) Bundle() *flow.Bundle {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// bundle returns the bundle with that hash, recompiling kept sources when
// it is not in memory.
func (e *Engine) bundle(hash string) (*flow.Bundle, error) {
	e.mu.Lock()
	b := e.bundles[hash]
	e.mu.Unlock()
	if b != nil {
		return b, nil
	}
	if e.compile == nil {
		return nil, fmt.Errorf("bundle %s is not loaded", hash)
	}
	kept, err := e.store.Bundle(hash)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", hash, err)
	}
	files := make([]flow.Source, 0, len(kept.Files))
	for path, body := range kept.Files {
		files = append(files, flow.Source{Path: path, Body: body})
	}
	sortSources(files)
	b, err = e.compile(files)
	if err != nil {
		return nil, fmt.Errorf("recompile bundle %s: %w", hash, err)
	}
	e.mu.Lock()
	if prev := e.bundles[hash]; prev != nil {
		b = prev
	} else {
		e.bundles[hash] = b
	}
	e.mu.Unlock()
	return b, nil
}

// bundleFor picks the bundle that runs a new instance of workflow name: the
// current one, or with a version label the newest kept bundle carrying it.
func (e *Engine) bundleFor(name, version string) (*flow.Bundle, *flow.Workflow, error) {
	cur := e.Bundle()
	if cur == nil {
		return nil, nil, fmt.Errorf("%w %q: no bundle loaded", ErrUnknownWorkflow, name)
	}
	if wf := cur.Workflows[name]; wf != nil && (version == "" || wf.Version == version) {
		return cur, wf, nil
	}
	if version != "" {
		kept, err := e.keptBundles()
		if err != nil {
			return nil, nil, err
		}
		for _, b := range slices.Backward(kept) {
			if wf := b.Workflows[name]; wf != nil && wf.Version == version {
				return b, wf, nil
			}
		}
		return nil, nil, fmt.Errorf("%w %q version %q", ErrUnknownWorkflow, name, version)
	}
	return nil, nil, fmt.Errorf("%w %q", ErrUnknownWorkflow, name)
}

// keptBundles compiles (once each) the kept bundles, oldest first,
// leaving out any that no longer compile.
func (e *Engine) keptBundles() ([]*flow.Bundle, error) {
	kept, err := e.store.Bundles()
	if err != nil {
		return nil, err
	}
	out := make([]*flow.Bundle, 0, len(kept))
	for _, k := range kept {
		b, err := e.bundle(k.Hash)
		if err != nil {
			e.log.Warn("kept bundle does not compile", "bundle", k.Hash, "err", err)
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// Versions lists, for every workflow, the versions a start may name,
// oldest bundle first, each once: the kept bundles' and the current one's.
func (e *Engine) Versions() map[string][]string {
	kept, err := e.keptBundles()
	if err != nil {
		e.log.Warn("list kept bundles", "err", err)
	}
	if cur := e.Bundle(); cur != nil {
		kept = append(kept, cur)
	}
	out := map[string][]string{}
	for _, b := range kept {
		for name, wf := range b.Workflows {
			if !slices.Contains(out[name], wf.Version) {
				out[name] = append(out[name], wf.Version)
			}
		}
	}
	return out
}

// Open resumes every instance that had not ended: running states run
// again, timers are re-armed, waiting instances re-check what they wait for.
func (e *Engine) Open(ctx context.Context) error {
	if e.coord != nil {
		return e.openShared(ctx)
	}
	if err := e.loadTimers(); err != nil {
		return fmt.Errorf("load timers: %w", err)
	}
	var running, waiting, paused []string
	slotted := usesConcurrency(e.Bundle())
	if err := e.store.Unfinished(func(id string, st store.Status) error {
		switch st {
		case store.Running:
			running = append(running, id)
		case store.Waiting:
			waiting = append(waiting, id)
		case store.Queued, store.Paused:
			slotted = true // queued, or perhaps paused while queued
			e.waits.found(st)
			if st == store.Paused {
				paused = append(paused, id)
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("list unfinished instances: %w", err)
	}
	e.waits.uncounted(waiting)
	if slotted {
		// It lists the unfinished instances again rather than have every
		// open hold all their ids meanwhile.
		if err := e.concurrencyRestored(nil); err != nil {
			return err
		}
	}
	e.resumeRunning(running)
	e.rechecked = make(chan struct{})
	go func() {
		defer close(e.rechecked)
		e.recheck(append(waiting, paused...))
	}()
	e.timers.start()
	return nil
}

// loadTimers indexes the stored timers: the next window of them when the
// store can list timers from a point on, else all.
func (e *Engine) loadTimers() error {
	inner := e.store
	if w, ok := inner.(watchedStore); ok {
		inner = w.Store // reads need no watching
	}
	if src, ok := inner.(store.TimerRanger); ok {
		return e.timers.load(src, func(err error) { e.log.Error("read the next timers", "err", err) })
	}
	var orphans []store.Timer
	var seen map[string]bool
	err := e.store.Timers(func(t store.Timer) error {
		if e.timers.orphan(t, &seen) {
			orphans = append(orphans, t)
		} else {
			e.timers.add(t)
		}
		return nil
	})
	if err == nil && len(orphans) > 0 {
		e.dropOrphanTimers(orphans)
	}
	return err
}

// instanceGone reports whether the store holds no instance id, without
// decoding its record (the timer queue asks for every timer of a window
// it reads, under its lock). One it cannot read (a failed read) is not
// gone, nor is a damaged one.
func (e *Engine) instanceGone(id string) bool {
	held, err := e.store.Has(id)
	return err == nil && !held
}

// dropOrphanTimers deletes timers whose instance is gone. One not deleted
// stays unindexed until the next open, which looks at it again.
func (e *Engine) dropOrphanTimers(ts []store.Timer) {
	if err := e.store.Commit(context.Background(), &store.Batch{DelTimers: ts}); err != nil {
		e.log.Error("delete the timers of instances that are gone", "timers", len(ts), "instance", ts[0].Instance, "err", err)
		return
	}
	e.log.Warn("deleted the timers of instances that are gone", "timers", len(ts), "instance", ts[0].Instance)
}

// Rechecked waits until the background re-check of the waiting instances
// that Open started is done. Call it after Open.
func (e *Engine) Rechecked(ctx context.Context) error {
	select {
	case <-e.rechecked:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recheckWorkers bounds the drivers that re-check waiting instances after
// a restart, so that a hundred thousand of them cost a few loads at a time
// rather than a driver each at once.
const recheckWorkers = 8

// recheck wakes every waiting and paused instance once, in the
// background: one may have missed a wake-up (an event kept or a child
// ended just before the crash), or be a child whose parent ended and could
// not cancel it (cancelOrphan). A re-check is idempotent; timers need
// none, they fire from the heap.
func (e *Engine) recheck(ids []string) {
	var wg sync.WaitGroup
	next := make(chan string)
	for range min(recheckWorkers, len(ids)) {
		wg.Go(func() {
			for id := range next {
				e.ask(id, msgRecheck, "")
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}

// Close stops new work, lets every driver finish its current step and
// checkpoint, and returns when they have or ctx ends.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		close(e.closing)
	}
	e.closed = true
	for _, d := range e.owners {
		d.stop()
	}
	e.mu.Unlock()
	e.timers.stop()
	e.closeShared()
	e.observers.stop()
	done := make(chan struct{})
	go func() { e.drivers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// Out of grace: abandon the steps still running. Their instances stay
	// RUNNING in the store and run those steps again on the next open.
	e.mu.Lock()
	for _, d := range e.owners {
		if d.cancelStep != nil {
			d.cancelStep()
		}
	}
	e.mu.Unlock()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return ctx.Err()
}
