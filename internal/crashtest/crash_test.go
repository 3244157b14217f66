package crashtest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
)

// The default size is the one `make test` runs; `make crash-test` passes a
// large one.
var (
	instances = flag.Int("crash.instances", 40, "instances to start")
	kills     = flag.Int("crash.kills", 8, "kills and restarts of the sidecar")
	seed      = flag.Uint64("crash.seed", 0, "seed of the run (0: a new one, printed to replay it)")
	uptime    = flag.Duration("crash.uptime", 600*time.Millisecond, "longest a sidecar runs before a timed kill")
	settle    = flag.Duration("crash.settle", 2*time.Minute, "longest the instances may take to end after the last kill")
	target    = flag.String("crash.target", "", "run only this target (default: every one)")
)

// TestCrash runs the crash test against every target: the real binary
// killed with SIGKILL at random moments, at fault points inside commits and
// in the middle of downstream calls, restarted each time, with starts sent
// again; then every invariant is checked. It prints one summary line and
// fails on anything lost, wrong or duplicated; the seed replays the run's
// plan and kill schedule.
func TestCrash(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64() % 1_000_000
	}
	for _, tg := range Targets {
		if *target != "" && tg.Name != *target {
			continue
		}
		t.Run(tg.Name, func(t *testing.T) {
			sum := Run(t, Config{Target: tg, Instances: *instances, Kills: *kills, Seed: s, MaxUptime: *uptime, Settle: *settle})
			fmt.Println(sum)
			for _, p := range sum.Problems {
				t.Log(p)
			}
			if sum.Failed() {
				t.Fatalf("%s\nreplay: go test ./internal/crashtest -run 'TestCrash/%s' -crash.seed %d -crash.instances %d -crash.kills %d",
					sum, tg.Name, s, *instances, *kills)
			}
			if sum.Kills < *kills || sum.Calls == 0 {
				t.Fatalf("the run did not do its work: %s", sum)
			}
		})
	}
}

// TestFaultPointsKill arms each fault point of each target at its first
// hit: the sidecar must die there, by SIGKILL, naming the point, and start
// again on the same data. A point the fault build cannot reach (a bbolt
// whose failpoints moved) fails here instead of making the crash test
// quietly weaker.
func TestFaultPointsKill(t *testing.T) {
	bin := faultBinary(t)
	for _, tg := range Targets {
		t.Run(tg.Name, func(t *testing.T) {
			scripts, _ := filepath.Abs(filepath.Join("testdata", "scripts"))
			env := []string{"CRASH_DOWNSTREAM=http://127.0.0.1:9", "ORBIT_SCRIPT_ENV=CRASH_DOWNSTREAM"}
			for _, p := range tg.Points {
				// A new store: its first commits (making it, keeping the
				// bundle) pass every point.
				dir := t.TempDir()
				args := append([]string{"serve", "--listen", "127.0.0.1:0", "--scripts", scripts, "--plugins", filepath.Join(dir, "none")},
					tg.Serve(t, dir)...)
				arm := fault.Arm{Point: p, Nth: 1}
				proc := orbittest.Start(t, bin, append(env, fault.Env+"="+arm.String()), args...)
				if _, _, err := proc.Listening(time.Minute); err == nil {
					t.Fatalf("%s: the sidecar listened; its first commit should have killed it; log:\n%s", p, strings.Join(proc.Tail(), "\n"))
				}
				proc.Wait()
				want := "orbit: fault: SIGKILL at " + string(p) + " (hit 1)"
				if log := strings.Join(proc.Log(), "\n"); !proc.Killed() || !strings.Contains(log, want) {
					t.Fatalf("%s: killed %v, log:\n%s", p, proc.Killed(), log)
				}
				again := orbittest.Start(t, bin, env, args...)
				if _, _, err := again.Listening(time.Minute); err != nil {
					t.Fatalf("after a kill at %s: %v", p, err)
				}
				again.Kill(t)
			}
		})
	}
}
