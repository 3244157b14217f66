package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/flow/flowtest"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness is an engine on a real bbolt file with a fake clock. The engine
// writes through faults, which passes everything on until a test makes
// writes fail or wait.
type harness struct {
	t      *testing.T
	clock  *clock.Fake
	path   string
	store  *bolt.DB
	faults *storetest.Faulty
	engine *engine.Engine
	bundle *flow.Bundle
	config func(*engine.Config) // adjusts the engine's configuration on every open
}

func newHarness(t *testing.T, b *flow.Bundle) *harness {
	t.Helper()
	return newHarnessWith(t, b, nil)
}

// newHarnessWith is newHarness with config adjusting the engine's
// configuration.
func newHarnessWith(t *testing.T, b *flow.Bundle, config func(*engine.Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock.NewFake(epoch), path: filepath.Join(t.TempDir(), "orbit.db"), bundle: b, config: config}
	h.open()
	t.Cleanup(func() { h.close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := bolt.Open(h.path, bolt.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = st
	h.faults = storetest.NewFaulty(st)
	cfg := engine.Config{Store: h.faults, Clock: h.clock, Random: func() float64 { return 0.5 },
		Compile: func(files []flow.Source) (*flow.Bundle, error) {
			// Test bundles are Go values; their one source names them.
			for _, f := range files {
				if b := registry[string(f.Body)]; b != nil {
					return b, nil
				}
			}
			return h.bundle, nil
		}}
	if h.config != nil {
		h.config(&cfg)
	}
	h.engine = engine.New(cfg)
	if err := h.engine.Load(context.Background(), h.bundle); err != nil {
		h.t.Fatal(err)
	}
	if err := h.engine.Open(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) close() {
	if h.engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.engine.Close(ctx)
	h.store.Close()
	h.engine = nil
}

// restart closes the engine and store and opens both again on the same file.
func (h *harness) restart() {
	h.close()
	h.open()
}

func (h *harness) start(wf string, input string) string {
	h.t.Helper()
	return h.startID(wf, "", input)
}

func (h *harness) startID(wf, id, input string) string {
	h.t.Helper()
	in, _, err := h.engine.Start(context.Background(), wf, engine.StartOptions{ID: id, Input: json.RawMessage(input)})
	if err != nil {
		h.t.Fatalf("start %s: %v", wf, err)
	}
	return in.ID
}

// end waits for the instance to end and returns it.
func (h *harness) end(id string) *store.Instance {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := h.engine.Wait(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	if !in.Status.Terminal() {
		h.t.Fatalf("instance %s did not end: %s at %s waiting %+v", id, in.Status, in.State, in.Waiting)
	}
	return in
}

// until polls the instance until cond holds.
func (h *harness) until(id string, what string, cond func(*store.Instance) bool) *store.Instance {
	h.t.Helper()
	return orbittest.Until(h.t, orbittest.Timeout, "instance "+id+" "+what,
		func() (*store.Instance, error) { return h.engine.Get(id) }, cond)
}

func (h *harness) waitingFor(id string, kind store.WaitingKind) *store.Instance {
	h.t.Helper()
	return h.until(id, "waiting for "+string(kind), func(in *store.Instance) bool {
		return in.Status == store.Waiting && in.Waiting != nil && in.Waiting.Kind == kind
	})
}

// advance moves the fake clock once the engine has armed its timers.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	orbittest.For(h.t, orbittest.Timeout, func() error {
		if h.clock.Waiters() == 0 {
			return errors.New("no timer armed")
		}
		return nil
	})
	h.clock.Advance(d)
}

func (h *harness) history(id string) []store.Event {
	h.t.Helper()
	evs, err := h.engine.History(id, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func types(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type)
	}
	return out
}

func output(t *testing.T, in *store.Instance) any {
	t.Helper()
	if in.Status != store.Succeeded {
		t.Fatalf("instance %s is %s (%s: %s), want SUCCEEDED", in.ID, in.Status, in.Error, in.Cause)
	}
	var v any
	if err := json.Unmarshal(in.Output, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Builders keep test workflows short.

// registry finds test bundles by hash when the engine recompiles kept ones.
var registry = map[string]*flow.Bundle{}

var (
	bundle   = flowtest.Bundle
	machine  = flowtest.Machine
	workflow = flowtest.Workflow
)

func sub(start string, states ...*flow.State) *flow.Machine {
	m := machine(start, states...)
	return &m
}

func fn(f func(in any, c *flow.Context) (any, error)) flow.Routine {
	return flow.RoutineFunc(func(_ context.Context, in any, c *flow.Context) (any, error) { return f(in, c) })
}

func path(s string) *flow.Path { return flow.MustPath(s) }

// num reads a number of the data a routine gets (a json.Number, as data
// keeps numbers as written) or makes.
func num(v any) float64 {
	f, ok := flow.Number(v)
	if !ok {
		panic(fmt.Sprintf("%v (%T) is not a number", v, v))
	}
	return f
}

// calls records routine invocations safely across goroutines.
type calls struct {
	mu   sync.Mutex
	keys []string
	ctxs []flow.Context
}

func (c *calls) add(fc *flow.Context) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, fc.IdempotencyKey)
	c.ctxs = append(c.ctxs, *fc)
	return len(c.keys)
}

func (c *calls) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}
