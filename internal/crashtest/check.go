package crashtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Summary is what a run did and found. Lost, Wrong, DuplicatedKeys, Gaps,
// Stuck, Overlaps, Crashes and Unexpected are failures; the rest describes
// the run.
type Summary struct {
	Target    string
	Seed      uint64
	Instances int
	Kills     int
	KillsBy   map[string]int // how the kills came: timer, downstream, fault:<point>, ...
	Resent    int            // starts sent again with the same id once answered

	// Lost: an answered start whose instance is gone, or was created anew
	// by a later start with the same id.
	Lost int
	// Wrong: an instance that did not end as it must (status, error,
	// output), or ended more than once.
	Wrong int
	// DuplicatedKeys: a task visit that ran under two Idempotency-Keys, or
	// one key used for two visits.
	DuplicatedKeys int
	// Gaps: a history whose sequence numbers do not run 1, 2, 3, ...
	Gaps int
	// Stuck: an instance, child or not, that had not ended when all its
	// work was done.
	Stuck int
	// Overlaps: two instances of one concurrency key between Enter and
	// Leave together.
	Overlaps int
	// Crashes: the sidecar stopped by itself, not by a kill.
	Crashes int
	// Unexpected: an instance nobody started (a start that ran twice).
	Unexpected int
	// Quarantined: instances Orbit set aside (States.Quarantined) because
	// their step was cut short by two kills in a row; by design, not a
	// loss, and not compared with their expected output.
	Quarantined int

	Calls    int // downstream calls
	Keys     int // distinct Idempotency-Keys
	Reruns   int // keys the downstream answered successfully more than once: at-least-once at work
	Problems []string
	Elapsed  time.Duration
}

// Failed reports whether the run found anything lost, wrong or duplicated.
func (s Summary) Failed() bool {
	return s.Lost+s.Wrong+s.DuplicatedKeys+s.Gaps+s.Stuck+s.Overlaps+s.Crashes+s.Unexpected > 0
}

// String is the summary line.
func (s Summary) String() string {
	by := make([]string, 0, len(s.KillsBy))
	for k, n := range s.KillsBy {
		by = append(by, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(by)
	return fmt.Sprintf("crash-test: target=%s seed=%d instances=%d kills=%d lost=%d wrong=%d duplicated-keys=%d "+
		"gaps=%d stuck=%d overlaps=%d crashes=%d unexpected=%d quarantined=%d resent=%d calls=%d keys=%d reruns=%d elapsed=%s (kills: %s)",
		s.Target, s.Seed, s.Instances, s.Kills, s.Lost, s.Wrong, s.DuplicatedKeys, s.Gaps, s.Stuck, s.Overlaps, s.Crashes,
		s.Unexpected, s.Quarantined, s.Resent, s.Calls, s.Keys, s.Reruns, s.Elapsed.Round(time.Second), strings.Join(by, ", "))
}

func (r *run) problem(counter *int, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if counter != nil {
		*counter++
	}
	if len(r.sum.Problems) < 50 {
		r.sum.Problems = append(r.sum.Problems, fmt.Sprintf(format, args...))
	}
}

// quarantined is the error of an instance Orbit set aside.
const quarantined = "States.Quarantined"

// check reads every instance and history from a freshly restarted sidecar
// and the downstream's record, and counts what breaks an invariant.
func (r *run) check(plan []*instance) {
	all, err := r.list()
	if err != nil {
		r.tb.Fatalf("list instances for the checks: %v", err)
	}
	byID := make(map[string]map[string]any, len(all))
	for _, in := range all {
		id, _ := in["id"].(string)
		byID[id] = in
	}
	planned := make(map[string]bool, len(plan))
	for _, in := range plan {
		planned[in.ID] = true
		r.checkInstance(in, byID[in.ID])
	}
	for id, in := range byID {
		if parent, _ := in["parent"].(string); parent == "" && !planned[id] {
			r.problem(&r.sum.Unexpected, "%s: an instance nobody started", id)
		}
		if status, _ := in["status"].(string); !terminal(status) {
			r.problem(&r.sum.Stuck, "%s: still %s, waiting %v, with nothing left to happen", id, status, in["waiting"])
		}
		r.checkHistory(id)
	}
	r.checkKeys()
}

// checkInstance compares one planned instance with how it ended.
func (r *run) checkInstance(plan *instance, got map[string]any) {
	res := r.results[plan.ID]
	for _, e := range res.clientE {
		r.problem(nil, "%s: client: %s", plan.ID, e)
	}
	if got == nil {
		if res.acked {
			r.problem(&r.sum.Lost, "%s: answered, then gone", plan.ID)
		} else {
			r.problem(&r.sum.Lost, "%s: never answered (%s)", plan.ID, strings.Join(res.clientE, "; "))
		}
		return
	}
	status, _ := got["status"].(string)
	errName, _ := got["error"].(string)
	if status == "FAILED" && errName == quarantined {
		r.mu.Lock()
		r.sum.Quarantined++
		r.mu.Unlock()
		r.problem(nil, "%s: quarantined: %v", plan.ID, got["cause"])
		return
	}
	switch {
	case status != plan.Status:
		r.problem(&r.sum.Wrong, "%s: ended %s (%s: %v), want %s", plan.ID, status, errName, got["cause"], plan.Status)
	case plan.Error != "" && errName != plan.Error:
		r.problem(&r.sum.Wrong, "%s: failed with %s, want %s", plan.ID, errName, plan.Error)
	case plan.Output != nil && !sameJSON(got["output"], plan.Output):
		r.problem(&r.sum.Wrong, "%s: output %s, want %s", plan.ID, mustJSON(got["output"]), plan.Output)
	}
}

// checkHistory reads an instance's history: sequence numbers from 1 with no
// gap and no repeat, and exactly one end, the last event.
func (r *run) checkHistory(id string) {
	a, err := r.cl.do("GET", "/v1/instances/"+id+"/history", nil)
	if err != nil || a.status != http.StatusOK {
		r.problem(&r.sum.Gaps, "%s: history: %v %s", id, err, a)
		return
	}
	evs, _ := a.obj["events"].([]any)
	ends := 0
	for i, e := range evs {
		ev, _ := e.(map[string]any)
		if seq, _ := ev["seq"].(float64); int(seq) != i+1 {
			r.problem(&r.sum.Gaps, "%s: event %d of the history has seq %v", id, i+1, ev["seq"])
			return
		}
		switch ev["type"] {
		case "ExecutionSucceeded", "ExecutionFailed", "ExecutionCancelled", "ExecutionTimedOut":
			ends++
			if i != len(evs)-1 {
				r.problem(&r.sum.Wrong, "%s: %s at seq %d is not the last event (%d)", id, ev["type"], i+1, len(evs))
			}
		}
	}
	if ends != 1 {
		r.problem(&r.sum.Wrong, "%s: the history ends %d times", id, ends)
	}
}

// checkKeys reads the downstream's record: every visit of a task state ran
// under one Idempotency-Key, each key belongs to one visit, and the key is
// instance/state/visit as SPEC 2.3 says.
func (r *run) checkKeys() {
	calls, overlaps := r.down.record()
	for _, o := range overlaps {
		r.problem(&r.sum.Overlaps, "concurrency: %s", o)
	}
	keysOf := map[visit]map[string]bool{}
	visitsOf := map[string]map[visit]bool{}
	successes := map[string]int{}
	for _, c := range calls {
		v := visit{Instance: c.Instance, State: c.State, N: c.N}
		if keysOf[v] == nil {
			keysOf[v] = map[string]bool{}
		}
		keysOf[v][c.Key] = true
		if visitsOf[c.Key] == nil {
			visitsOf[c.Key] = map[visit]bool{}
		}
		visitsOf[c.Key][v] = true
		if !strings.HasPrefix(c.Key, c.Instance+"/"+c.State+"/") {
			r.problem(&r.sum.DuplicatedKeys, "key %q does not name instance %s and state %s", c.Key, c.Instance, c.State)
		}
		if c.Answered {
			successes[c.Key]++
		}
	}
	for v, keys := range keysOf {
		if len(keys) > 1 {
			r.problem(&r.sum.DuplicatedKeys, "%s %s visit n=%d ran under keys %v", v.Instance, v.State, v.N, slices.Sorted(maps.Keys(keys)))
		}
	}
	for key, visits := range visitsOf {
		if len(visits) > 1 {
			r.problem(&r.sum.DuplicatedKeys, "key %s was used for %d visits", key, len(visits))
		}
	}
	r.sum.Calls, r.sum.Keys = len(calls), len(visitsOf)
	for _, n := range successes {
		if n > 1 {
			r.sum.Reruns++
		}
	}
}

// sameJSON compares a decoded value with JSON text by meaning.
func sameJSON(got any, want json.RawMessage) bool {
	var w any
	if err := json.NewDecoder(bytes.NewReader(want)).Decode(&w); err != nil {
		return false
	}
	return reflect.DeepEqual(got, w)
}
