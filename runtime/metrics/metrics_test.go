package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/orbit-sidecar/orbit/store"
)

// fakeEngine stands in for the engine's gauges.
type fakeEngine struct{}

func (fakeEngine) Waiting() map[store.WaitingKind]int64 {
	return map[store.WaitingKind]int64{store.WaitEvent: 3, store.WaitTimer: 1}
}
func (fakeEngine) QueueDepth() int { return 2 }

// moved returns metrics in which every hook has been called once.
func moved(t *testing.T) *Metrics {
	t.Helper()
	m := New()
	m.Watch(fakeEngine{})
	for _, ev := range []store.Event{
		{Type: store.EventExecutionStarted}, {Type: store.EventStateEntered},
		{Type: store.EventTaskRetryScheduled, Error: "Http.503"}, {Type: store.EventErrorCaught, Error: "Payment.Declined"},
		{Type: store.EventExecutionSucceeded}, {Type: store.EventExecutionFailed, Error: "States.Timeout"},
	} {
		m.OnEvent("order", &ev)
	}
	m.OnStep("order", "Charge", "http", 20*time.Millisecond)
	m.OnCommit(12, 2*time.Millisecond)
	m.OnLuaCall("routine", 50*time.Microsecond)
	m.OnPluginCall("fraud", "score", time.Millisecond)
	m.Reloaded(2)
	m.OnRequest("/v1/instances/{}", []byte("GET"), 200, time.Millisecond)
	return m
}

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// Orbit's metrics are the documented set, named as Prometheus asks: the
// orbit_ prefix, _total on counters, _seconds on durations, a help text.
func TestMetricNames(t *testing.T) {
	want := map[string]dto.MetricType{
		"orbit_instances_started_total":       dto.MetricType_COUNTER,
		"orbit_instances_ended_total":         dto.MetricType_COUNTER,
		"orbit_steps_total":                   dto.MetricType_COUNTER,
		"orbit_errors_total":                  dto.MetricType_COUNTER,
		"orbit_retries_total":                 dto.MetricType_COUNTER,
		"orbit_step_duration_seconds":         dto.MetricType_HISTOGRAM,
		"orbit_instances_waiting":             dto.MetricType_GAUGE,
		"orbit_concurrency_queue_depth":       dto.MetricType_GAUGE,
		"orbit_store_commit_duration_seconds": dto.MetricType_HISTOGRAM,
		"orbit_store_checkpoints_per_commit":  dto.MetricType_HISTOGRAM,
		"orbit_lua_call_duration_seconds":     dto.MetricType_HISTOGRAM,
		"orbit_wasm_call_duration_seconds":    dto.MetricType_HISTOGRAM,
		"orbit_reloads_total":                 dto.MetricType_COUNTER,
		"orbit_reload_problems":               dto.MetricType_GAUGE,
		"orbit_http_requests_total":           dto.MetricType_COUNTER,
		"orbit_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
	}
	got := gather(t, moved(t))
	for name, typ := range want {
		mf := got[name]
		if mf == nil {
			t.Errorf("no metric %s", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s is a %s, want a %s", name, mf.GetType(), typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	for name, mf := range got {
		if !strings.HasPrefix(name, "orbit_") {
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("metric %s is neither Orbit's nor the runtime's", name)
			}
			continue
		}
		if _, ok := want[name]; !ok {
			t.Errorf("metric %s is not in the documented set", name)
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_HISTOGRAM:
			if strings.Contains(name, "duration") != strings.HasSuffix(name, "_seconds") {
				t.Errorf("histogram %s: durations end in _seconds, and only they", name)
			}
		}
	}
}

// The hooks move the series they are for, with the labels they are given.
func TestHooksMoveTheirSeries(t *testing.T) {
	got := gather(t, moved(t))
	check := func(name string, labels map[string]string, value float64) {
		t.Helper()
		mf := got[name]
		if mf == nil {
			t.Fatalf("no metric %s", name)
		}
		for _, s := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range s.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			if fmt.Sprint(have) != fmt.Sprint(labels) {
				continue
			}
			var v float64
			switch {
			case s.Counter != nil:
				v = s.Counter.GetValue()
			case s.Gauge != nil:
				v = s.Gauge.GetValue()
			case s.Histogram != nil:
				v = float64(s.Histogram.GetSampleCount())
			}
			if v != value {
				t.Errorf("%s%v is %v, want %v", name, labels, v, value)
			}
			return
		}
		t.Errorf("%s has no series %v", name, labels)
	}
	check("orbit_instances_started_total", map[string]string{"workflow": "order"}, 1)
	check("orbit_instances_ended_total", map[string]string{"workflow": "order", "status": "FAILED"}, 1)
	check("orbit_retries_total", map[string]string{"workflow": "order", "error": "Http.503"}, 1)
	check("orbit_errors_total", map[string]string{"workflow": "order", "error": "Payment.Declined"}, 1)
	check("orbit_errors_total", map[string]string{"workflow": "order", "error": "States.Timeout"}, 1)
	check("orbit_step_duration_seconds", map[string]string{"workflow": "order", "state": "Charge", "kind": "http"}, 1)
	check("orbit_store_commit_duration_seconds", map[string]string{}, 1)
	check("orbit_lua_call_duration_seconds", map[string]string{"use": "routine"}, 1)
	check("orbit_wasm_call_duration_seconds", map[string]string{"plugin": "fraud", "func": "score"}, 1)
	check("orbit_http_requests_total", map[string]string{"route": "/v1/instances/{}", "method": "GET", "status": "200"}, 1)
	check("orbit_http_request_duration_seconds", map[string]string{"route": "/v1/instances/{}", "method": "GET"}, 1)
	check("orbit_instances_waiting", map[string]string{"kind": "event"}, 3)
	check("orbit_concurrency_queue_depth", map[string]string{}, 2)
	check("orbit_reload_problems", map[string]string{}, 2)
	if s := got["orbit_store_checkpoints_per_commit"].GetMetric()[0].GetHistogram(); s.GetSampleSum() != 12 {
		t.Errorf("checkpoints per commit sum %v, want 12", s.GetSampleSum())
	}
}

// Error names past MaxErrorNames are counted as "other"; the built-in
// ones and Http.<status> always keep their own label.
func TestErrorNamesAreCapped(t *testing.T) {
	m := New()
	for i := range MaxErrorNames + 50 {
		m.OnEvent("w", &store.Event{Type: store.EventErrorCaught, Error: fmt.Sprintf("Custom.%d", i)})
	}
	m.OnEvent("w", &store.Event{Type: store.EventErrorCaught, Error: "States.Timeout"})
	m.OnEvent("w", &store.Event{Type: store.EventErrorCaught, Error: "Http.502"})
	labels := map[string]float64{}
	for _, s := range gather(t, m)["orbit_errors_total"].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "error" {
				labels[l.GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	if len(labels) != MaxErrorNames+3 || labels[OtherErrors] != 50 || labels["States.Timeout"] != 1 || labels["Http.502"] != 1 {
		t.Errorf("%d error labels (want %d), other %v, States.Timeout %v, Http.502 %v",
			len(labels), MaxErrorNames+3, labels[OtherErrors], labels["States.Timeout"], labels["Http.502"])
	}
}

// Measuring a known series allocates nothing: these run on every step,
// call and request.
func TestMeasuringAllocatesNothing(t *testing.T) {
	m := moved(t)
	method := []byte("GET")
	for name, f := range map[string]func(){
		"OnStep":       func() { m.OnStep("order", "Charge", "http", time.Millisecond) },
		"OnLuaCall":    func() { m.OnLuaCall("routine", time.Millisecond) },
		"OnPluginCall": func() { m.OnPluginCall("fraud", "score", time.Millisecond) },
		"OnRequest":    func() { m.OnRequest("/v1/instances/{}", method, 200, time.Millisecond) },
		"OnCommit":     func() { m.OnCommit(3, time.Millisecond) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
}

// The example Grafana dashboard queries only metrics Orbit has.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../examples/grafana/orbit.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries; is it the right file?", len(exprs))
	}
	have := gather(t, moved(t))
	name := regexp.MustCompile(`\b(?:orbit|go|process)_[a-z_]+\b`)
	var used []string
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && have[b] != nil && have[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if have[base] == nil {
				t.Errorf("the dashboard queries %s, which Orbit does not have: %s", n, e)
			}
			used = append(used, base)
		}
	}
	for n := range have {
		if strings.HasPrefix(n, "orbit_") && !slices.Contains(used, n) {
			t.Errorf("the dashboard shows nothing of %s", n)
		}
	}
}
