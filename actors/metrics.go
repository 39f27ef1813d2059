package actors

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the canvas actors' Prometheus series. With no Registerer in
// the Config they are created but not registered.
type metrics struct {
	active         prometheus.Gauge
	opsCommitted   prometheus.Counter
	batches        prometheus.Counter
	rejected       *prometheus.CounterVec
	appendSeconds  prometheus.Histogram
	recordBatches  prometheus.Histogram
	checkpoints    *prometheus.CounterVec
	checkpointTime prometheus.Histogram
	claims         *prometheus.CounterVec // ownership changes: claims made, by outcome
	lost           *prometheus.CounterVec // ownership lost while live, by reason
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sker_canvases_active", Help: "Canvas actors alive on this node.",
		}),
		opsCommitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sker_ops_committed_total", Help: "Ops committed to the journal.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sker_batches_committed_total", Help: "Batches committed to the journal.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_batches_rejected_total", Help: "Batches rejected by validation, by code.",
		}, []string{"code"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sker_journal_append_seconds", Help: "Latency of one durable journal append.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		recordBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sker_journal_record_batches", Help: "Batches per journal record (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_checkpoints_total", Help: "Checkpoints written, by outcome.",
		}, []string{"outcome"}),
		checkpointTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sker_checkpoint_seconds", Help: "Time to write one checkpoint to the store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_canvas_claims_total",
			Help: "Canvas ownership claims made by this node's actors (a cluster's), by outcome: won, held_elsewhere, failed.",
		}, []string{"outcome"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_canvas_ownership_lost_total",
			Help: "Live canvases whose actor stopped because this node no longer owned them, by reason: claim (lapsed or lost), fenced (another owner appended).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.active, m.opsCommitted, m.batches, m.rejected, m.appendSeconds,
			m.recordBatches, m.checkpoints, m.checkpointTime, m.claims, m.lost)
	}
	return m
}
