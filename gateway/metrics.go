package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series.
type metrics struct {
	connections prometheus.Gauge
	closes      *prometheus.CounterVec
	rooms       prometheus.Gauge
	frames      *prometheus.CounterVec
	upgrades    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sker_ws_connections", Help: "Open WebSocket connections.",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_ws_closes_total", Help: "WebSocket connections closed by the server, by close code.",
		}, []string{"code"}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sker_ws_canvases", Help: "Canvases with local WebSocket clients (one NATS subscription each).",
		}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_ws_frames_received_total", Help: "Frames received from clients, by type.",
		}, []string{"type"}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_ws_upgrades_total",
			Help: "WebSocket handshakes accepted, by path: \"listener\" (upgraded as the connection arrived) or \"route\" (through the HTTP server, on a connection that carried another request first; such connections keep the HTTP server's buffers).",
		}, []string{"path"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.closes, m.rooms, m.frames, m.upgrades)
	}
	return m
}

func (m *metrics) closed(code int) { m.closes.WithLabelValues(strconv.Itoa(code)).Inc() }
