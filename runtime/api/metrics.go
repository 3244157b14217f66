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
	}
	m.registry.MustRegister(m.started, m.ended, m.steps, m.errors,
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
	case "ExecutionStarted":
		m.started.WithLabelValues(workflow).Inc()
	case "StateEntered":
		m.steps.WithLabelValues(workflow).Inc()
	case "TaskRetryScheduled", "ErrorCaught":
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	case "ExecutionSucceeded":
		m.ended.WithLabelValues(workflow, string(store.Succeeded)).Inc()
	case "ExecutionCancelled":
		m.ended.WithLabelValues(workflow, string(store.Cancelled)).Inc()
	case "ExecutionFailed":
		m.ended.WithLabelValues(workflow, string(store.Failed)).Inc()
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	case "ExecutionTimedOut":
		m.ended.WithLabelValues(workflow, string(store.TimedOut)).Inc()
		m.errors.WithLabelValues(workflow, ev.Error).Inc()
	}
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
