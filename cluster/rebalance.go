package cluster

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of RebalanceConfig.
const (
	DefaultRebalanceInterval = 5 * time.Second
	DefaultRebalanceFraction = 0.10
)

// RebalanceConfig configures a Rebalancer.
type RebalanceConfig struct {
	Node string // this node's name
	// Live names the live nodes with the canvases role (Membership.Live).
	Live func() []string
	// Owned lists the canvases whose actors live on this node.
	Owned func(ctx context.Context) ([]string, error)
	// Handoff stops one canvas here gracefully: it stops accepting,
	// finishes the appends in flight, writes a checkpoint and releases the
	// lease, so that the next node can claim it at once.
	Handoff func(ctx context.Context, canvasID string) error
	// Warm, when set, is called after a handoff so that the new owner
	// loads the canvas before its next client asks (through the routing
	// layer, which sends it to the preferred node).
	Warm func(ctx context.Context, canvasID string)
	// Interval between rounds; zero: DefaultRebalanceInterval.
	Interval time.Duration
	// Settle is how long the list of live nodes must have stayed the same
	// before a round moves anything, so that every node has heard the
	// same heartbeats (a node that joins is seen by each within one
	// heartbeat interval) and the new owner is the one every router
	// prefers too; zero: DefaultTimeout, membership's silence bound.
	Settle time.Duration
	// Fraction of this node's canvases handed off per round at most (at
	// least one); zero: DefaultRebalanceFraction, as Akka's default.
	Fraction float64
	// HandoffTimeout bounds one handoff; zero: 30s.
	HandoffTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Rebalancer moves this node's canvases to the nodes that rendezvous
// placement prefers for them, a bounded number per round: when a node
// joins, each old node hands it the canvases it now prefers, at most
// Fraction of the old node's canvases every Interval, so a join never
// stops many canvases at once. A round waits until the list of live
// nodes has been the same for Settle, so that a node still being seen by
// some nodes and not others moves nothing back and forth.
type Rebalancer struct {
	cfg      RebalanceConfig
	handoffs *prometheus.CounterVec
	stop     chan struct{}
	done     chan struct{}
}

// NewRebalancer checks cfg; the rounds start with Start.
func NewRebalancer(cfg RebalanceConfig) *Rebalancer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRebalanceInterval
	}
	if cfg.Fraction <= 0 || cfg.Fraction > 1 {
		cfg.Fraction = DefaultRebalanceFraction
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultTimeout
	}
	if cfg.HandoffTimeout <= 0 {
		cfg.HandoffTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Rebalancer{cfg: cfg, handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sker_cluster_handoffs_total",
		Help: "Canvases this node handed off to the node placement prefers, by outcome (ok, failed).",
	}, []string{"outcome"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.handoffs)
	}
	return r
}

// Start runs the rounds until Stop.
func (r *Rebalancer) Start() {
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.run()
}

// Stop ends the rounds, waiting for the one in progress.
func (r *Rebalancer) Stop() {
	if r.stop == nil {
		return
	}
	close(r.stop)
	<-r.done
	r.stop = nil
}

func (r *Rebalancer) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	var last []string
	changed := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		live := r.cfg.Live()
		slices.Sort(live)
		if !slices.Equal(live, last) {
			last, changed = live, time.Now()
			continue
		}
		if time.Since(changed) >= r.cfg.Settle {
			r.Round(live)
		}
	}
}

// Round hands off, among this node's canvases that placement over live
// gives to another node, at most Fraction of this node's canvases (at
// least one), and returns how many it handed off. It moves nothing when
// this node is not among live (it is leaving, or not seen yet).
func (r *Rebalancer) Round(live []string) int {
	if !slices.Contains(live, r.cfg.Node) {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Interval)
	owned, err := r.cfg.Owned(ctx)
	cancel()
	if err != nil {
		r.cfg.Logger.Warn("cluster: rebalance: listing this node's canvases", "err", err)
		return 0
	}
	var moves []string
	for _, id := range owned {
		if Owner(id, live) != r.cfg.Node {
			moves = append(moves, id)
		}
	}
	if len(moves) == 0 {
		return 0
	}
	limit := max(1, int(math.Floor(float64(len(owned))*r.cfg.Fraction)))
	if len(moves) > limit {
		moves = moves[:limit]
	}
	moved := 0
	for _, id := range moves {
		select {
		case <-r.stop:
			return moved
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HandoffTimeout)
		err := r.cfg.Handoff(ctx, id)
		cancel()
		if err != nil {
			r.handoffs.WithLabelValues("failed").Inc()
			r.cfg.Logger.Warn("cluster: rebalance: handoff failed", "canvas_id", id, "err", err)
			continue
		}
		r.handoffs.WithLabelValues("ok").Inc()
		moved++
		r.cfg.Logger.Info("cluster: canvas handed off", "canvas_id", id, "to", Owner(id, live))
		if r.cfg.Warm != nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), r.cfg.HandoffTimeout)
				defer cancel()
				r.cfg.Warm(ctx, id)
			}()
		}
	}
	return moved
}
