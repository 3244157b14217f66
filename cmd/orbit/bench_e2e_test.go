package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// A short orbit bench run measures both sides, the store and the waiting
// work, and ends with its JSON line.
func TestBenchReportsBothSidesAndWaitingWork(t *testing.T) {
	out, stderr, code := runOrbit(t, nil, "bench", "--duration", "1s", "--warmup", "0s", "--concurrency", "4",
		"--rate", "200", "--waiting", "300", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Direct, Orbit benchSide
		Ratio         float64 `json:"ratio"`
		Waiting       struct {
			Instances int     `json:"instances"`
			RSSMB     float64 `json:"rss_mb"`
			RestartMS float64 `json:"restart_ms"`
			Resumed   bool    `json:"resumed"`
		}
	}
	benchSummary(t, out, &res)
	for side, r := range map[string]benchSide{"direct": res.Direct, "orbit": res.Orbit} {
		if r.Completed == 0 || r.Errors != 0 || r.WPS <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%s: %+v", side, r)
		}
		// Each workflow hands work between goroutines at least once a call.
		if r.GoroutineRunsPerWF <= 0 {
			t.Errorf("%s: no scheduling figures: %+v", side, r)
		}
		// With --rate, the latency in service leaves out the wait for a
		// free starter, so it is no longer than the latency from due.
		if r.ServiceP50 <= 0 || r.ServiceP99 < r.ServiceP50 || r.ServiceP99 > r.P99 || r.LateStarts < 0 || r.LateStarts > 100 || r.CPUWaitPerWF < 0 {
			t.Errorf("%s: service figures: %+v", side, r)
		}
	}
	if res.Orbit.CommitsPerSec <= 0 || res.Ratio <= 0 {
		t.Errorf("orbit side without store figures or ratio: %+v ratio %v", res.Orbit, res.Ratio)
	}
	// Durable checkpoints are counted to the disk: at least one fsync per
	// group commit, and bytes written.
	if o := res.Orbit; o.SyncsPerWF <= 0 || o.LogBytesPerWF <= 0 || o.BytesPerWF <= 0 {
		t.Errorf("orbit side without disk figures: %+v", o)
	}
	if d := res.Direct; d.SyncsPerWF != 0 || d.LogBytesPerWF != 0 {
		t.Errorf("direct side has store figures: %+v", d)
	}
	if w := res.Waiting; w.Instances != 300 || w.RSSMB <= 0 || w.RestartMS <= 0 || !w.Resumed {
		t.Errorf("waiting: %+v", w)
	}
	if !strings.Contains(out, "ratio orbit/direct:") || !strings.Contains(out, "restart: ready in") ||
		!strings.Contains(out, "scheduling, orbit:") || !strings.Contains(out, "in service, orbit:") {
		t.Errorf("table missing:\n%s", out)
	}
}

// orbit bench --mode forward measures a bare forwarder in Orbit's place
// against direct in the same run: it completes workflows over the same
// start request and reports its figures under its own name, with no store.
func TestBenchForwardModeReportsTheForwarder(t *testing.T) {
	out, stderr, code := runOrbit(t, nil, "bench", "--mode", "forward", "--duration", "1s", "--warmup", "0s",
		"--concurrency", "4", "--rate", "200", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Direct, Forward benchSide
		Orbit           *benchSide
		Ratio           float64 `json:"ratio"`
		Mode            string  `json:"mode"`
		Store           string  `json:"store"`
	}
	benchSummary(t, out, &res)
	for side, r := range map[string]benchSide{"direct": res.Direct, "forward": res.Forward} {
		if r.Completed == 0 || r.Errors != 0 || r.WPS <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.GoroutineRunsPerWF <= 0 {
			t.Errorf("%s: %+v", side, r)
		}
	}
	if f := res.Forward; f.SyncsPerWF != 0 || f.LogBytesPerWF != 0 || f.CommitsPerSec != 0 {
		t.Errorf("the forwarder has store figures: %+v", f)
	}
	if res.Orbit != nil || res.Ratio <= 0 || res.Mode != "forward" || res.Store != "none" {
		t.Errorf("summary: orbit %+v, ratio %v, mode %q, store %q", res.Orbit, res.Ratio, res.Mode, res.Store)
	}
	for _, want := range []string{"mode forward", "\nforward ", "ratio forward/direct:", "scheduling, forward:", "store: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\norbit ") || strings.Contains(out, "group commits") {
		t.Errorf("the table has an orbit side:\n%s", out)
	}
	// The forwarder runs no engine: the engine's flags are refused.
	if _, stderr, code := runOrbit(t, nil, "bench", "--mode", "forward", "--pipeline"); code != 2 || !strings.Contains(stderr, "--mode forward") {
		t.Errorf("--mode forward --pipeline: exit %d: %s", code, stderr)
	}
}

type benchSide struct {
	Completed     int     `json:"completed"`
	Errors        int     `json:"errors"`
	WPS           float64 `json:"wps"`
	P50           float64 `json:"p50_ms"`
	P99           float64 `json:"p99_ms"`
	CommitsPerSec float64 `json:"commits_per_s"`
	SyncsPerWF    float64 `json:"fsyncs_per_wf"`
	BytesPerWF    float64 `json:"bytes_written_per_wf"`
	LogBytesPerWF float64 `json:"log_bytes_per_wf"`
	// GoroutineRunsPerWF is estimated from a sample: one in eight.
	GoroutineRunsPerWF float64 `json:"goroutine_runs_per_wf"`
	CPUWaitPerWF       float64 `json:"cpu_wait_ms_per_wf"`
	ServiceP50         float64 `json:"service_p50_ms"`
	ServiceP99         float64 `json:"service_p99_ms"`
	LateStarts         float64 `json:"late_starts_pct"`
}

// A short orbit bench run on NATS (two sidecars sharing one in-process
// server) completes workflows through the shared store and states the
// store's durability in the table and the JSON line.
func TestBenchOnNATSReportsItsDurability(t *testing.T) {
	out, stderr, code := runOrbit(t, nil, "bench", "--store", "nats", "--sidecars", "2", "--nodes", "1",
		"--duration", "1s", "--warmup", "0s", "--concurrency", "4", "--rate", "100", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Orbit      benchSide
		Store      string `json:"store"`
		Durability string `json:"durability"`
		Sidecars   int    `json:"sidecars"`
		Nodes      int    `json:"nodes"`
	}
	benchSummary(t, out, &res)
	if r := res.Orbit; r.Completed == 0 || r.Errors != 0 || r.WPS <= 0 || r.CommitsPerSec <= 0 {
		t.Errorf("orbit side: %+v\n%s", r, out)
	}
	const durability = "R1, fsync every 2 min"
	if res.Store != "nats" || res.Sidecars != 2 || res.Nodes != 1 || res.Durability != durability {
		t.Errorf("summary: %+v", res)
	}
	if !strings.Contains(out, "store: nats, 2 sidecars, 1 nodes ("+durability+")") || !strings.Contains(out, "ratio orbit/direct:") {
		t.Errorf("table missing the store line or the ratio:\n%s", out)
	}
}

// benchSummary reads the JSON line that ends a bench run's output into res.
func benchSummary(t *testing.T, out string, res any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), res); err != nil {
		t.Fatalf("last line is not the JSON summary: %v\n%s", err, out)
	}
}

// orbit bench --help shows every flag a measurement needs in its usage
// line too (issue: --warmup and --cpuprofile were missing).
func TestBenchHelpNamesEveryFlag(t *testing.T) {
	_, stderr, code := runOrbit(t, nil, "bench", "--help")
	usage, _, _ := strings.Cut(stderr, "\n")
	for _, flag := range []string{"--warmup", "--cpuprofile", "--duration", "--concurrency", "--store"} {
		if !strings.Contains(usage, flag) {
			t.Errorf("the usage line lacks %s: %q", flag, usage)
		}
		if !strings.Contains(stderr, "  -"+strings.TrimPrefix(flag, "--")+" ") {
			t.Errorf("the flag list lacks %s:\n%s", flag, stderr)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}
