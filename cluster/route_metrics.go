package cluster

import "github.com/prometheus/client_golang/prometheus"

// routeMetrics are the Router's Prometheus series. With no Registerer in
// the RouterConfig they are kept but not registered.
type routeMetrics struct {
	remote  *prometheus.HistogramVec
	retries *prometheus.CounterVec
	served  *prometheus.CounterVec
}

func newRouteMetrics(reg prometheus.Registerer) *routeMetrics {
	m := &routeMetrics{
		remote: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sker_cluster_remote_seconds", Help: "Latency of one call on another node, by op, until its answer or error.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}, []string{"op"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_cluster_route_retries_total",
			Help: "Attempts that found no owner and were followed by a redirect or a retry, by reason.",
		}, []string{"reason"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_cluster_served_total", Help: "Calls answered for other nodes, by op.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.remote, m.retries, m.served)
	}
	return m
}
