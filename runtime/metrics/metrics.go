// Package metrics is Orbit's Prometheus metrics: what the engine, the
// store, the Lua and WebAssembly runtimes, the scripts' reloads and the
// HTTP API measure, in one registry that the API serves at /metrics
// (docs/observability.md has the table).
//
// Every label set is bounded: workflows, states, plugins and routes come
// from definitions; statuses, kinds and methods are closed sets; error
// names are capped (errorNames). No label carries an instance id, a raw
// path or an error's cause.
//
// The methods that measure are called on hot paths (every step, every
// request): each keeps the series it has made, so that a measurement
// costs a map lookup and an atomic add, and no allocation.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/orbit-sidecar/orbit/store"
)

// Metrics are the sidecar's metrics. Its On* methods are the hooks the
// wiring hands to the engine, the store, scripting and plugins.
type Metrics struct {
	registry *prometheus.Registry

	started   *prometheus.CounterVec
	ended     *prometheus.CounterVec
	steps     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	retries   *prometheus.CounterVec
	stepTime  *prometheus.HistogramVec
	commit    prometheus.Histogram
	perCommit prometheus.Histogram
	luaTime   *prometheus.HistogramVec
	wasmTime  *prometheus.HistogramVec
	reloads   *prometheus.CounterVec
	problems  prometheus.Gauge
	requests  *prometheus.CounterVec
	reqTime   *prometheus.HistogramVec

	errorNames errorNames
	stepSeries series[stepKey, prometheus.Observer]
	wasmSeries series[[2]string, prometheus.Observer]
	luaSeries  series[string, prometheus.Observer]
	reqSeries  series[requestKey, requestSeries]

	engine sync.Mutex // guards the engine gauges' registration
	gauges bool
}

// Buckets of the duration histograms, in seconds: from a quick Lua call
// (100µs) to a slow downstream (a minute).
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Buckets of the store's commit latency: an fsync takes from tens of
// microseconds (a cache) to tens of milliseconds (a busy disk).
var commitBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// Buckets of checkpoints per commit: the group commit's batch sizes, up
// to its bound of 1000.
var groupBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000}

// New makes the metrics, with the Go runtime and process collectors beside
// them.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_instances_started_total", Help: "Instances started, children included.",
		}, []string{"workflow"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_instances_ended_total", Help: "Instances ended, by final status.",
		}, []string{"workflow", "status"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_steps_total", Help: "States entered.",
		}, []string{"workflow"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_errors_total", Help: "Errors raised in states, each counted once where it was retried, caught or ended the instance.",
		}, []string{"workflow", "error"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_retries_total", Help: "Retries scheduled, by the error retried.",
		}, []string{"workflow", "error"}),
		stepTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orbit_step_duration_seconds", Help: "Time of one run of a state (a task's call included), by the routine kind of a task or the type of any other state.",
			Buckets: durationBuckets,
		}, []string{"workflow", "state", "kind"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "orbit_store_commit_duration_seconds", Help: "Time of one group commit of the store (its log record appended and fsynced).",
			Buckets: commitBuckets,
		}),
		perCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "orbit_store_checkpoints_per_commit", Help: "Instance checkpoints carried by one group commit of the store.",
			Buckets: groupBuckets,
		}),
		luaTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orbit_lua_call_duration_seconds", Help: "Time of one call of a Lua function, by what it was for (routine, expression, condition).",
			Buckets: durationBuckets,
		}, []string{"use"}),
		wasmTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orbit_wasm_call_duration_seconds", Help: "Time of one call of a WebAssembly plugin function.",
			Buckets: durationBuckets,
		}, []string{"plugin", "func"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_reloads_total", Help: "Loads of the scripts directory after a change, by result (ok, failed).",
		}, []string{"result"}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orbit_reload_problems", Help: "Problems of the last reload; 0 when the running bundle is the latest.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_http_requests_total", Help: "Requests to the HTTP API, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		reqTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orbit_http_request_duration_seconds", Help: "Time to answer a request to the HTTP API, by route pattern and method.",
			Buckets: durationBuckets,
		}, []string{"route", "method"}),
		errorNames: errorNames{max: MaxErrorNames},
	}
	m.registry.MustRegister(m.started, m.ended, m.steps, m.errors, m.retries, m.stepTime, m.commit, m.perCommit,
		m.luaTime, m.wasmTime, m.reloads, m.problems, m.requests, m.reqTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is what /metrics serves; the wiring may register more
// collectors in it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// OnEvent counts one committed history event; it is engine.Config.OnEvent.
// Every raised error is resolved by exactly one of a scheduled retry, a
// catch or the end of its instance, so counting those events counts each
// error once.
func (m *Metrics) OnEvent(workflow string, ev *store.Event) {
	switch ev.Type {
	case store.EventExecutionStarted:
		m.started.WithLabelValues(workflow).Inc()
	case store.EventStateEntered:
		m.steps.WithLabelValues(workflow).Inc()
	case store.EventTaskRetryScheduled:
		name := m.errorNames.label(ev.Error)
		m.retries.WithLabelValues(workflow, name).Inc()
		m.errors.WithLabelValues(workflow, name).Inc()
	case store.EventErrorCaught:
		m.errors.WithLabelValues(workflow, m.errorNames.label(ev.Error)).Inc()
	case store.EventExecutionSucceeded:
		m.ended.WithLabelValues(workflow, string(store.Succeeded)).Inc()
	case store.EventExecutionCancelled:
		m.ended.WithLabelValues(workflow, string(store.Cancelled)).Inc()
	case store.EventExecutionFailed:
		m.ended.WithLabelValues(workflow, string(store.Failed)).Inc()
		m.errors.WithLabelValues(workflow, m.errorNames.label(ev.Error)).Inc()
	case store.EventExecutionTimedOut:
		m.ended.WithLabelValues(workflow, string(store.TimedOut)).Inc()
		m.errors.WithLabelValues(workflow, m.errorNames.label(ev.Error)).Inc()
	}
}

type stepKey struct{ workflow, state, kind string }

// OnStep times one run of a state; it is engine.Config.OnStep.
func (m *Metrics) OnStep(workflow, state, kind string, took time.Duration) {
	m.stepSeries.get(stepKey{workflow, state, kind}, func() prometheus.Observer {
		return m.stepTime.WithLabelValues(workflow, state, kind)
	}).Observe(took.Seconds())
}

// OnCommit records one group commit of the store: how many checkpoints
// it carried and how long it took; it is the store's commit hook
// (bolt.Options.OnCommit).
func (m *Metrics) OnCommit(checkpoints int, took time.Duration) {
	m.commit.Observe(took.Seconds())
	m.perCommit.Observe(float64(checkpoints))
}

// OnLuaCall times one call of a Lua function made for use (routine,
// expression, condition); the wiring adapts scripting.Options.OnLuaCall
// to it.
func (m *Metrics) OnLuaCall(use string, took time.Duration) {
	m.luaSeries.get(use, func() prometheus.Observer { return m.luaTime.WithLabelValues(use) }).Observe(took.Seconds())
}

// OnPluginCall times one call of a plugin function; it is
// plugins.Options.OnCall.
func (m *Metrics) OnPluginCall(plugin, fn string, took time.Duration) {
	m.wasmSeries.get([2]string{plugin, fn}, func() prometheus.Observer {
		return m.wasmTime.WithLabelValues(plugin, fn)
	}).Observe(took.Seconds())
}

// Reloaded records a reload of the scripts: problems is how many the new
// sources had (0: the new bundle runs now).
func (m *Metrics) Reloaded(problems int) {
	result := "ok"
	if problems > 0 {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
	m.problems.Set(float64(problems))
}

// series keeps the series of label sets by key, so that measuring a known
// one neither hashes its labels again nor allocates.
type series[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (s *series[K, V]) get(k K, create func() V) V {
	s.mu.RLock()
	o, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok = s.m[k]; !ok {
		if s.m == nil {
			s.m = map[K]V{}
		}
		o = create()
		s.m[k] = o
	}
	return o
}
