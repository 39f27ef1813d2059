package main

import (
	"flag"
	"fmt"
	"time"
)

// Config holds every scenario's sizes and the run's timing. Zero values
// are not defaults: DefaultConfig has them, and flags override it.
type Config struct {
	Warmup   time.Duration // load before the window opens
	Duration time.Duration // the measurement window
	Drain    time.Duration // how long to wait for the last acks and deliveries
	Timeout  time.Duration // hard bound of one scenario, set-up included

	DialConcurrency int    // connections being opened at once
	ProfileDir      string // where to put the server's pprof profiles (skerprof only)

	Fanout FanoutConfig
	Spread SpreadConfig
	Burst  BurstConfig
	Cold   ColdConfig
	Idle   IdleConfig

	Failover FailoverConfig
}

// FailoverConfig: one canvas, Clients clients each sending Rate batches/s
// (one in flight), the owner killed Window/2 into the Window.
type FailoverConfig struct {
	Clients int
	Rate    float64
	Window  time.Duration
}

// FanoutConfig: one canvas, Clients clients each sending Rate changes/s.
type FanoutConfig struct {
	Clients int
	Rate    float64
}

// SpreadConfig: Canvases canvases × Clients clients, Rate changes/s each.
type SpreadConfig struct {
	Canvases int
	Clients  int
	Rate     float64
}

// BurstConfig: batches of Batch ops on one canvas, Window in flight, via
// the REST ops route ("rest") or WebSocket ("ws": Clients connections,
// each within the server's announced per-connection ops rate).
type BurstConfig struct {
	Via     string
	Clients int
	Batch   int
	Window  int
}

// ColdConfig: Canvases canvases of Cards cards, opened after a restart.
type ColdConfig struct {
	Cards    int
	Canvases int
}

// IdleConfig: Conns idle connections spread over Canvases canvases.
type IdleConfig struct {
	Conns    int
	Canvases int
}

// DefaultConfig is the sizes: the targets are stated for them.
func DefaultConfig() Config {
	return Config{
		Warmup: 2 * time.Second, Duration: 10 * time.Second, Drain: 10 * time.Second, Timeout: 3 * time.Minute,
		DialConcurrency: 32,
		Fanout:          FanoutConfig{Clients: 100, Rate: 10},
		Spread:          SpreadConfig{Canvases: 1000, Clients: 10, Rate: 1},
		Burst:           BurstConfig{Via: "rest", Clients: 16, Batch: 100, Window: 8},
		Cold:            ColdConfig{Cards: 10_000, Canvases: 3},
		Idle:            IdleConfig{Conns: 10_000, Canvases: 100},
		Failover:        FailoverConfig{Clients: 50, Rate: 10, Window: 20 * time.Second},
	}
}

func (c *Config) flags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "load before measuring")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measurement window of each scenario")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "wait at most this long for the last acks and deliveries")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "hard bound of one scenario, set-up included")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", c.DialConcurrency, "connections opened at once")
	fs.StringVar(&c.ProfileDir, "profile", c.ProfileDir, "write the server's pprof profiles here (needs -server-bin skerprof)")
	fs.IntVar(&c.Fanout.Clients, "fanout-clients", c.Fanout.Clients, "fanout: clients on the canvas")
	fs.Float64Var(&c.Fanout.Rate, "fanout-rate", c.Fanout.Rate, "fanout: changes per second per client")
	fs.IntVar(&c.Spread.Canvases, "spread-canvases", c.Spread.Canvases, "spread: canvases")
	fs.IntVar(&c.Spread.Clients, "spread-clients", c.Spread.Clients, "spread: clients per canvas")
	fs.Float64Var(&c.Spread.Rate, "spread-rate", c.Spread.Rate, "spread: changes per second per client")
	fs.StringVar(&c.Burst.Via, "burst-via", c.Burst.Via, "burst: rest (one client, POST .../ops) or ws (-burst-clients connections)")
	fs.IntVar(&c.Burst.Clients, "burst-clients", c.Burst.Clients, "burst via ws: connections on the canvas (each within the server's ops_per_second)")
	fs.IntVar(&c.Burst.Batch, "burst-batch", c.Burst.Batch, "burst: ops per batch")
	fs.IntVar(&c.Burst.Window, "burst-window", c.Burst.Window, "burst: batches in flight (via ws: per connection)")
	fs.IntVar(&c.Cold.Cards, "cold-cards", c.Cold.Cards, "cold: cards per canvas")
	fs.IntVar(&c.Cold.Canvases, "cold-canvases", c.Cold.Canvases, "cold: canvases opened after the restart")
	fs.IntVar(&c.Idle.Conns, "idle-conns", c.Idle.Conns, "idle: connections")
	fs.IntVar(&c.Idle.Canvases, "idle-canvases", c.Idle.Canvases, "idle: canvases the connections join")
	fs.IntVar(&c.Failover.Clients, "failover-clients", c.Failover.Clients, "failover: clients on the canvas, on the nodes that do not own it")
	fs.Float64Var(&c.Failover.Rate, "failover-rate", c.Failover.Rate, "failover: batches per second per client (one in flight)")
	fs.DurationVar(&c.Failover.Window, "failover-window", c.Failover.Window, "failover: measurement window; the owner is killed in its middle")
}

// Validate checks the sizes.
func (c *Config) Validate() error {
	switch {
	case c.Duration <= 0 || c.Warmup < 0 || c.Drain <= 0 || c.Timeout <= 0:
		return fmt.Errorf("-duration, -drain and -timeout must be positive, -warmup not negative")
	case c.Fanout.Clients < 1 || c.Fanout.Rate <= 0:
		return fmt.Errorf("-fanout-clients must be at least 1 and -fanout-rate positive")
	case c.Spread.Canvases < 1 || c.Spread.Clients < 1 || c.Spread.Rate <= 0:
		return fmt.Errorf("-spread-canvases and -spread-clients must be at least 1, -spread-rate positive")
	case c.Burst.Via != "rest" && c.Burst.Via != "ws":
		return fmt.Errorf("-burst-via must be rest or ws")
	case c.Burst.Clients < 1 || c.Burst.Window < 1 || c.Burst.Batch < 1 || c.Burst.Batch > 500:
		return fmt.Errorf("-burst-clients and -burst-window must be at least 1, -burst-batch 1 to 500")
	case c.Cold.Cards < 1 || c.Cold.Canvases < 1 || c.Cold.Canvases > 15:
		return fmt.Errorf("-cold-cards must be at least 1, -cold-canvases 1 to 15")
	case c.Idle.Conns < 1 || c.Idle.Canvases < 1 || c.Idle.Canvases > c.Idle.Conns:
		return fmt.Errorf("-idle-conns must be at least 1, -idle-canvases 1 to -idle-conns")
	case c.Failover.Clients < 1 || c.Failover.Rate <= 0 || c.Failover.Window < 2*time.Second:
		return fmt.Errorf("-failover-clients must be at least 1, -failover-rate positive, -failover-window at least 2s")
	}
	return nil
}
