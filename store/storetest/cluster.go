package storetest

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Node is one sidecar's view of a shared store: the store and its
// ownership service.
type Node interface {
	store.Store
	store.Coordinator
}

// ClusterOpener opens n sidecars' views of the store kept at path, each
// with leases of ttl. A store that no other sidecar shares passes the
// suite as a cluster of one (n is then 1 whatever was asked).
type ClusterOpener func(t *testing.T, path string, n int, ttl time.Duration) []Node

// leaseTTL is the suite's lease: short, so that lapses come quickly.
const leaseTTL = time.Second

// RunCluster checks the ownership contract of store.Coordinator: leases
// are exclusive and fence stale writes, lapsed leases can be claimed,
// wake-ups and due timers reach exactly one sidecar, and work a sidecar
// does not settle comes back.
func RunCluster(t *testing.T, open ClusterOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, nodes []Node)
	}{
		{"ClaimIsExclusive", testClaimIsExclusive},
		{"StaleWriteRefused", testStaleWriteRefused},
		{"LapsedLeaseTakenOver", testLapsedLeaseTakenOver},
		{"WakeReachesOneNode", testWakeReachesOneNode},
		{"UnsettledWorkReturns", testUnsettledWorkReturns},
		{"TimerFiresOnce", testTimerFiresOnce},
		{"DeletedTimerNeverFires", testDeletedTimerNeverFires},
		{"CallReachesOwner", testCallReachesOwner},
		{"AbandonedInstanceWoken", testAbandonedInstanceWoken},
		{"SlotsShared", testSlotsShared},
		{"SlotOfEndedInstanceFreed", testSlotOfEndedInstanceFreed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodes := open(t, filepath.Join(t.TempDir(), "orbit.db"), 3, leaseTTL)
			t.Cleanup(func() {
				for _, n := range nodes {
					n.Close()
				}
			})
			tc.fn(t, nodes)
		})
	}
}

func claim(t *testing.T, n Node, id string) store.Lease {
	t.Helper()
	l, err := n.Claim(context.Background(), id)
	if err != nil {
		t.Fatalf("%s claims %s: %v", n.Node(), id, err)
	}
	if l.Instance != id || l.Node != n.Node() || l.Token == 0 {
		t.Fatalf("%s claims %s: lease %+v", n.Node(), id, l)
	}
	return l
}

func testClaimIsExclusive(t *testing.T, nodes []Node) {
	a := nodes[0]
	l := claim(t, a, "x")
	again := claim(t, a, "x") // a holder's claim renews
	if again.Token <= l.Token {
		t.Errorf("a renewal kept token %d (was %d); want a larger one", again.Token, l.Token)
	}
	for _, b := range nodes[1:] {
		_, err := b.Claim(context.Background(), "x")
		var owned *store.OwnedError
		if !errors.Is(err, store.ErrOwned) || !errors.As(err, &owned) || owned.Node != a.Node() || owned.Instance != "x" {
			t.Errorf("%s claimed an instance %s holds: %v", b.Node(), a.Node(), err)
		}
	}
	// Another instance is free for anyone.
	claim(t, nodes[len(nodes)-1], "y")
	// A released lease is free at once.
	if err := a.Release(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	claim(t, nodes[len(nodes)-1], "x")
}

// testStaleWriteRefused writes as an owner that lost its lease: the
// write is refused whole and the store keeps what the new owner wrote.
func testStaleWriteRefused(t *testing.T, nodes []Node) {
	ctx := context.Background()
	a, b := nodes[0], nodes[len(nodes)-1]
	la := claim(t, a, "x")
	in := newInstance("x", "wf", store.Running, at(0))
	in.Seq = 1
	if err := a.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{in}, Events: []store.Event{event("x", 1, "ExecutionStarted")}}, &la); err != nil {
		t.Fatalf("owner's write: %v", err)
	}
	stale := la // what a owned before it lost the lease

	// The lease changes hands: released here (a lapse, as when a pauses
	// for longer than the lease, is the next test's), then claimed.
	if err := a.Release(ctx, la); err != nil {
		t.Fatal(err)
	}
	lb := claim(t, b, "x")
	newer := in.Clone()
	newer.State, newer.Seq = "ByB", 2
	if err := b.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{newer}, Events: []store.Event{event("x", 2, "StateEntered")}}, &lb); err != nil {
		t.Fatalf("new owner's write: %v", err)
	}

	late := in.Clone()
	late.State, late.Seq = "LateByA", 3
	err := a.CommitLeased(ctx, &store.Batch{
		Instances: []*store.Instance{late},
		Events:    []store.Event{event("x", 3, "TaskSucceeded")},
		SetTimers: []store.Timer{{At: at(50), Instance: "x", Kind: "late"}},
	}, &stale)
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's write: %v, want store.ErrFenced", err)
	}
	// The new owner goes on writing, at once: its lease lapses after
	// leaseTTL unrenewed, which the reads below can outlast on a busy
	// machine.
	newer.Seq = 3
	if err := b.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{newer}}, &lb); err != nil {
		t.Errorf("new owner's second write: %v", err)
	}
	if got := mustInstance(t, a, "x"); got.State != "ByB" {
		t.Errorf("after the stale write the record is at state %q, want ByB", got.State)
	}
	if h, _ := a.History("x", 0, 0); len(h) != 2 {
		t.Errorf("after the stale write the history has %d events, want 2", len(h))
	}
	for _, tm := range timers(t, a) {
		if tm.Kind == "late" {
			t.Error("the stale write's timer was kept")
		}
	}
	// A renewal with the stale lease is refused too.
	if err := a.Renew(ctx, &stale); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale renewal: %v, want store.ErrFenced", err)
	}
}

// testLapsedLeaseTakenOver lets a lease lapse without renewal: another
// sidecar claims it, and the old holder's write is refused.
func testLapsedLeaseTakenOver(t *testing.T, nodes []Node) {
	if len(nodes) < 2 {
		t.Skip("a cluster of one has no other sidecar to take over")
	}
	ctx := context.Background()
	a, b := nodes[0], nodes[1]
	la := claim(t, a, "x")
	deadline := time.Now().Add(10 * leaseTTL)
	var lb store.Lease
	for {
		var err error
		if lb, err = b.Claim(ctx, "x"); err == nil {
			break
		}
		if !errors.Is(err, store.ErrOwned) || time.Now().After(deadline) {
			t.Fatalf("claim after the lease lapsed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lb.Token <= la.Token {
		t.Errorf("takeover token %d not above the lapsed one %d", lb.Token, la.Token)
	}
	err := a.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{newInstance("x", "wf", store.Running, at(0))}}, &la)
	if !errors.Is(err, store.ErrFenced) {
		t.Errorf("write with a lapsed lease: %v, want store.ErrFenced", err)
	}
	if _, err := a.Instance("x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the lapsed owner's record was written: %v", err)
	}
}

// collector gathers the work every node receives.
type collector struct {
	mu   sync.Mutex
	got  []delivered
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type delivered struct {
	node string
	work store.Work
}

// collect pulls work on every node until the test ends; settle decides
// what each node does with it.
func collect(t *testing.T, nodes []Node, settle func(store.Work)) *collector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{stop: cancel}
	for _, n := range nodes {
		c.wg.Go(func() {
			for {
				w, err := n.Work(ctx)
				if err != nil {
					return
				}
				c.mu.Lock()
				c.got = append(c.got, delivered{n.Node(), w})
				c.mu.Unlock()
				settle(w)
			}
		})
	}
	t.Cleanup(func() { cancel(); c.wg.Wait() })
	return c
}

func (c *collector) deliveries() []delivered {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]delivered(nil), c.got...)
}

// waitFor waits until at least n deliveries arrived and returns them.
func (c *collector) waitFor(t *testing.T, n int, within time.Duration) []delivered {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := c.deliveries()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries after %s, want %d: %+v", len(got), within, n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quiet checks that no more than n deliveries arrive in a while: longer
// than work stays with a sidecar, so a redelivery would have come.
func (c *collector) quiet(t *testing.T, n int) {
	t.Helper()
	time.Sleep(3 * leaseTTL)
	if got := c.deliveries(); len(got) != n {
		t.Errorf("%d deliveries, want %d: %+v", len(got), n, got)
	}
}

func done(w store.Work) { w.Ack.Done() }

func testWakeReachesOneNode(t *testing.T, nodes []Node) {
	c := collect(t, nodes, done)
	if err := nodes[0].Wake(context.Background(), "x", "y"); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 2, 10*time.Second)
	ids := map[string]int{}
	for _, d := range got {
		if d.work.Timer != nil || d.work.Delivery != 1 {
			t.Errorf("wake-up delivered as %+v", d.work)
		}
		ids[d.work.Instance]++
	}
	if ids["x"] != 1 || ids["y"] != 1 {
		t.Errorf("deliveries by instance: %v", ids)
	}
	c.quiet(t, 2)
	// A wake in a checkpoint is delivered as well.
	if err := nodes[len(nodes)-1].Commit(context.Background(), &store.Batch{
		Instances: []*store.Instance{newInstance("z", "wf", store.Running, at(0))}, Wake: []string{"z"},
	}); err != nil {
		t.Fatal(err)
	}
	if got := c.waitFor(t, 3, 10*time.Second); got[2].work.Instance != "z" {
		t.Errorf("third delivery: %+v", got[2])
	}
}

// testUnsettledWorkReturns drops the first delivery as a sidecar that
// died would: the work comes again, to some sidecar, marked redelivered.
func testUnsettledWorkReturns(t *testing.T, nodes []Node) {
	var mu sync.Mutex
	first := true
	c := collect(t, nodes, func(w store.Work) {
		mu.Lock()
		drop := first
		first = false
		mu.Unlock()
		if !drop {
			w.Ack.Done()
		}
	})
	if err := nodes[0].Wake(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 2, 10*leaseTTL)
	if got[1].work.Instance != "x" || got[1].work.Delivery < 2 {
		t.Errorf("redelivery: %+v", got[1].work)
	}
	c.quiet(t, 2)
}

func testTimerFiresOnce(t *testing.T, nodes []Node) {
	c := collect(t, nodes, done)
	due := time.Now().Add(time.Second).UTC()
	tm := store.Timer{At: due, Instance: "a.b", Kind: "observe:3:0:1"}
	if err := nodes[0].Commit(context.Background(), &store.Batch{SetTimers: []store.Timer{tm}}); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 1, 10*time.Second)
	w := got[0].work
	if w.Instance != "a.b" || w.Timer == nil || w.Timer.Kind != tm.Kind || !w.Timer.At.Equal(due) {
		t.Fatalf("fired timer delivered as %+v (timer %+v)", w, w.Timer)
	}
	if now := time.Now(); now.Before(due) {
		t.Errorf("timer due at %s delivered at %s", due, now)
	}
	c.quiet(t, 1)
}

func testDeletedTimerNeverFires(t *testing.T, nodes []Node) {
	c := collect(t, nodes, done)
	tm := store.Timer{At: time.Now().Add(2 * time.Second), Instance: "x", Kind: "wake"}
	ctx := context.Background()
	if err := nodes[0].Commit(ctx, &store.Batch{SetTimers: []store.Timer{tm}}); err != nil {
		t.Fatal(err)
	}
	if err := nodes[len(nodes)-1].Commit(ctx, &store.Batch{DelTimers: []store.Timer{tm}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(tm.At))
	c.quiet(t, 0)
}

// testCallReachesOwner has one sidecar ask the holder of a lease.
func testCallReachesOwner(t *testing.T, nodes []Node) {
	a, b := nodes[0], nodes[len(nodes)-1]
	if err := a.Serve(func(req []byte) []byte { return append([]byte(a.Node()+" got "), req...) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := b.Call(ctx, a.Node(), []byte("cancel x"))
	if err != nil || string(got) != a.Node()+" got cancel x" {
		t.Errorf("call: %q, %v", got, err)
	}
}

// testAbandonedInstanceWoken has a sidecar write instances under its
// lease and then stop, as one killed would: an instance left running, or
// ended without giving its concurrency slot back, is delivered as work
// for another sidecar to take over, while one that parked, whose lease
// its holder kept renewing, or that gave its slot back, is not.
//
// Each instance's checkpoints follow its claim and each other at once, as
// a live holder's do: a lease left unrenewed while the sidecar wrote the
// other instances could lapse on a busy machine (it lives leaseTTL), and
// its next checkpoint was then fenced, however sound the store.
func testAbandonedInstanceWoken(t *testing.T, nodes []Node) {
	if len(nodes) < 2 {
		t.Skip("a cluster of one has no other sidecar to take over")
	}
	ctx := context.Background()
	a := nodes[0]
	slots := store.SlotKey{Workflow: "wf", Key: "k"}
	write := func(id string, status store.Status, l *store.Lease, seq uint64) {
		t.Helper()
		in := newInstance(id, "wf", status, at(0))
		in.Seq = seq
		if id == "ended" || id == "released" {
			in.ConcKey = slots.Key
		}
		if err := a.CommitLeased(ctx, &store.Batch{Instances: []*store.Instance{in}, Events: []store.Event{event(id, seq, "StateEntered")}}, l); err != nil {
			t.Fatalf("write %s %s: %v", id, status, err)
		}
	}
	// run claims id and writes a checkpoint of each status in turn.
	run := func(id string, statuses ...store.Status) *store.Lease {
		t.Helper()
		l := claim(t, a, id)
		for i, status := range statuses {
			write(id, status, &l, uint64(i+1))
		}
		return &l
	}
	run("running", store.Running)
	run("parked", store.Running, store.Waiting)
	for _, id := range []string{"ended", "released"} {
		if held, err := a.AcquireSlot(ctx, slots, 2, id); err != nil || !held {
			t.Fatalf("slot for %s: %v, %v", id, held, err)
		}
		run(id, store.Running, store.Succeeded)
	}
	if err := a.ReleaseSlot(ctx, slots, "released"); err != nil {
		t.Fatal(err)
	}

	c := collect(t, nodes[1:], done) // a takes no work: it is gone
	// a renews one lease for three lease lives, then lets the instance
	// go as it ends.
	kept := run("kept", store.Running)
	for range 12 {
		if err := a.Renew(ctx, kept); err != nil {
			t.Fatal(err)
		}
		time.Sleep(leaseTTL / 4)
	}
	write("kept", store.Succeeded, kept, 2)
	if err := a.Release(ctx, *kept); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 2, 10*leaseTTL)
	woken := map[string]bool{}
	for _, d := range got {
		if d.work.Timer != nil {
			t.Errorf("delivered %+v, want a wake-up", d.work)
		}
		woken[d.work.Instance] = true
	}
	if !woken["running"] || !woken["ended"] {
		t.Errorf("woken: %v, want the instance left running and the one that ended holding a slot", woken)
	}
	c.quiet(t, 2)
}

// storeAs stores instances with a status, as their starts would.
func storeAs(t *testing.T, n Node, status store.Status, ids ...string) {
	t.Helper()
	var b store.Batch
	for _, id := range ids {
		b.Instances = append(b.Instances, newInstance(id, "wf", status, at(0)))
	}
	if err := n.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func acquire(t *testing.T, n Node, k store.SlotKey, limit int, id string, want bool) {
	t.Helper()
	held, err := n.AcquireSlot(context.Background(), k, limit, id)
	if err != nil || held != want {
		t.Fatalf("%s acquires a slot of %s for %s: %v, %v; want %v", n.Node(), k.Key, id, held, err, want)
	}
}

// testSlotsShared takes the slots of one key from every sidecar: they
// count together, queued instances are admitted in arrival order as
// slots are given back, each woken once, and another key or workflow
// has slots of its own.
func testSlotsShared(t *testing.T, nodes []Node) {
	ctx := context.Background()
	k := store.SlotKey{Workflow: "wf", Key: "order-1"}
	on := func(i int) Node { return nodes[i%len(nodes)] }
	storeAs(t, nodes[0], store.Running, "i1", "i2")
	storeAs(t, nodes[0], store.Queued, "i3", "i4", "i5")
	c := collect(t, nodes, done)
	acquire(t, on(0), k, 2, "i1", true)
	acquire(t, on(1), k, 2, "i2", true)
	acquire(t, on(2), k, 2, "i3", false)
	acquire(t, on(0), k, 2, "i4", false)
	acquire(t, on(1), k, 2, "i5", false)
	acquire(t, on(2), k, 2, "i1", true)  // asking again changes nothing
	acquire(t, on(2), k, 2, "i4", false) // nor does it move a queued one up
	acquire(t, on(0), store.SlotKey{Workflow: "wf", Key: "order-2"}, 1, "i5", true)
	acquire(t, on(0), store.SlotKey{Workflow: "other", Key: "order-1"}, 1, "i5", true)

	if err := on(1).ReleaseSlot(ctx, k, "i2"); err != nil {
		t.Fatal(err)
	}
	got := c.waitFor(t, 1, 10*time.Second)
	if w := got[0].work; w.Instance != "i3" || w.Timer != nil {
		t.Errorf("after a release: %+v, want a wake-up of i3, the first queued", w)
	}
	acquire(t, on(2), k, 2, "i3", true)
	acquire(t, on(0), k, 2, "i4", false)
	// A queued instance that gives its place up (cancelled) is not
	// admitted; the next one is.
	if err := on(0).ReleaseSlot(ctx, k, "i4"); err != nil {
		t.Fatal(err)
	}
	if err := on(0).ReleaseSlot(ctx, k, "i1"); err != nil {
		t.Fatal(err)
	}
	got = c.waitFor(t, 2, 10*time.Second)
	if w := got[1].work; w.Instance != "i5" {
		t.Errorf("after the second release: %+v, want a wake-up of i5", w)
	}
	acquire(t, on(1), k, 2, "i5", true)
	c.quiet(t, 2)
}

// testSlotOfEndedInstanceFreed has a holder end without giving its slot
// back, as when its sidecar died in between: the next acquire frees the
// slot. A holder whose start is still being written keeps its slot.
func testSlotOfEndedInstanceFreed(t *testing.T, nodes []Node) {
	k := store.SlotKey{Workflow: "wf", Key: "k"}
	a, b := nodes[0], nodes[len(nodes)-1]
	storeAs(t, a, store.Running, "x")
	acquire(t, a, k, 1, "x", true)
	acquire(t, b, k, 1, "y", false)
	storeAs(t, a, store.Succeeded, "x")
	acquire(t, b, k, 1, "y", true)
	// "z" is not stored yet: its start is being written.
	acquire(t, a, store.SlotKey{Workflow: "wf", Key: "new"}, 1, "z", true)
	acquire(t, b, store.SlotKey{Workflow: "wf", Key: "new"}, 1, "w", false)
}
