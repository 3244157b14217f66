package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

func versioned(hash, version string, wfs ...*flow.Workflow) *flow.Bundle {
	b := bundle(wfs...)
	b.Hash = hash
	b.Sources = []flow.Source{{Path: "bundle", Body: []byte(hash)}}
	registry[hash] = b
	for _, w := range wfs {
		w.Version = version
	}
	return b
}

func TestMigrate(t *testing.T) {
	v1 := versioned("h1", "v1", workflow("order", "Gate",
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "paid", Result: path("$.paid")}),
		workflow("nap", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour}))
	v2wf := workflow("order", "Gate",
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "paid", Result: path("$.paid"), Next: "Stamp"},
		&flow.State{Name: "Stamp", Kind: flow.Pass, HasValue: true, Value: "v2", Result: path("$.by")})
	v2wf.Migrate = func(from, state string, data any) (string, any, error) {
		m := data.(map[string]any)
		return state, map[string]any{"from": from, "n": m["n"]}, nil
	}
	v2 := versioned("h2", "v2", v2wf,
		workflow("nap", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Await, Event: "wake"}))

	h := newHarness(t, v1)
	order := h.start("order", `{"n":1}`)
	nap := h.start("nap", `{}`)
	h.waitingFor(order, "event")
	h.waitingFor(nap, "timer")
	if err := h.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}

	dry, err := h.engine.MigrateWorkflow(context.Background(), "order", "v2", true)
	if err != nil || len(dry) != 1 || dry[0].Moved || !dry[0].WouldMove || dry[0].State != "Gate" {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if in, _ := h.engine.Get(order); in.Version != "v1" {
		t.Fatalf("dry run moved the instance to %s", in.Version)
	}

	m, err := h.engine.Migrate(nap, "v2", false)
	if err != nil || m.Moved || !strings.Contains(m.Reason, `waits on a timer but state "Sleep" is a await`) {
		t.Fatalf("nap: %+v %v", m, err)
	}
	if m, _ := h.engine.Migrate(order, "v1", false); m.Moved || !strings.Contains(m.Reason, "already runs version v1") {
		t.Fatalf("same version: %+v", m)
	}

	m, err = h.engine.Migrate(order, "v2", false)
	if err != nil || !m.Moved || m.From != "v1" || m.To != "v2" {
		t.Fatalf("order: %+v %v", m, err)
	}
	h.restart() // the move is durable
	if err := h.engine.Send(context.Background(), order, "paid", []byte(`true`)); err != nil {
		t.Fatal(err)
	}
	if got := js(output(t, h.end(order))); got != `{"by":"v2","from":"v1","n":1,"paid":true}` {
		t.Fatalf("output %s", got)
	}
	var migrated *store.Event
	for _, e := range h.history(order) {
		if e.Type == "Migrated" {
			migrated = &e
		}
	}
	if migrated == nil || migrated.From != "v1" || migrated.To != "v2" {
		t.Fatalf("Migrated event %+v", migrated)
	}
	if m, _ := h.engine.Migrate(order, "v2", false); m.Moved || !strings.Contains(m.Reason, "ended") {
		t.Fatalf("ended: %+v", m)
	}
}

func TestSweepPurgesEndedAndUnneededBundles(t *testing.T) {
	old := versioned("old", "v1", workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go"}))
	h := newHarness(t, old)
	ctx := context.Background()
	waiting := h.start("w", `{}`)
	done := h.start("w", `{}`)
	h.waitingFor(waiting, "event")
	h.waitingFor(done, "event")
	h.engine.Send(ctx, done, "go", nil)
	h.end(done)
	unused := versioned("unused", "v2", workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	cur := versioned("current", "v3", workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	h.engine.Load(ctx, unused)
	h.engine.Load(ctx, cur)

	h.clock.Advance(2 * time.Hour)
	idle(t, h.engine, done)
	purged, dropped, err := h.engine.Sweep(ctx, time.Hour)
	if err != nil || purged != 1 || dropped != 1 {
		t.Fatalf("purged %d, dropped %d, %v", purged, dropped, err)
	}
	if _, err := h.engine.Get(done); err != store.ErrNotFound {
		t.Fatalf("ended instance still there: %v", err)
	}
	if _, err := h.store.Bundle("old"); err != nil {
		t.Fatalf("bundle of a waiting instance dropped: %v", err)
	}
	if _, err := h.store.Bundle("unused"); err != store.ErrNotFound {
		t.Fatalf("unused bundle kept: %v", err)
	}
	h.engine.Send(ctx, waiting, "go", nil)
	output(t, h.end(waiting))
}

// Versions are read from every kept bundle, oldest first and each once,
// also after a restart, when the kept bundles are compiled again.
func TestVersionsOfKeptBundles(t *testing.T) {
	w := func() *flow.Workflow { return workflow("w", "A", &flow.State{Name: "A", Kind: flow.Succeed}) }
	h := newHarness(t, versioned("k1", "v1", w()))
	for _, b := range []*flow.Bundle{versioned("k2", "v2", w()), versioned("k3", "v1", w())} {
		if err := h.engine.Load(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		h.bundle = b
	}
	for range 2 {
		if got := h.engine.Versions()["w"]; !slices.Equal(got, []string{"v1", "v2"}) {
			t.Fatalf("versions %v, want [v1 v2]", got)
		}
		h.restart()
	}
	if got := h.engine.Versions()["other"]; len(got) != 0 {
		t.Errorf("versions of an unknown workflow %v", got)
	}
}

// A migrate function's error is the reason a migration is refused, and a
// migration of a whole workflow answers one per instance: a function that
// failed with a 16 MiB message made an answer of 16 MiB per instance. The
// reason is cut as a recorded cause is.
func TestMigrationRefusalIsBounded(t *testing.T) {
	v1 := versioned("hb1", "v1", workflow("order", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "paid"}))
	v2wf := workflow("order", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "paid"})
	v2wf.Migrate = func(string, string, any) (string, any, error) {
		return "", nil, errors.New(strings.Repeat("e", 16<<20))
	}
	v2 := versioned("hb2", "v2", v2wf)
	h := newHarness(t, v1)
	for range 3 {
		h.waitingFor(h.start("order", `{}`), "event")
	}
	if err := h.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	ms, err := h.engine.MigrateWorkflow(context.Background(), "order", "v2", true)
	if err != nil || len(ms) != 3 {
		t.Fatalf("%d migrations, %v", len(ms), err)
	}
	for _, m := range ms {
		if m.Moved || !strings.HasPrefix(m.Reason, "migrate function: eee") {
			t.Fatalf("%s moved %v: %.60s", m.Instance, m.Moved, m.Reason)
		}
		checkBounded(t, "migration of "+m.Instance, "", m.Reason)
	}
}
