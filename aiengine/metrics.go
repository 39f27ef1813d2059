package aiengine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's series: runs by provider and outcome (done,
// error, cancelled) and how long they took. Make them once per registry
// and hand them to every engine of the process.
type Metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics makes the engine's metrics, registered on reg unless it is
// nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_ai_runs_total",
			Help: "AI runs finished on this node's workers, by provider and outcome (done, error, cancelled).",
		}, []string{"provider", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sker_ai_run_seconds",
			Help:    "How long AI runs took, from the worker taking the job to its result, by provider.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.runs, m.duration)
	}
	return m
}

// observe records one finished run.
func (m *Metrics) observe(provider, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(provider, outcome).Inc()
	m.duration.WithLabelValues(provider).Observe(d.Seconds())
}
