package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/natsname"
)

// The roles a node can have (SKER_ROLES). Today they are announced only.
const (
	RoleGateway  = "gateway"
	RoleCanvases = "canvases"
	RoleAI       = "ai"
	RoleBridge   = "bridge" // runs the RabbitMQ bridge
)

// Defaults of Config.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 3 * time.Second
)

// Node is what a node announces of itself, and when this node last heard
// it.
type Node struct {
	Name        string    `json:"name"`
	Roles       []string  `json:"roles"`
	Addr        string    `json:"addr"`        // its HTTP address
	Canvases    int       `json:"canvases"`    // canvas actors live on it
	Connections int       `json:"connections"` // WebSocket connections to its gateway
	LastSeen    time.Time `json:"last_seen"`   // by this node's clock, when its last announcement arrived
}

// Has reports whether n has role.
func (n Node) Has(role string) bool { return slices.Contains(n.Roles, role) }

// announcement is the JSON body of a message on natsname's ClusterNodes
// subject: a heartbeat, or with Leave a node that stops.
type announcement struct {
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Addr        string   `json:"addr"`
	Canvases    int      `json:"canvases"`
	Connections int      `json:"connections"`
	Leave       bool     `json:"leave,omitempty"`
}

// Stats is what a node counts for its announcement.
type Stats struct {
	Canvases    int
	Connections int
}

// Config of a Membership.
type Config struct {
	Conn     *nats.Conn
	Names    natsname.Names // zero: natsname.Default()
	Name     string         // this node's (NODE_NAME)
	Roles    []string
	Addr     string                                   // this node's HTTP address
	Stats    func(ctx context.Context) (Stats, error) // nil: zero counts
	Interval time.Duration                            // between heartbeats; zero: DefaultInterval
	Timeout  time.Duration                            // silence after which a node is gone; zero: DefaultTimeout
	Logger   *slog.Logger
}

// Membership announces this node every Interval and keeps the table of
// the nodes it hears, itself included (its own announcements come back
// through NATS). A node is gone when nothing came from it for Timeout, or
// at once when it announces that it leaves.
type Membership struct {
	cfg     Config
	subject string

	mu      sync.Mutex
	nodes   map[string]Node
	leaving bool // Leave was called: this node is no longer a live node

	sub  *nats.Subscription
	stop chan struct{}
	done chan struct{}
}

// New checks cfg; the Membership starts with Start.
func New(cfg Config) (*Membership, error) {
	if cfg.Conn == nil {
		return nil, errors.New("cluster: Config.Conn is nil")
	}
	if cfg.Name == "" {
		return nil, errors.New("cluster: Config.Name is empty")
	}
	if cfg.Names.IsZero() {
		cfg.Names = natsname.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout <= cfg.Interval {
		return nil, fmt.Errorf("cluster: Timeout %s must be longer than Interval %s", cfg.Timeout, cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Membership{cfg: cfg, subject: cfg.Names.ClusterNodes(), nodes: map[string]Node{}}, nil
}

// Start subscribes to the announcements and announces this node now and
// every Interval until Stop.
func (m *Membership) Start(ctx context.Context) error {
	sub, err := m.cfg.Conn.Subscribe(m.subject, m.receive)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", m.subject, err)
	}
	m.sub = sub
	if err := m.flush(ctx); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe %s: %w", m.subject, err)
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	m.announce(false)
	go m.run()
	return nil
}

func (m *Membership) run() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.announce(false)
			m.prune()
		}
	}
}

// Leave stops the heartbeats and announces that this node leaves, so that
// the others drop it at once rather than after Timeout, and so does this
// node: from now on Nodes and Live leave it out. It keeps hearing the
// others until Stop, so that a node that drains its canvases still knows
// where to send them.
func (m *Membership) Leave(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	close(m.stop)
	<-m.done
	m.stop = nil
	m.mu.Lock()
	m.leaving = true
	delete(m.nodes, m.cfg.Name)
	m.mu.Unlock()
	m.announce(true)
	return m.flush(ctx)
}

// Stop leaves (see Leave), if this node has not left yet, and stops
// hearing the others.
func (m *Membership) Stop(ctx context.Context) error {
	err := m.Leave(ctx)
	if m.sub != nil {
		_ = m.sub.Unsubscribe()
		m.sub = nil
	}
	return err
}

// flush waits for the server to have what was sent, within ctx's
// deadline or, when it has none, Timeout.
func (m *Membership) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.Timeout)
		defer cancel()
	}
	return m.cfg.Conn.FlushWithContext(ctx)
}

func (m *Membership) announce(leave bool) {
	a := announcement{Name: m.cfg.Name, Roles: m.cfg.Roles, Addr: m.cfg.Addr, Leave: leave}
	if !leave && m.cfg.Stats != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Interval)
		s, err := m.cfg.Stats(ctx)
		cancel()
		if err != nil {
			m.cfg.Logger.Warn("cluster: counting this node's canvases", "err", err)
		}
		a.Canvases, a.Connections = s.Canvases, s.Connections
	}
	b, err := json.Marshal(a)
	if err != nil {
		m.cfg.Logger.Error("cluster: announcement", "err", err)
		return
	}
	if err := m.cfg.Conn.Publish(m.subject, b); err != nil {
		m.cfg.Logger.Warn("cluster: announcing this node", "err", err)
	}
}

func (m *Membership) receive(msg *nats.Msg) {
	var a announcement
	if err := json.Unmarshal(msg.Data, &a); err != nil || a.Name == "" {
		m.cfg.Logger.Warn("cluster: a node announcement that is not one", "subject", msg.Subject)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Leave || (m.leaving && a.Name == m.cfg.Name) {
		delete(m.nodes, a.Name)
		return
	}
	if _, known := m.nodes[a.Name]; !known && a.Name != m.cfg.Name {
		m.cfg.Logger.Info("cluster: node joined", "node", a.Name, "addr", a.Addr, "roles", a.Roles)
	}
	m.nodes[a.Name] = Node{
		Name: a.Name, Roles: a.Roles, Addr: a.Addr, Canvases: a.Canvases, Connections: a.Connections,
		LastSeen: time.Now(),
	}
}

// prune forgets the nodes silent for Timeout.
func (m *Membership) prune() {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, n := range m.nodes {
		if now.Sub(n.LastSeen) >= m.cfg.Timeout {
			delete(m.nodes, name)
			m.cfg.Logger.Info("cluster: node gone", "node", name, "last_seen", n.LastSeen)
		}
	}
}

// Nodes are the live nodes, by name: those heard from within Timeout.
func (m *Membership) Nodes() []Node {
	now := time.Now()
	m.mu.Lock()
	out := make([]Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		if now.Sub(n.LastSeen) < m.cfg.Timeout {
			n.Roles = slices.Clone(n.Roles)
			out = append(out, n)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Node) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Live names the live nodes that have role, by name: what Owner places
// canvases on (with RoleCanvases).
func (m *Membership) Live(role string) []string {
	var out []string
	for _, n := range m.Nodes() {
		if n.Has(role) {
			out = append(out, n.Name)
		}
	}
	return out
}

// Name is this node's name.
func (m *Membership) Name() string { return m.cfg.Name }
