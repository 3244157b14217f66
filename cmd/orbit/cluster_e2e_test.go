package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// stepDownstream answers the cluster bundle's step and hold routines,
// counts the calls of each idempotency key and, for hold, the calls of
// instances of one concurrency key that overlapped: each call is inside
// from its arrival to its answer, and an instance is inside from its first
// hold call to its second.
type stepDownstream struct {
	url      string
	mu       sync.Mutex
	calls    map[string]int
	inside   map[string]string // concurrency key -> instance inside
	overlaps []string
}

func startStepDownstream(t *testing.T) *stepDownstream {
	t.Helper()
	d := &stepDownstream{calls: map[string]int{}, inside: map[string]string{}}
	d.url = serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			K  string          `json:"k"`
			N  int             `json:"n"`
			In json.RawMessage `json:"in"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		d.mu.Lock()
		d.calls[r.Header.Get("Idempotency-Key")]++
		who := fmt.Sprintf("%s#%d", in.K, in.N)
		if r.URL.Path == "/hold" {
			if other, ok := d.inside[in.K]; ok && other != who {
				d.overlaps = append(d.overlaps, other+" and "+who)
			}
			d.inside[in.K] = who
		}
		d.mu.Unlock()
		time.Sleep(20 * time.Millisecond)          // keep steps in flight when a sidecar dies
		if r.URL.Path == "/hold" && in.In != nil { // the second call: the instance leaves
			d.mu.Lock()
			if d.inside[in.K] == who {
				delete(d.inside, in.K)
			}
			d.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	return d
}

// clusterSidecars starts n `orbit serve --store nats` processes on the
// servers at url, serving the cluster bundle.
func clusterSidecars(t *testing.T, n int, url string, d *stepDownstream) []*sidecar {
	t.Helper()
	env := []string{"ORBIT_SCRIPT_ENV=STEP_URL", "STEP_URL=" + d.url}
	var out []*sidecar
	for i := range n {
		out = append(out, serve(t, env, filepath.Join(t.TempDir(), fmt.Sprintf("s%d", i), "orbit.db"),
			"--scripts", "testdata/cluster", "--store", "nats", "--nats-url", url))
	}
	return out
}

// ended waits for an instance to end, through s.
func (s *sidecar) ended(id string) answer {
	s.t.Helper()
	return orbittest.Until(s.t, 90*time.Second, "instance "+id+" to end", func() (answer, error) {
		return s.do("GET", "/v1/instances/"+id, ""), nil
	}, func(a answer) bool {
		st := a.str("status")
		return a.status == 200 && st != "RUNNING" && st != "WAITING" && st != "QUEUED"
	})
}

// history returns an instance's events, checking that their seqs run
// 1, 2, 3, ... and counting them by type.
func (s *sidecar) contiguous(id string) map[string]int {
	s.t.Helper()
	a := s.do("GET", "/v1/instances/"+id+"/history", "").must(s.t, 200)
	var h struct {
		Events []struct {
			Seq  int    `json:"seq"`
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(a.body, &h); err != nil {
		s.t.Fatal(err)
	}
	types := map[string]int{}
	for i, ev := range h.Events {
		if ev.Seq != i+1 {
			s.t.Errorf("history of %s: event %d has seq %d", id, i+1, ev.Seq)
		}
		types[ev.Type]++
	}
	return types
}

// TestClusterSurvivesASidecarKillAndANodeStop runs instances on three
// sidecars sharing a three-node cluster, SIGKILLs one sidecar and stops
// one NATS node while they run: every instance ends once, with its
// output, a contiguous history and its timer fired once, and an event
// posted to another sidecar than the start reaches its instance.
func TestClusterSurvivesASidecarKillAndANodeStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three sidecars and a three-node cluster")
	}
	nats := devnatstest.Start(t, 3)
	d := startStepDownstream(t)
	cs := clusterSidecars(t, 3, nats.URL(), d)

	const n = 180
	for i := range n {
		cs[i%3].start("chain", fmt.Sprintf("?id=c-%03d", i), fmt.Sprintf(`{"n":%d}`, i)).must(t, 201)
	}
	for i := range 6 {
		cs[i%3].start("gated", fmt.Sprintf("?id=g-%d", i), fmt.Sprintf(`{"n":%d}`, i)).must(t, 201)
	}
	// Instances of four concurrency keys, five each, started on every
	// sidecar: one of a key runs at a time, whichever sidecar runs it.
	const serial = 20
	for i := range serial {
		cs[i%3].start("serial", fmt.Sprintf("?id=s-%02d", i), fmt.Sprintf(`{"k":"k%d","n":%d}`, i%4, i)).must(t, 201)
	}
	// Mid-work: the first sidecar dies and a NATS node stops.
	cs[1].until("c-010", "past its first step", func(a answer) bool { return a.str("state") != "A" })
	cs[0].proc.Process.Signal(syscall.SIGKILL)
	nats.Stop(2)
	live := cs[1:]

	// A NATS store cannot be copied as one file: the backup endpoint says so.
	if code := live[0].do("GET", "/v1/backup", "").must(t, 501).code(); code != "not_implemented" {
		t.Errorf("GET /v1/backup of a NATS sidecar: code %q, want not_implemented", code)
	}
	for i := range 6 {
		// Posted to another sidecar than the one that started it.
		live[(i+1)%2].do("POST", fmt.Sprintf("/v1/instances/g-%d/events/go", i), `"went"`).must(t, 202)
	}
	for i := range n {
		id := fmt.Sprintf("c-%03d", i)
		a := live[i%2].ended(id)
		if a.str("status") != "SUCCEEDED" || a.output() != fmt.Sprintf(`{"a":{"ok":true},"b":{"ok":true},"c":{"ok":true},"n":%d}`, i) {
			t.Errorf("%s ended %s with %s", id, a.str("status"), a.output())
			continue
		}
		types := live[(i+1)%2].contiguous(id)
		if types["ExecutionSucceeded"] != 1 || types["TimerFired"] != 1 || types["TaskSucceeded"] != 3 {
			t.Errorf("%s: history %v", id, types)
		}
	}
	for i := range 6 {
		id := fmt.Sprintf("g-%d", i)
		a := live[i%2].ended(id)
		if a.str("status") != "SUCCEEDED" || a.output() != fmt.Sprintf(`{"d":{"ok":true},"ev":"went","n":%d}`, i) {
			t.Errorf("%s ended %s with %s", id, a.str("status"), a.output())
		}
		live[0].contiguous(id)
	}
	for i := range serial {
		id := fmt.Sprintf("s-%02d", i)
		a := live[i%2].ended(id)
		if a.str("status") != "SUCCEEDED" || a.output() != fmt.Sprintf(`{"in":{"ok":true},"k":"k%d","n":%d,"out":{"ok":true}}`, i%4, i) {
			t.Errorf("%s ended %s with %s", id, a.str("status"), a.output())
		}
		live[0].contiguous(id)
	}
	// Every step ran at least once; a step the killed sidecar had in
	// flight may have run twice, always with the same key.
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) != 3*n+6+2*serial {
		t.Errorf("%d idempotency keys called, want %d", len(d.calls), 3*n+6+2*serial)
	}
	if len(d.overlaps) > 0 {
		t.Errorf("instances of one concurrency key inside together: %v", d.overlaps)
	}
}

// TestClusterRunsEveryKeptBundleVersion runs two sidecars on one store
// with scripts of their own: a reload on the first (v1 to v2) leaves the
// second starting v1, and once the first is stopped the second, which
// has only loaded v1, finishes the first's v2 instance on v2, compiled
// from the sources in the store.
func TestClusterRunsEveryKeptBundleVersion(t *testing.T) {
	nats := devnatstest.Start(t, 1)
	var cs []*sidecar
	var scripts []string
	for i := range 2 {
		dir := t.TempDir()
		scripts = append(scripts, filepath.Join(dir, "gate.lua"))
		orbittest.WriteFile(t, scripts[i], scriptVersion("v1"))
		cs = append(cs, serve(t, nil, filepath.Join(t.TempDir(), "orbit.db"),
			"--scripts", dir, "--store", "nats", "--nats-url", nats.URL()))
	}
	a, b := cs[0], cs[1]

	a.start("gate", "?id=a-v1", `{}`).must(t, 201)
	orbittest.WriteFile(t, scripts[0], scriptVersion("v2"))
	a.untilWorkflows("version v2", func(body string) bool { return strings.Contains(body, `"version":"v2"`) })
	if got := a.start("gate", "?id=a-v2", `{}`).must(t, 201); got.str("version") != "v2" {
		t.Fatalf("start on the reloaded sidecar: %s", got)
	}
	if got := b.start("gate", "?id=b-v1", `{}`).must(t, 201); got.str("version") != "v1" {
		t.Fatalf("start on the other sidecar after the first reloaded: %s", got)
	}
	for _, id := range []string{"a-v1", "a-v2", "b-v1"} {
		b.waitsFor(id, "event")
	}

	a.stop() // only b is left to run them
	for id, want := range map[string]string{"a-v1": "v1", "a-v2": "v2", "b-v1": "v1"} {
		b.do("POST", "/v1/instances/"+id+"/events/go", `{}`).must(t, 202)
		got := b.status(id, "SUCCEEDED")
		if got.output() != `"finished on `+want+`"` || got.str("version") != want {
			t.Errorf("%s finished %s on %s, want %s", id, got.output(), got.str("version"), want)
		}
		if types := b.contiguous(id); types["ExecutionSucceeded"] != 1 {
			t.Errorf("%s: history %v", id, types)
		}
	}
	if a := b.start("gate", "?id=b-after", `{}`).must(t, 201); a.str("version") != "v1" {
		t.Errorf("the other sidecar starts %s after running v2 instances, want v1", a.body)
	}
}

// TestDevclusterSharesOneStateAndStopsOnSIGTERM runs the real `orbit
// devcluster` with two sidecars on OS-chosen ports: an instance started on
// one is woken through the other and read finished from both, and SIGTERM
// ends the whole process cleanly.
func TestDevclusterSharesOneStateAndStopsOnSIGTERM(t *testing.T) {
	scripts := t.TempDir()
	orbittest.WriteFile(t, filepath.Join(scripts, "gate.lua"), scriptVersion("v1"))
	p := startOrbit(t, nil, "devcluster", "--sidecars", "2", "--listen", "127.0.0.1:0", "--dir", t.TempDir(),
		"--", "--scripts", scripts)
	addrs, _, err := p.ListeningAll(2, 6*orbittest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if addrs[0] == addrs[1] {
		t.Fatalf("both sidecars on %s", addrs[0])
	}
	var cs []*sidecar
	for _, addr := range addrs {
		cs = append(cs, &sidecar{t: t, proc: p, addr: addr, http: &http.Client{Timeout: 30 * time.Second}})
	}
	cs[0].start("gate", "?id=one", `{}`).must(t, 201)
	cs[1].waitsFor("one", "event")
	cs[1].do("POST", "/v1/instances/one/events/go", `{}`).must(t, 202)
	for _, s := range cs {
		if got := s.status("one", "SUCCEEDED"); got.output() != `"finished on v1"` {
			t.Errorf("on %s: finished with %s", s.addr, got.output())
		}
	}

	if err := p.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(6 * orbittest.Timeout):
		t.Fatalf("orbit devcluster still running after SIGTERM; last lines:\n%s", strings.Join(p.Tail(), "\n"))
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("orbit devcluster after SIGTERM: %v; last lines:\n%s", err, strings.Join(p.Log(), "\n"))
	}
}
