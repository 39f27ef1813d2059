// Package skerhttp is SKER's HTTP front door: a Fiber app serving the REST
// API under /api/v1 (auth, API tokens, canvases and members), the
// operational endpoints /health, /ready and /metrics, and the middleware
// every request passes through (request id, access log, metrics, panic
// recovery, security headers, CORS, gzip, body size cap, refusal of
// compressed request bodies). Before any of that, what comes off the
// connection is bounded and checked (wire.go): read timeouts for headers
// and bodies, known methods, unambiguous body framing.
//
// Every error leaves as one JSON shape, {"error":{"code","message","field"}},
// with codes from package apierr. Handlers are thin: parse, call the store,
// the auth service or the canvas actors (Canvases), respond. Canvas content
// and metadata changes are never written to the store here: they go through
// Canvases, so that the journal, live clients and snapshots see every one.
//
// The package lives in folder http/ but is named skerhttp so that it does
// not shadow net/http.
package skerhttp

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/presence"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/versions"
)

// DefaultBodyLimit is the request body cap when Config.BodyLimit is zero.
const DefaultBodyLimit = 4 << 20

// DefaultAPIBodyLimit is the body cap of API routes other than import when
// Config.APIBodyLimit is zero (or Config.BodyLimit when that is smaller).
const DefaultAPIBodyLimit = 1 << 20

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// BodyLimit is the largest request body in bytes, for any route; larger
	// bodies get 413 payload_too_large. It is the cap of
	// POST /api/v1/canvases/import, the one route that takes large bodies.
	// Zero means DefaultBodyLimit (4 MiB).
	BodyLimit int64
	// APIBodyLimit is the largest body of every other request, at most
	// BodyLimit. Zero means DefaultAPIBodyLimit (1 MiB) or BodyLimit,
	// whichever is smaller.
	APIBodyLimit int64
	// CORSOrigin is a comma-separated list of origins allowed to call the
	// API from a browser ("*" for any). Empty means same-origin only: no
	// CORS headers at all.
	CORSOrigin string
	// Version is reported by /health.
	Version string
	// StartedAt is the process start, for /health's uptime. Zero means
	// the time New ran.
	StartedAt time.Time
	// TrustedProxies are the reverse proxies (TRUST_PROXY) whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are
	// believed. A request whose peer is one of them has as its client
	// the rightmost X-Forwarded-For address that is not itself a trusted
	// proxy (the one the outermost trusted proxy saw); any other request
	// has its peer as client and its forwarded headers ignored, so that
	// a client cannot pick its own address and evade per-address login
	// limits. Empty trusts no proxy.
	TrustedProxies []netip.Prefix
	// HeaderTimeout bounds how long a request's header may take to arrive:
	// from the connection's opening for its first request, from the first
	// byte for a later one. A request not in by then is answered
	// 408 request_timeout and its connection closed. Zero means
	// DefaultHeaderTimeout (20 s).
	HeaderTimeout time.Duration
	// BodyTimeout bounds how long a request's body may take to arrive once
	// its header is in; as HeaderTimeout otherwise. Zero means
	// DefaultBodyTimeout (60 s: BODY_LIMIT's 4 MB at about 70 KB/s).
	BodyTimeout time.Duration
	// AccessLogOff drops the access log's line per request, except for
	// requests answered 5xx, which are errors (ACCESS_LOG=off).
	AccessLogOff bool
	// NoClients answers every /api/v1 request 404 not_found, saying that
	// this node serves no clients: a cluster node without the gateway
	// role (SKER_ROLES). /health, /ready and /metrics still answer.
	NoClients bool
	// Presence answers who is on each canvas of GET /api/v1/canvases
	// (its "present"); nil: the list has none.
	Presence presence.Directory
}

// DefaultHeaderTimeout is Config.HeaderTimeout when zero.
const DefaultHeaderTimeout = 20 * time.Second

// DefaultBodyTimeout is Config.BodyTimeout when zero.
const DefaultBodyTimeout = 60 * time.Second

// Check is one dependency /ready probes: a store, NATS, Redis, RabbitMQ.
type Check struct {
	Name string
	// Ping returns nil when the dependency answers. It gets a context
	// with a ReadyTimeout deadline.
	Ping func(ctx context.Context) error
}

// Deps are the components a Server uses. Store, Auth and Canvases are
// required.
type Deps struct {
	Store store.Store
	Auth  *auth.Service
	// Canvases orders every change to canvas content and metadata (the
	// canvas contract; *actors.Hub on one node).
	Canvases Canvases
	// Members is told when a membership changes or a canvas is deleted, so
	// that live connections follow at once; nil tells no one.
	Members MemberNotifier
	// MemberEvents records every membership change once the store has it,
	// for the RabbitMQ bridge's events out; nil records none.
	MemberEvents MemberEvents
	// AI lists the configured AI providers for GET /api/v1/ai/providers;
	// nil lists none.
	AI AIProviders
	// Logger receives error logs, and access logs unless AccessLogger
	// is set. Nil discards.
	Logger *slog.Logger
	// AccessLogger receives the line per request ("http request"); nil
	// means Logger (ACCESS_LOG=on; a file for ACCESS_LOG=<path>).
	AccessLogger *slog.Logger
	// Registry receives the HTTP metrics and, if not already there, the Go
	// runtime and process collectors; /metrics serves it. Nil means a new
	// registry.
	Registry *prometheus.Registry
	// Checks are probed by /ready.
	Checks []Check
	// LoadFailures lists the canvases whose last load on this node
	// failed, for /ready's detail (they do not make it 503); nil: none.
	LoadFailures func() []FailingCanvas
}

// Server is SKER's HTTP server.
type Server struct {
	cfg     Config
	deps    Deps
	st      store.Store
	auth    *auth.Service
	cvs     Canvases
	log     *slog.Logger
	app     *fiber.App
	api     fiber.Router
	metrics *metrics
	files   *fileRoutes // set by ServeFiles; nil: no files (and no bundles)
	// versions is set by ServeVersions; nil: no history is kept.
	versions *versions.Service
}

// New builds the Fiber app with its middleware and routes. It panics when
// Deps.Store, Deps.Auth or Deps.Canvases is nil.
func New(cfg Config, deps Deps) *Server {
	if deps.Store == nil || deps.Auth == nil || deps.Canvases == nil {
		panic("skerhttp: Deps.Store, Deps.Auth and Deps.Canvases are required")
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.APIBodyLimit <= 0 {
		cfg.APIBodyLimit = DefaultAPIBodyLimit
	}
	cfg.APIBodyLimit = min(cfg.APIBodyLimit, cfg.BodyLimit)
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = time.Now()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.AccessLogger == nil {
		deps.AccessLogger = deps.Logger
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, deps: deps, st: deps.Store, auth: deps.Auth, cvs: deps.Canvases, log: deps.Logger}
	s.metrics = newMetrics(deps.Registry)
	s.app = fiber.New(fiber.Config{
		AppName:               "sker",
		BodyLimit:             int(min(cfg.BodyLimit, math.MaxInt32)),
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		// Values from the request outlive it when handlers pass them on
		// (to actors, logs): make them safe to keep.
		Immutable:   true,
		IdleTimeout: IdleTimeout,
		ReadTimeout: cfg.HeaderTimeout,
		// Forwarded headers count only from TrustedProxies; with the
		// check off, Fiber would believe them from anyone.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          proxyList(cfg.TrustedProxies),
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableIPValidation:      true,
	})
	s.guardWire()
	s.middleware()
	s.routes()
	return s
}

// IdleTimeout is how long a connection may wait for its next request.
const IdleTimeout = 2 * time.Minute

// routes registers every route this package owns.
func (s *Server) routes() {
	s.app.Get("/health", s.health)
	s.app.Get("/ready", s.ready)
	s.app.Get("/metrics", s.metricsHandler())

	api := s.app.Group("/api/v1")
	s.api = api
	if s.cfg.NoClients {
		api.Use(func(*fiber.Ctx) error {
			return apierr.New(http.StatusNotFound, apierr.CodeNotFound,
				"this node serves no clients (SKER_ROLES has no gateway role); connect to a gateway node")
		})
	}
	api.Get("/openapi.json", s.openAPI)
	api.Post("/auth/register", s.register)
	api.Post("/auth/login", s.login)
	api.Post("/auth/refresh", s.refresh)
	api.Post("/auth/logout", s.logout)

	authed := s.RequireAuth()
	api.Post("/auth/logout-everywhere", authed, s.logoutEverywhere)
	api.Get("/me", authed, s.me)

	api.Get("/tokens", authed, s.listTokens)
	api.Post("/tokens", authed, s.createToken)
	api.Delete("/tokens/:id", authed, s.deleteToken)

	api.Get("/ai/providers", authed, s.aiProviders)
	api.Get("/ai/usage", authed, s.aiUsage)

	api.Get("/canvases", authed, s.listCanvases)
	api.Post("/canvases", authed, s.createCanvas)
	api.Post(importPath, authed, s.importCanvas)
	api.Get("/canvases/:id", authed, s.getCanvas)
	api.Patch("/canvases/:id", authed, s.updateCanvas)
	api.Delete("/canvases/:id", authed, s.deleteCanvas)
	api.Post("/canvases/:id/ops", authed, s.submitOps)
	api.Get("/canvases/:id/history", authed, s.history)
	api.Get("/canvases/:id/export", authed, s.exportCanvas)
	api.Get("/canvases/:id/comments", authed, s.listComments)
	api.Post("/canvases/:id/comments/read", authed, s.readComments)

	api.Get("/canvases/:id/members", authed, s.listMembers)
	api.Post("/canvases/:id/members", authed, s.addMember)
	api.Patch("/canvases/:id/members/:userId", authed, s.updateMember)
	api.Delete("/canvases/:id/members/:userId", authed, s.removeMember)
}

// App is the underlying Fiber app (for app.Test and for mounting the UI).
func (s *Server) App() *fiber.App { return s.app }

// HeaderTimeout is Config.HeaderTimeout with its default applied: the
// first-request timeout of a listener in front of the server.
func (s *Server) HeaderTimeout() time.Duration { return s.cfg.HeaderTimeout }

// API is the /api/v1 group, for routes other packages add (the
// WebSocket gateway, files, AI runs). Wrap handlers that need a user in
// RequireAuth and check canvas membership with CanvasAccess.
func (s *Server) API() fiber.Router { return s.api }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits, until ctx ends, for
// requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }
