package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// Config sizes a run.
type Config struct {
	Target    Target
	Instances int
	Kills     int
	Seed      uint64
	// MaxUptime is the longest a sidecar runs before a timed kill; each
	// timed kill falls at a random moment up to it.
	MaxUptime time.Duration
	// Settle bounds how long the instances may take to end after the last
	// kill.
	Settle time.Duration
}

// How a kill came (Summary.KillsBy).
const (
	byTimer      = "timer"          // the test's SIGKILL at a random moment
	byDownstream = "downstream"     // SIGKILL while the downstream held a call, before or after answering it
	byStartup    = "before-listen"  // a fault point hit before the sidecar listened
	byFaultKill  = "fault"          // prefix of a fault point's kill: "fault:bolt.applied"
	byLastCheck  = "after-all-ends" // one more kill once everything ended, before the checks
)

// run is one crash test in progress.
type run struct {
	tb   testing.TB
	cfg  Config
	rng  *rand.Rand
	bin  string
	dir  string
	args []string
	env  []string
	down *downstream
	cl   *client

	mu      sync.Mutex
	sum     Summary
	proc    *orbittest.Process
	results map[string]*result
}

// result is what the test's client saw of one instance.
type result struct {
	acked   bool
	resent  bool
	clientE []string // what went wrong on the client's side
}

func (r *run) note(id, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[id].clientE = append(r.results[id].clientE, fmt.Sprintf(format, args...))
}

// Run starts the sidecar on cfg.Target, drives cfg.Instances instances
// through cfg.Kills kills and restarts, lets everything end, kills it once
// more and checks the invariants. It returns what it found; Summary.Failed
// says whether anything was lost, wrong or duplicated.
func Run(tb testing.TB, cfg Config) Summary {
	tb.Helper()
	r := &run{tb: tb, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6372617368)), dir: tb.TempDir(),
		results: map[string]*result{}}
	r.sum = Summary{Target: cfg.Target.Name, Seed: cfg.Seed, Instances: cfg.Instances, KillsBy: map[string]int{}}
	r.bin = faultBinary(tb)
	began := time.Now() // the run, not the build
	tb.Cleanup(func() {
		if r.proc != nil {
			r.proc.Process.Kill()
			r.proc.Wait()
		}
	})
	var err error
	if r.down, err = newDownstream(cfg.Seed); err != nil {
		tb.Fatal(err)
	}
	defer r.down.close()
	plugins := filepath.Join(r.dir, "plugins.d")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		tb.Fatal(err)
	}
	scripts, err := filepath.Abs(filepath.Join("testdata", "scripts"))
	if err != nil {
		tb.Fatal(err)
	}
	r.args = append([]string{"serve", "--listen", "127.0.0.1:0", "--scripts", scripts, "--plugins", plugins},
		cfg.Target.Serve(tb, r.dir)...)
	r.env = append([]string{"CRASH_DOWNSTREAM=" + r.down.url, "ORBIT_SCRIPT_ENV=CRASH_DOWNSTREAM"}, r.cfg.Target.Env...)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r.cl = &client{http: &http.Client{Timeout: 90 * time.Second}, ctx: ctx}

	insts := plan(cfg.Instances, r.rng)
	for _, in := range insts {
		r.results[in.ID] = &result{}
	}
	// Instances start in waves over the first two thirds of the kills, so
	// that each meets several of them.
	waves := max(1, cfg.Kills*2/3)
	var clients sync.WaitGroup
	launched := 0
	for k := 0; k < cfg.Kills; k++ {
		if k < waves {
			upto := len(insts) * (k + 1) / waves
			for i := launched; i < upto; i++ {
				clients.Add(1)
				go func() { defer clients.Done(); r.drive(insts[i], rand.New(rand.NewPCG(cfg.Seed, uint64(i)))) }()
			}
			launched = upto
		}
		r.cycle()
	}
	for i := launched; i < len(insts); i++ {
		clients.Add(1)
		go func() { defer clients.Done(); r.drive(insts[i], rand.New(rand.NewPCG(cfg.Seed, uint64(i)))) }()
	}

	// No more faults: every client finishes, every instance ends.
	r.startSidecar(nil)
	deadline := time.AfterFunc(cfg.Settle, stop)
	clients.Wait()
	r.settle(ctx)
	deadline.Stop()
	stop()

	// A last kill once all has ended: what the checks read is what a
	// restart finds.
	r.kill(byLastCheck)
	cctx, cstop := context.WithTimeout(context.Background(), time.Minute)
	defer cstop()
	r.cl.ctx = cctx
	r.startSidecar(nil)
	r.check(insts)
	r.proc.Process.Signal(syscall.SIGTERM)
	r.proc.Wait()
	r.sum.Elapsed = time.Since(began)
	return r.sum
}

// cycle runs the sidecar once and kills it: at a random moment, at a fault
// point of the target's commit path, or in the middle of a downstream call.
func (r *run) cycle() {
	switch n := r.rng.IntN(10); {
	case n < 4:
		r.startSidecar(nil)
		up := r.cfg.MaxUptime/10 + time.Duration(r.rng.Int64N(int64(r.cfg.MaxUptime)))
		r.killAfter(up, byTimer)
	case n < 8 && len(r.cfg.Target.Points)+len(r.cfg.Target.Later) > 0:
		points := slices.Concat(r.cfg.Target.Points, r.cfg.Target.Later)
		p := points[r.rng.IntN(len(points))]
		// The hit to kill at is small more often than not: the log's points
		// are passed by every group commit, the applier's once a window
		// (50ms) and a replay's once a start, so a uniform choice up to
		// dozens would rarely reach the last ones before the timer.
		nth := 1 + uint64(r.rng.IntN(1<<r.rng.IntN(6)))
		r.startSidecar(&fault.Arm{Point: p, Nth: nth})
		r.killAfter(3*r.cfg.MaxUptime, byTimer) // unless the point is reached first
	default:
		r.startSidecar(nil)
		proc, after := r.proc, r.rng.IntN(2) == 0
		r.down.armKill(1+r.rng.IntN(10), after, func() { proc.Process.Signal(syscall.SIGKILL) })
		r.killAfter(3*r.cfg.MaxUptime, byTimer) // unless the downstream kills first
		r.down.disarm()
	}
}

// killAfter waits up to d for the sidecar to die by itself (a fault point,
// the downstream) and kills it then. A death by anything but SIGKILL is a
// crash of Orbit and fails the run.
func (r *run) killAfter(d time.Duration, by string) {
	select {
	case <-r.proc.Exited():
	case <-time.After(d):
		r.kill(by)
		return
	}
	if !r.proc.Killed() {
		r.problem(&r.sum.Crashes, "orbit serve exited by itself (%v); last lines:\n%s",
			r.proc.ProcessState, strings.Join(r.proc.Log(), "\n"))
		r.count("crash")
		return
	}
	r.died(byDownstream)
}

// faultLine is what a fault build writes as it kills itself.
var faultLine = regexp.MustCompile(`orbit: fault: SIGKILL at (\S+) `)

// startSidecar starts orbit serve, armed or not, and points the clients at
// it. A fault point reached before it listens kills it there: that counts
// as a kill, and it starts again unarmed.
func (r *run) startSidecar(arm *fault.Arm) {
	env := r.env
	if arm != nil {
		env = append(env[:len(env):len(env)], fault.Env+"="+arm.String())
	}
	p, err := orbittest.StartProcess(r.bin, env, r.args...)
	if err != nil {
		r.tb.Fatal(err)
	}
	r.proc = p
	addr, _, err := p.Listening(time.Minute)
	if err != nil {
		p.Wait()
		if !p.Killed() {
			r.tb.Fatalf("orbit serve stopped before listening: %v", err)
		}
		r.died(byStartup)
		r.startSidecar(nil)
		return
	}
	r.cl.addr.Store(&addr)
}

// died counts a kill the sidecar did not get from the test's timer: a fault
// point names itself in the log; otherwise it is fallback's.
func (r *run) died(fallback string) {
	m := faultLine.FindStringSubmatch(strings.Join(r.proc.Log(), "\n"))
	switch {
	case m != nil && fallback == byStartup:
		r.count(byFaultKill + ":" + m[1] + " " + byStartup)
	case m != nil:
		r.count(byFaultKill + ":" + m[1])
	default:
		r.count(fallback)
	}
}

func (r *run) kill(by string) {
	r.proc.Process.Signal(syscall.SIGKILL)
	r.proc.Wait()
	r.count(by)
}

func (r *run) count(by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Kills++
	r.sum.KillsBy[by]++
}

// terminal reports an ended status.
func terminal(status string) bool {
	switch status {
	case "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT":
		return true
	}
	return false
}

// drive is one instance's client: it starts the instance until the start
// is answered, delivers its events, and starts it again with the same id
// when the plan says so.
func (r *run) drive(in *instance, rng *rand.Rand) {
	path := "/v1/workflows/" + string(in.Kind) + "/instances?id=" + url.QueryEscape(in.ID)
	if in.Kind == kindQuick {
		if !r.driveExpress(in, path) {
			return
		}
	} else {
		a, err := r.cl.do("POST", path, in.Input)
		if err != nil {
			r.note(in.ID, "start: %v", err)
			return
		}
		if a.status != http.StatusCreated && a.status != http.StatusOK || a.str("id") != in.ID {
			r.note(in.ID, "start answered %s", a)
			return
		}
	}
	r.mu.Lock()
	r.results[in.ID].acked = true
	r.mu.Unlock()
	for _, ev := range in.Events {
		if ev == "late" && !r.awaits(in.ID, ev) {
			return
		}
		body := mustJSON(payload(in.ID, ev))
		a, err := r.cl.do("POST", "/v1/instances/"+in.ID+"/events/"+ev, body)
		switch {
		case err != nil:
			r.note(in.ID, "event %s: %v", ev, err)
			return
		// A resend after a lost connection may find the event taken and
		// the instance ended.
		case a.status != http.StatusAccepted && !(a.status == http.StatusConflict && ev == "late"):
			r.note(in.ID, "event %s answered %s", ev, a)
			return
		}
	}
	if !in.Resend {
		return
	}
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	if in.Kind == kindQuick {
		path += "&wait=60s"
	}
	a, err := r.cl.do("POST", path, in.Input)
	switch {
	case err != nil:
		r.note(in.ID, "start again: %v", err)
	case a.status == http.StatusCreated:
		r.note(in.ID, "start again with the same id created it anew: %s", a)
		r.mu.Lock()
		r.sum.Lost++
		r.mu.Unlock()
	case a.status != http.StatusOK || a.str("id") != in.ID:
		r.note(in.ID, "start again answered %s", a)
	}
	var changed map[string]any
	json.Unmarshal(in.Input, &changed)
	changed["other"] = true
	if a, err := r.cl.do("POST", path, mustJSON(changed)); err == nil && a.status != http.StatusConflict {
		r.note(in.ID, "start again with another input answered %s, not 409", a)
	}
	r.mu.Lock()
	r.results[in.ID].resent = true
	r.sum.Resent++
	r.mu.Unlock()
}

// driveExpress starts an express instance synchronously until it has
// ended: a crash forgets a running express instance, so a start whose
// connection broke, or whose instance is not there afterwards, is sent
// again with the same id.
func (r *run) driveExpress(in *instance, path string) bool {
	for {
		a, err := r.cl.do("POST", path+"&wait=60s", in.Input)
		if err != nil {
			r.note(in.ID, "start: %v", err)
			return false
		}
		switch {
		case a.status == http.StatusOK && terminal(a.str("status")):
			return true
		case a.status == http.StatusCreated || a.status == http.StatusOK:
			// The wait ran out or a shutdown answered it: follow it.
			for {
				g, err := r.cl.do("GET", "/v1/instances/"+in.ID, nil)
				if err != nil {
					r.note(in.ID, "follow: %v", err)
					return false
				}
				if g.status == http.StatusNotFound {
					break // forgotten by a crash: start it again
				}
				if terminal(g.str("status")) {
					return true
				}
				time.Sleep(50 * time.Millisecond)
			}
		default:
			r.note(in.ID, "start answered %s", a)
			return false
		}
	}
}

// awaits polls an instance until it waits for the event.
func (r *run) awaits(id, event string) bool {
	for {
		a, err := r.cl.do("GET", "/v1/instances/"+id, nil)
		if err != nil {
			r.note(id, "waiting for %s: %v", event, err)
			return false
		}
		if w, _ := a.obj["waiting"].(map[string]any); w != nil && w["kind"] == "event" && w["event"] == event {
			return true
		}
		if terminal(a.str("status")) {
			r.note(id, "ended as %s before awaiting %s", a.str("status"), event)
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until no instance, child or not, is left unended, or the
// test's clients give up.
func (r *run) settle(ctx context.Context) {
	for ctx.Err() == nil {
		all, err := r.list()
		if err == nil && allEnded(all) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func allEnded(all []map[string]any) bool {
	for _, in := range all {
		if s, _ := in["status"].(string); !terminal(s) {
			return false
		}
	}
	return true
}

// list reads every instance the sidecar has, page by page.
func (r *run) list() ([]map[string]any, error) {
	var all []map[string]any
	cursor := ""
	for {
		a, err := r.cl.do("GET", "/v1/instances?limit=1000&cursor="+url.QueryEscape(cursor), nil)
		if err != nil {
			return nil, err
		}
		if a.status != http.StatusOK {
			return nil, fmt.Errorf("list answered %s", a)
		}
		items, _ := a.obj["instances"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				all = append(all, m)
			}
		}
		if cursor = a.str("next_cursor"); cursor == "" {
			return all, nil
		}
	}
}
