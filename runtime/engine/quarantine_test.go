package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// crash stops the engine as a dying process does, in the middle of the
// steps it runs, and opens it again on the same file: the steps are
// abandoned, not failed, and their instances stay RUNNING in the store.
func (h *harness) crash() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.engine.Close(ctx)
	h.engine = nil
	h.store.Close()
	h.open()
}

// stepper is a task routine whose calls the test steers: a call blocks
// until the step's context ends (the process goes down mid-call) unless
// its number is one the test lets complete.
type stepper struct {
	mu       sync.Mutex
	calls    int
	inFlight int
	complete func(call int) bool
	release  chan struct{} // a completing call waits for it, when not nil
}

func (s *stepper) routine() flow.Routine {
	return flow.RoutineFunc(func(ctx context.Context, _ any, _ *flow.Context) (any, error) {
		s.mu.Lock()
		s.calls++
		n := s.calls
		s.inFlight++
		s.mu.Unlock()
		defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
		if s.complete != nil && s.complete(n) {
			if s.release != nil {
				select {
				case <-s.release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return "done", nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
}

func (s *stepper) state() (calls, inFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.inFlight
}

// called waits until the routine has been called n times.
func (s *stepper) called(t *testing.T, name string, n int) {
	t.Helper()
	orbittest.For(t, orbittest.Timeout, func() error {
		if calls, _ := s.state(); calls < n {
			return fmt.Errorf("%s called %d times, waiting for %d", name, calls, n)
		}
		return nil
	})
}

func stepWorkflow(name string, s *stepper) *flow.Workflow {
	return workflow(name, "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: s.routine(), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Pass})
}

// An instance whose step stops the sidecar every time it runs is resumed
// twice; the third open sets it aside, FAILED with States.Quarantined,
// and a redrive runs it again.
func TestInstanceThatStopsTheSidecarTwiceIsQuarantined(t *testing.T) {
	bomb := &stepper{complete: func(call int) bool { return call > 3 }}
	h := newHarness(t, bundle(stepWorkflow("bomb", bomb)))
	id := h.start("bomb", `{}`)
	for n := 1; n <= 3; n++ { // the first run and two resumes, each cut short
		bomb.called(t, "bomb", n)
		h.crash()
	}
	in := h.end(id)
	want := "resumed 2 times without completing a step: the sidecar stopped during state A each time; redrive runs it again"
	if in.Status != store.Failed || in.Error != flow.ErrQuarantined || in.Cause != want {
		t.Fatalf("after three stops: %s %s: %s", in.Status, in.Error, in.Cause)
	}
	if calls, _ := bomb.state(); calls != 3 {
		t.Fatalf("the step ran %d times, want 3", calls)
	}
	evs := h.history(id)
	if last := evs[len(evs)-1]; last.Type != store.EventExecutionFailed || last.Error != flow.ErrQuarantined || last.Cause != want {
		t.Fatalf("history ends with %+v", last)
	}
	// Quarantine survives a restart, and a redrive runs it again, counting
	// from zero.
	h.restart()
	if in, _ := h.engine.Get(id); in.Status != store.Failed || in.Resumed != 0 {
		t.Fatalf("after a restart: %s, resumed %d", in.Status, in.Resumed)
	}
	if err := h.engine.Redrive(id); err != nil {
		t.Fatal(err)
	}
	if got := output(t, h.end(id)); got != "done" {
		t.Fatalf("redriven: %v", got)
	}
}

// The count is of resumes in a row: a step that completes after a resume
// writes it back to zero, so stopping in every other step never
// quarantines an instance.
func TestACompletedStepResetsTheCount(t *testing.T) {
	a := &stepper{complete: func(call int) bool { return call%2 == 0 }}
	wf := workflow("steps", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: a.routine(), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Task, Routine: a.routine(), Next: "C"},
		&flow.State{Name: "C", Kind: flow.Task, Routine: a.routine()})
	h := newHarness(t, bundle(wf))
	id := h.start("steps", `{}`)
	for n := 1; n <= 5; n += 2 { // A, B and C each stop the sidecar once
		a.called(t, "step", n)
		h.crash()
	}
	if got := output(t, h.end(id)); got != "done" {
		t.Fatalf("output %v", got)
	}
	if in, _ := h.engine.Get(id); in.Resumed != 0 {
		t.Fatalf("resumed %d after the end", in.Resumed)
	}
}

// A crash stops every instance that runs then. Once the one that brings
// the sidecar down has been resumed, the instances resumed with it are
// suspects, and run their steps one at a time: only the culprit is
// counted a second time, and only it is quarantined.
func TestBystandersOfACrashLoopAreNotQuarantined(t *testing.T) {
	bomb := &stepper{}
	// The bystander's step is cut by the first two crashes; then it
	// completes when the test lets it.
	bystander := &stepper{complete: func(call int) bool { return call > 2 }, release: make(chan struct{})}
	h := newHarness(t, bundle(stepWorkflow("bomb", bomb), stepWorkflow("bystander", bystander)))
	bombID := h.start("bomb", `{}`)
	byID := h.start("bystander", `{}`)
	for n := 1; n <= 2; n++ { // the first run and the first resume: both run, both are cut
		bomb.called(t, "bomb", n)
		bystander.called(t, "bystander", n)
		h.crash()
	}
	// Both are suspects now: they are resumed one at a time, whatever the
	// order. While one runs, the other is not started.
	orbittest.For(t, orbittest.Timeout, func() error {
		b, _ := bomb.state()
		s, _ := bystander.state()
		if b < 3 && s < 3 {
			return errors.New("no suspect resumed yet")
		}
		return nil
	})
	if calls, _ := bystander.state(); calls == 3 {
		// The bystander went first: the bomb waits until its step is done.
		if b, _ := bomb.state(); b != 2 {
			t.Fatalf("the bomb ran beside the suspect bystander (%d calls)", b)
		}
		close(bystander.release)
		h.until(byID, "succeeded", func(in *store.Instance) bool { return in.Status == store.Succeeded })
		bomb.called(t, "bomb", 3)
	} else if s, _ := bystander.state(); s != 2 {
		t.Fatalf("the bystander ran beside the suspect bomb (%d calls)", s)
	} else {
		close(bystander.release)
	}
	h.crash() // the bomb stops the sidecar a third time
	in := h.end(bombID)
	if in.Status != store.Failed || in.Error != flow.ErrQuarantined {
		t.Fatalf("bomb: %s %s: %s", in.Status, in.Error, in.Cause)
	}
	if got := output(t, h.end(byID)); got != "done" {
		t.Fatalf("bystander: %v", got)
	}
	if strings.Contains(fmt.Sprint(h.history(byID)), flow.ErrQuarantined) {
		t.Fatal("the bystander was quarantined")
	}
}
