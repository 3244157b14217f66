package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orbit-sidecar/orbit/store"
)

// Engine is what the metrics read from the engine at each scrape
// (*engine.Engine is one).
type Engine interface {
	// Waiting counts the instances that wait, by what they wait for.
	Waiting() map[store.WaitingKind]int64
	// QueueDepth counts the instances queued behind concurrency limits.
	QueueDepth() int
}

// Watch adds the gauges read from e at each scrape: instances waiting by
// kind and the concurrency queue's depth. Call it once, with the engine
// whose OnEvent and OnStep these metrics are.
func (m *Metrics) Watch(e Engine) {
	m.engine.Lock()
	defer m.engine.Unlock()
	if m.gauges {
		return
	}
	m.gauges = true
	m.registry.MustRegister(waitingCollector{e}, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orbit_concurrency_queue_depth", Help: "Instances QUEUED behind the concurrency limit of their key.",
	}, func() float64 { return float64(e.QueueDepth()) }))
}

var waitingDesc = prometheus.NewDesc("orbit_instances_waiting",
	"Instances not running, by what they wait for (event, timer, retry, child, concurrency, paused).", []string{"kind"}, nil)

// waitingCollector reads the waiting counts at each scrape.
type waitingCollector struct{ e Engine }

func (c waitingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- waitingDesc }

func (c waitingCollector) Collect(ch chan<- prometheus.Metric) {
	for kind, n := range c.e.Waiting() {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(n), string(kind))
	}
}
