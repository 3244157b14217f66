package crashtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestChecksCountWhatIsWrong runs the checks against a sidecar's answers
// and a downstream's record with one of each failure planted, so that no
// check of the crash test can pass whatever happened: each counter counts
// exactly what was planted, and the summary line says so.
func TestChecksCountWhatIsWrong(t *testing.T) {
	ev := func(seq int, typ string) map[string]any { return map[string]any{"seq": seq, "type": typ} }
	ok := []any{ev(1, "ExecutionStarted"), ev(2, "TaskSucceeded"), ev(3, "ExecutionSucceeded")}
	histories := map[string][]any{
		"ok-1":         ok,
		"wrong-1":      ok,
		"gap-1":        {ev(1, "ExecutionStarted"), ev(2, "TaskSucceeded"), ev(4, "ExecutionSucceeded")},
		"twice-1":      {ev(1, "ExecutionStarted"), ev(2, "ExecutionSucceeded"), ev(3, "ExecutionSucceeded")},
		"quarantine-1": {ev(1, "ExecutionStarted"), ev(2, "ExecutionFailed")},
		"stranger-1":   ok,
		"ok-1:child":   {ev(1, "ExecutionStarted"), ev(2, "TaskScheduled")},
	}
	listed := []map[string]any{
		{"id": "ok-1", "status": "SUCCEEDED", "output": map[string]any{"n": 3}},
		{"id": "wrong-1", "status": "SUCCEEDED", "output": map[string]any{"n": 5}},
		{"id": "gap-1", "status": "SUCCEEDED", "output": map[string]any{"n": 3}},
		{"id": "twice-1", "status": "SUCCEEDED", "output": map[string]any{"n": 3}},
		{"id": "quarantine-1", "status": "FAILED", "error": quarantined},
		{"id": "stranger-1", "status": "SUCCEEDED"},                                 // started by nobody
		{"id": "ok-1:child", "status": "RUNNING", "parent": "ok-1", "waiting": nil}, // left with nothing to run
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/instances", func(w http.ResponseWriter, r *http.Request) {
		// Two pages, so that the checks read past the first.
		page, next := listed[:4], "page-2"
		if r.URL.Query().Get("cursor") == next {
			page, next = listed[4:], ""
		}
		json.NewEncoder(w).Encode(map[string]any{"instances": page, "next_cursor": next})
	})
	mux.HandleFunc("GET /v1/instances/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"events": histories[r.PathValue("id")]})
	})
	sidecar := httptest.NewServer(mux)
	defer sidecar.Close()

	down := &downstream{holder: map[string]string{}}
	down.calls = []call{
		{Key: "ok-1/Charge/1", Instance: "ok-1", State: "Charge", N: 0},
		{Key: "ok-1/Charge/1", Instance: "ok-1", State: "Charge", N: 0, Answered: true},
		{Key: "ok-1/Charge/1", Instance: "ok-1", State: "Charge", N: 0, Answered: true}, // a rerun, allowed
		{Key: "ok-1/Ship/1", Instance: "ok-1", State: "Ship", N: 1, Answered: true},
		{Key: "ok-1/Ship/2", Instance: "ok-1", State: "Ship", N: 1, Answered: true}, // one visit, two keys
		{Key: "ok-1/Pack/1", Instance: "ok-1", State: "Pack", N: 0},
		{Key: "ok-1/Pack/1", Instance: "ok-1", State: "Pack", N: 7, Answered: true}, // one key, two visits
		{Key: "gap-1/Refund/1", Instance: "ok-1", State: "Refund", N: 0},            // another instance's key
	}
	down.exclusion(call{Instance: "serial-1", Path: "/enter"}, "k1")
	down.exclusion(call{Instance: "serial-2", Path: "/enter"}, "k1") // while serial-1 holds k1

	want := func(id, status string, output any) *instance {
		in := &instance{ID: id, Status: status}
		if output != nil {
			in.Output = mustJSON(output)
		}
		return in
	}
	plan := []*instance{
		want("ok-1", "SUCCEEDED", map[string]any{"n": 3}),
		want("lost-1", "SUCCEEDED", map[string]any{"n": 3}),
		want("wrong-1", "SUCCEEDED", map[string]any{"n": 3}),
		want("gap-1", "SUCCEEDED", map[string]any{"n": 3}),
		want("twice-1", "SUCCEEDED", map[string]any{"n": 3}),
		want("quarantine-1", "SUCCEEDED", map[string]any{"n": 3}),
	}
	r := &run{tb: t, down: down, results: map[string]*result{}, sum: Summary{Target: "planted", KillsBy: map[string]int{}}}
	for _, in := range plan {
		r.results[in.ID] = &result{acked: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.cl = &client{http: &http.Client{}, ctx: ctx}
	addr := strings.TrimPrefix(sidecar.URL, "http://")
	r.cl.addr.Store(&addr)
	r.check(plan)

	s := r.sum
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"lost (lost-1)", s.Lost, 1},
		{"wrong (wrong-1's output; twice-1's two ends, one not last; ok-1:child's history without an end)", s.Wrong, 4},
		{"gaps (gap-1)", s.Gaps, 1},
		{"stuck (ok-1:child)", s.Stuck, 1},
		{"unexpected (stranger-1)", s.Unexpected, 1},
		{"duplicated keys (Ship two keys, Pack two visits, a key of another instance)", s.DuplicatedKeys, 3},
		{"overlaps (k1)", s.Overlaps, 1},
		{"quarantined (quarantine-1)", s.Quarantined, 1},
		{"calls", s.Calls, len(down.calls)},
		{"keys", s.Keys, 5},
		{"reruns (ok-1/Charge/1)", s.Reruns, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: counted %d, planted %d", c.name, c.got, c.want)
		}
	}
	if !s.Failed() {
		t.Error("a run with everything planted did not fail")
	}
	line := s.String()
	for _, part := range []string{"instances=0", "kills=0", "lost=1", "wrong=4", "duplicated-keys=3"} {
		if !strings.Contains(line, part) {
			t.Errorf("summary line %q lacks %q", line, part)
		}
	}
	if strings.Count(line, "\n") != 0 {
		t.Errorf("summary is more than one line: %q", line)
	}
	if t.Failed() {
		t.Logf("problems:\n%s", strings.Join(s.Problems, "\n"))
	}
}

// TestSummaryOfACleanRunPasses: nothing planted, nothing failed; only
// failures make a run fail, not what describes it.
func TestSummaryOfACleanRunPasses(t *testing.T) {
	s := Summary{Instances: 300, Kills: 60, Quarantined: 2, Resent: 70, Calls: 4000, Keys: 2000, Reruns: 90}
	if s.Failed() {
		t.Errorf("%s failed", s)
	}
	for _, planted := range []func(*Summary){
		func(s *Summary) { s.Lost++ }, func(s *Summary) { s.Wrong++ }, func(s *Summary) { s.DuplicatedKeys++ },
		func(s *Summary) { s.Gaps++ }, func(s *Summary) { s.Stuck++ }, func(s *Summary) { s.Overlaps++ },
		func(s *Summary) { s.Crashes++ }, func(s *Summary) { s.Unexpected++ },
	} {
		bad := s
		planted(&bad)
		if !bad.Failed() {
			t.Errorf("%s did not fail", bad)
		}
	}
}
