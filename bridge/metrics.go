package bridge

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mapping names, as in Status and the metrics' mapping label.
const (
	MappingCommands = "commands"
	MappingEvents   = "events"
)

// stats are one mapping's counters: the source of both Status and the
// Prometheus series, which read them when scraped.
type stats struct {
	name         string
	in           atomic.Uint64 // commands received; journal records fetched
	out          atomic.Uint64 // replies and dead letters published; batches published
	acked        atomic.Uint64 // deliveries acked to RabbitMQ; records acked to JetStream
	redelivered  atomic.Uint64 // deliveries RabbitMQ marked redelivered; records republished
	deadLettered atomic.Uint64 // commands copied to the dead-letter queue
	duplicates   atomic.Uint64 // commands answered with a remembered outcome
	reconnects   atomic.Uint64 // starts after the first
	lag          atomic.Int64  // commands waiting in the queue; journal records not yet confirmed
	consuming    atomic.Bool
	lastMoved    atomic.Int64 // unix nanoseconds of the last message moved
	starts       atomic.Uint64
	lease        atomic.Pointer[LeaseStatus] // the events lease on a cluster; nil otherwise
	takeovers    atomic.Uint64               // times this node took the events lease
}

func newStats(name string) *stats { return &stats{name: name} }

// started counts a start of the mapping on a connection.
func (s *stats) started() {
	if s.starts.Add(1) > 1 {
		s.reconnects.Add(1)
	}
}

func (s *stats) moved() { s.lastMoved.Store(time.Now().UnixNano()) }

// MappingStatus is what one mapping really does.
type MappingStatus struct {
	Name string `json:"name"`
	// Consuming: the mapping is taking messages on a live connection.
	Consuming bool `json:"consuming"`
	// LastMoved is when it last moved a message; zero when it has not.
	LastMoved time.Time `json:"last_moved,omitzero"`
	// Lag: for commands, the messages waiting in the queue; for events,
	// the journal records not yet confirmed by RabbitMQ. As of the last
	// look, every few seconds.
	Lag          int64  `json:"lag"`
	In           uint64 `json:"in"`
	Out          uint64 `json:"out"`
	Acked        uint64 `json:"acked"`
	Redelivered  uint64 `json:"redelivered"`
	DeadLettered uint64 `json:"dead_lettered"`
	Duplicates   uint64 `json:"duplicates"`
	Reconnects   uint64 `json:"reconnects"`
	// Lease is the events lease on a cluster: whether this node holds it
	// and who does. Nil for commands and on a node alone.
	Lease *LeaseStatus `json:"lease,omitempty"`
}

// LeaseStatus is the events lease as one node sees it.
type LeaseStatus struct {
	// Key is the lease's key in the lease bucket.
	Key string `json:"key"`
	// Held: this node holds the lease and may publish.
	Held bool `json:"held"`
	// Holder is the node that holds it, as of this node's last look
	// (every StandbyPoll while standing by); "" when none does.
	Holder string `json:"holder"`
	// Since is when this node last took the lease, or started standing by.
	Since time.Time `json:"since"`
	// Takeovers counts the times this node took the lease.
	Takeovers uint64 `json:"takeovers"`
}

// standingBy: the events wait for another node's lease (nil: no lease).
func (l *LeaseStatus) standingBy() bool { return l != nil && !l.Held }

func (s *stats) status() MappingStatus {
	st := MappingStatus{
		Name: s.name, Consuming: s.consuming.Load(), Lag: s.lag.Load(),
		In: s.in.Load(), Out: s.out.Load(), Acked: s.acked.Load(), Redelivered: s.redelivered.Load(),
		DeadLettered: s.deadLettered.Load(), Duplicates: s.duplicates.Load(), Reconnects: s.reconnects.Load(),
	}
	if ns := s.lastMoved.Load(); ns != 0 {
		st.LastMoved = time.Unix(0, ns)
	}
	if l := s.lease.Load(); l != nil {
		c := *l
		c.Takeovers = s.takeovers.Load()
		st.Lease = &c
	}
	return st
}

// register exposes the mappings' stats and the connection state on reg.
func register(reg prometheus.Registerer, connected func() bool, all ...*stats) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sker_bridge_connected", Help: "1 while the bridge has its RabbitMQ connection.",
	}, func() float64 { return b2f(connected()) }))
	for _, s := range all {
		labels := prometheus.Labels{"mapping": s.name}
		counter := func(name, help string, v *atomic.Uint64) {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
				func() float64 { return float64(v.Load()) }))
		}
		counter("sker_bridge_in_total", "Messages the mapping took in: commands received, journal records fetched.", &s.in)
		counter("sker_bridge_out_total", "Messages the mapping published: replies and dead letters, committed batches.", &s.out)
		counter("sker_bridge_acked_total", "Messages acked at their source once final: commands to RabbitMQ, records to JetStream.", &s.acked)
		counter("sker_bridge_redelivered_total", "Messages that came again: commands RabbitMQ redelivered, records published again.", &s.redelivered)
		counter("sker_bridge_dead_lettered_total", "Commands rejected for good and copied to the dead-letter queue.", &s.deadLettered)
		counter("sker_bridge_duplicates_total", "Commands answered with the outcome remembered from their first delivery.", &s.duplicates)
		counter("sker_bridge_reconnects_total", "Times the mapping started again on a new connection.", &s.reconnects)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sker_bridge_lag", Help: "Commands waiting in the queue; journal records not yet confirmed by RabbitMQ.", ConstLabels: labels,
		}, func() float64 { return float64(s.lag.Load()) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sker_bridge_consuming", Help: "1 while the mapping takes messages on a live connection.", ConstLabels: labels,
		}, func() float64 { return b2f(s.consuming.Load()) }))
		if s.name == MappingEvents {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sker_bridge_events_lease_held", Help: "1 while this node holds the events lease and may publish (on a cluster).",
			}, func() float64 { l := s.lease.Load(); return b2f(l != nil && l.Held) }))
			counter("sker_bridge_events_takeovers_total", "Times this node took the events lease.", &s.takeovers)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
