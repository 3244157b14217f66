package api

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/store"
)

// Metrics are the sidecar's Prometheus counters, fed from the engine's
// committed history events (engine.Config.OnEvent).
type Metrics struct {
	registry *prometheus.Registry
	started  *prometheus.CounterVec
	ended    *prometheus.CounterVec
	steps    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	reloads  *prometheus.CounterVec
	problems prometheus.Gauge
}

// NewMetrics makes the counters, with the Go runtime and process
// collectors beside them.
func NewMetrics() *Metrics {
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
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orbit_reloads_total", Help: "Loads of the scripts directory after a change, by result (ok, failed).",
		}, []string{"result"}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orbit_reload_problems", Help: "Problems of the last reload; 0 when the running bundle is the latest.",
		}),
	}
	m.registry.MustRegister(m.started, m.ended, m.steps, m.errors, m.reloads, m.problems,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the wiring may register more collectors (reload
// problems, store statistics).
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
	case store.EventTaskRetryScheduled, store.EventErrorCaught:
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	case store.EventExecutionSucceeded:
		m.ended.WithLabelValues(workflow, string(store.Succeeded)).Inc()
	case store.EventExecutionCancelled:
		m.ended.WithLabelValues(workflow, string(store.Cancelled)).Inc()
	case store.EventExecutionFailed:
		m.ended.WithLabelValues(workflow, string(store.Failed)).Inc()
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	case store.EventExecutionTimedOut:
		m.ended.WithLabelValues(workflow, string(store.TimedOut)).Inc()
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	}
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

// serveMetrics renders the registry in the Prometheus text format.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, _ []string) {
	mfs, err := s.metrics.registry.Gather()
	if err != nil && len(mfs) == 0 {
		writeError(ctx, fasthttp.StatusInternalServerError, CodeInternal, "gather metrics: "+err.Error())
		return
	}
	ctx.SetContentType(string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(ctx, mf); err != nil {
			s.opt.Log.Warn("render metrics", "err", err)
			return
		}
	}
}
