package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/presence"
	"github.com/skerhq/sker/store"
)

// Canvases is what the gateway needs of the canvas contract
// (canvases.Canvases, whose errors it gets; *actors.Hub on one node).
type Canvases interface {
	SubmitAsync(canvasID, author, clientBatchID string, ops []canvas.Op) func(context.Context) (uint64, error)
	Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error)
	Snapshot(ctx context.Context, canvasID string) (canvas.Export, error)
}

var _ Canvases = canvases.Canvases(nil)

// Authenticator checks a bearer token (*auth.Service).
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (auth.Principal, error)
}

// Roles looks up a user's role on a canvas (store.Store).
type Roles interface {
	Role(ctx context.Context, canvasID, userID string) (store.Role, error)
}

// Limits are the per-connection limits, announced to the client in hello.
// Zero fields take the documented defaults.
type Limits struct {
	MaxFrameBytes    int64 `json:"max_frame_bytes"`      // largest frame read; default 1 MiB
	MaxCanvases      int   `json:"max_canvases"`         // canvases joined at once; default 16
	OpsPerSecond     int   `json:"ops_per_second"`       // sustained ops; default 2,000
	OpsBurst         int   `json:"ops_burst"`            // ops in a burst; default 5,000
	PresenceInterval int   `json:"presence_interval_ms"` // min ms between presence frames per canvas; default 50
	SendQueue        int   `json:"send_queue"`           // frames queued to the client before it is dropped; default 1,024
	MaxInFlight      int   `json:"max_in_flight"`        // batches awaiting their outcome before the server stops reading; default 256
}

func (l *Limits) setDefaults() {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = 1 << 20
	}
	if l.MaxCanvases <= 0 {
		l.MaxCanvases = 16
	}
	if l.OpsPerSecond <= 0 {
		l.OpsPerSecond = 2000
	}
	if l.OpsBurst <= 0 {
		l.OpsBurst = 5000
	}
	if l.PresenceInterval <= 0 {
		l.PresenceInterval = 50
	}
	if l.SendQueue <= 0 {
		l.SendQueue = 1024
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 256
	}
}

// Config configures a Gateway.
type Config struct {
	Canvases Canvases
	Auth     Authenticator
	Roles    Roles
	Conn     *nats.Conn
	Logger   *slog.Logger
	Limits   Limits
	// Origins allowed to open a WebSocket besides SKER's own (empty: any;
	// the token, not a cookie, authenticates, so a foreign page gains
	// nothing without one). See allowOrigin.
	Origins []string
	// TrustedProxies are the reverse proxies (TRUST_PROXY) whose
	// X-Forwarded-Host names the host a handshake was addressed to, for
	// the own-origin check; empty trusts none.
	TrustedProxies []netip.Prefix
	// AuthTimeout: how long a connection may wait before authenticating;
	// default 10s.
	AuthTimeout time.Duration
	// PingInterval: how often the server pings; default 25s. A connection
	// that sends nothing (not even a pong) for 2.5 intervals is closed.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client; default 10s.
	WriteTimeout time.Duration
	// WriteCoalesce is how long a connection's writer waits after waking so
	// that frames on their way join the same write; zero (the default)
	// does not wait: frames queued while a write runs share the next one.
	WriteCoalesce time.Duration
	// Names gives every subject the gateway hears and publishes on: a
	// canvas's changes (from the canvas actors), presence, members and AI
	// deltas, and revoked credentials; zero means natsname.Default().
	// Every node of a deployment must have the same.
	Names natsname.Names
	// Registerer receives the gateway's metrics; nil leaves them
	// unregistered.
	Registerer prometheus.Registerer
	// RoleTTL: how long a joined connection trusts its role before looking
	// it up again for its next batch; default 60s. Changes made through
	// the REST API reach connections at once (MemberChanged); this bounds
	// how long one made otherwise goes unseen.
	RoleTTL time.Duration
	// CheckTimeout bounds checking a credential and looking up a role (the
	// account service, the store); default 5s. A check that does not
	// answer in time refuses the connection (4001 "internal") or the
	// batch (unavailable); nothing is committed.
	CheckTimeout time.Duration
	// JoinTimeout bounds a join: the role lookup and the catch-up from the
	// canvas; default 15s. Past it the join fails with unavailable.
	JoinTimeout time.Duration
	// Presence is told of every connection that joins or leaves a canvas,
	// for the canvas list's "who is here"; nil: nobody is.
	Presence presence.Directory
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Limits.setDefaults()
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
	if c.RoleTTL <= 0 {
		c.RoleTTL = time.Minute
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 5 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 15 * time.Second
	}
}

// Gateway serves /ws.
type Gateway struct {
	cfg Config
	log *slog.Logger

	// mu guards rooms, sessions, closing and each room's refs; it is held
	// across no call that waits on another service (NATS, the store, the
	// canvas contract).
	mu       sync.Mutex
	rooms    map[string]*room      // guarded by mu
	sessions map[*session]struct{} // guarded by mu
	closing  bool                  // guarded by mu
	wg       sync.WaitGroup
	metrics  *metrics
	stop     chan struct{} // closed by Shutdown: stops the pinger
	stopOnce sync.Once
	revoked  *nats.Subscription
}

// New returns a Gateway; it serves nothing until Handler is mounted.
func New(cfg Config) (*Gateway, error) {
	cfg.setDefaults()
	if cfg.Canvases == nil || cfg.Auth == nil || cfg.Roles == nil || cfg.Conn == nil {
		return nil, errors.New("gateway: Config needs Canvases, Auth, Roles and Conn")
	}
	g := &Gateway{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "gateway"),
		rooms:    map[string]*room{},
		sessions: map[*session]struct{}{},
		metrics:  newMetrics(cfg.Registerer),
		stop:     make(chan struct{}),
	}
	var err error
	if g.revoked, err = g.subscribeRevoked(); err != nil {
		return nil, fmt.Errorf("gateway: subscribe to revocations: %w", err)
	}
	go g.pinger()
	return g, nil
}

// pinger pings every connection each PingInterval, from one goroutine for
// the whole gateway rather than a timer per connection.
func (g *Gateway) pinger() {
	t := time.NewTicker(g.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.mu.Lock()
		sessions := slices.Collect(maps.Keys(g.sessions))
		g.mu.Unlock()
		for _, s := range sessions {
			s.enqueue(outMsg{op: opPing})
		}
	}
}

// Handler is the Fiber handler for GET /ws. Connections accepted through
// Listener are upgraded before they reach it; it serves upgrades that
// arrive on a connection that carried another request first.
func (g *Gateway) Handler() fiber.Handler {
	ws := fws.New(func(c *fws.Conn) {
		g.metrics.upgrades.WithLabelValues("route").Inc()
		g.serve(c.Conn, c.Query("token"), nil)
	}, fws.Config{
		Origins:          []string{"*"}, // allowOrigin decides, before
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  writeBufferPool,
	})
	return func(c *fiber.Ctx) error {
		if !fws.IsWebSocketUpgrade(c) {
			return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint speaks WebSocket")
		}
		peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
		if !g.allowOrigin(c.Get(fiber.HeaderOrigin), string(c.Request().Host()), c.Get(fiber.HeaderXForwardedHost), peer) {
			return fiber.NewError(fiber.StatusForbidden, "this origin may not open a WebSocket (CORS_ORIGIN)")
		}
		return ws(c)
	}
}

// Frames are read into their own buffers; 1 KiB of read buffer and a
// pooled write buffer (the write loop frames its own writes; the library
// writes only control frames) keep an idle connection small.
const (
	readBufferSize  = 1024
	writeBufferSize = 1024
)

var writeBufferPool = &sync.Pool{}

// Connections returns the number of open sessions.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Shutdown closes every connection with 1001 (going away) and waits for
// them to end, or for ctx.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.stopOnce.Do(func() {
		close(g.stop)
		_ = g.revoked.Unsubscribe()
	})
	g.mu.Lock()
	g.closing = true
	for s := range g.sessions {
		s.kill(apierr.CloseGoingAway, "server shutting down")
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) addSession(s *session) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.sessions[s] = struct{}{}
	g.metrics.connections.Set(float64(len(g.sessions)))
	g.wg.Add(1)
	return true
}

func (g *Gateway) removeSession(s *session) {
	g.mu.Lock()
	delete(g.sessions, s)
	g.metrics.connections.Set(float64(len(g.sessions)))
	g.mu.Unlock()
	g.wg.Done()
}
