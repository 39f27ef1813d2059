package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/cluster"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/dirlock"
	"github.com/skerhq/sker/embednats"
	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/gateway"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/presence"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/ui"
	"github.com/skerhq/sker/versions"
)

// App is one running sker process.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	version string

	lock    *dirlock.Lock     // DATA_DIR, held until close
	nats    *embednats.Server // nil with an external NATS
	nc      *nats.Conn
	names   natsname.Names // NATS_PREFIX's, for every part
	store   store.Store
	journal *journal.Journal
	redis   *redis.Client // nil without REDIS_URL
	// presence is who is on which canvas: this node's, or every node's
	// through Redis.
	presence  presence.Directory
	hub       *actors.Hub
	ai        *aiengine.Engine
	gateway   *gateway.Gateway
	bridge    *bridge.Bridge    // nil without RABBITMQ_URL
	aiWorkers *bridge.AIWorkers // AI_WORKER_QUEUE: the AI runs go to workers outside SKER
	files     files.Store       // FILE_STORE, on nodes with the gateway or ai role; else nil
	auth      *auth.Service
	http      *skerhttp.Server
	// membership is set once Run announces this node; the router reads
	// it from other goroutines.
	membership atomic.Pointer[cluster.Membership]
	leases     *cluster.Leases     // a clustered node's
	router     *cluster.Router     // a clustered node's: routes canvas calls to their owners
	rebalance  *cluster.Rebalancer // from Run on, on a clustered node with the canvases role
	canvases   canvases.Canvases   // the canvas contract every part uses: the router, or the hub alone
	versions   *versions.Service   // the canvases' history (docs/history.md)
	ln         net.Listener
	backups    backups  // one backup at a time; the scheduled ones
	sweep      periodic // FILE_SWEEP_INTERVAL's sweep of unreferenced files
	accessFile *os.File // ACCESS_LOG's file, when it names one

	// versionSweep is VERSION_SWEEP_INTERVAL's sweep of the versions
	// past VERSION_RETENTION.
	versionSweep periodic
}

// New builds every component but serves nothing until Run. On error, what was built is closed again.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, version string) (_ *App, err error) {
	// Not a named result: every "return nil, err" below would set it to nil
	// before the deferred close runs, and close would panic on nil.
	a := &App{cfg: cfg, log: log, version: version}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	cfg.LogNotices(log) // the deployment guide's names read or ignored
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("app: DATA_DIR %s: %w", cfg.DataDir, err)
	}
	if a.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if a.store, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	if err := a.connectNATS(ctx); err != nil {
		return nil, err
	}
	if cfg.RedisURL != "" {
		if a.redis, err = newRedis(cfg.RedisURL, log); err != nil {
			return nil, err
		}
	}
	a.warnPerNode()
	js, err := jetstream.New(a.nc)
	if err != nil {
		return nil, fmt.Errorf("app: jetstream: %w", err)
	}
	if a.names, err = natsname.New(cfg.NatsPrefix); err != nil {
		return nil, fmt.Errorf("app: NATS_PREFIX: %w", err)
	}
	err = a.whenFormed(ctx, "journal", func(ctx context.Context) (err error) {
		a.journal, err = journal.Open(ctx, js, journal.Config{Names: a.names, Replica: a.cfg.JournalReplicas})
		return err
	})
	if err != nil {
		return nil, err
	}
	if a.cfg.Clustered() {
		// The stream's leader may still be elected: ask until it answers.
		var leader string
		var replicas int
		err := a.whenFormed(ctx, "journal placement", func(ctx context.Context) (err error) {
			leader, replicas, err = a.journal.Placement(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		log.Info("journal ready", "node", a.cfg.NodeName, "stream_leader", leader, "replicas", replicas)
	}
	registry := prometheus.NewRegistry()
	if err := a.openLeases(ctx, js); err != nil {
		return nil, err
	}
	if a.hasRole(cluster.RoleGateway) || a.hasRole(cluster.RoleAI) {
		// Uploads are served by the gateway and read by AI runs (images).
		if a.files, err = a.openFiles(ctx, js); err != nil {
			return nil, err
		}
	}
	aiMetrics := aiengine.NewMetrics(registry) // once: the engine may be made again below
	if cfg.AIWorkerQueue != "" && a.hasRole(cluster.RoleAI) && a.hasRole(cluster.RoleBridge) {
		a.aiWorkers, err = bridge.NewAIWorkers(bridge.AIWorkersConfig{Queue: cfg.AIWorkerQueue, Node: cfg.NodeName, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("app: AI_WORKER_QUEUE: %w", err)
		}
	}
	err = a.whenFormed(ctx, "AI work queue", func(ctx context.Context) (err error) {
		a.ai, err = a.newAIEngine(ctx, js, aiMetrics)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.hub, err = actors.NewHub(actors.Config{
		Store: a.store, Journal: a.journal, Conn: a.nc, Logger: log, Names: a.names,
		IdleTimeout: cfg.CanvasIdleTimeout, History: cfg.CanvasHistory, HistoryBytes: int(min(cfg.CanvasHistorySize, math.MaxInt32)),
		Registerer: registry,
		AI:         a.ai, AIRunTimeout: cfg.AIRunTimeout, AIContextTokens: cfg.AIContextTokens,
		Ownership: a.ownership(),
		// a.versions is set below, before any canvas can be activated.
		KeepPoint: func(ctx context.Context, id string, ex canvas.Export) error { return a.versions.KeepPoint(ctx, id, ex) },
	})
	if err != nil {
		return nil, err
	}
	a.canvases = a.hub
	if a.cfg.Clustered() {
		if a.router, err = a.newRouter(registry); err != nil {
			return nil, err
		}
		a.canvases = a.router
		a.rebalance = a.newRebalancer(registry)
	}
	a.versions, err = versions.New(versions.Config{Store: a.store, Journal: a.journal, Canvases: a.canvases, Retention: cfg.VersionRetention, Logger: log})
	if err != nil {
		return nil, err
	}
	if cfg.AIWorkerQueue != "" && a.aiWorkers == nil && cfg.AIWorkers > 0 && a.hasRole(cluster.RoleAI) {
		log.Warn("AI_WORKER_QUEUE is set and this node has no bridge role: it takes no AI jobs; the nodes with both the ai and bridge roles do")
	} else if cfg.AIWorkers > 0 && a.hasRole(cluster.RoleAI) {
		// Its consumer is a JetStream request: while the cluster elects
		// after a restart of every node, it may go unanswered.
		err := a.whenFormed(ctx, "AI workers", func(ctx context.Context) error {
			return a.ai.Start(ctx, versions.AIFinisher{Service: a.versions, Next: a.canvases})
		})
		if err != nil {
			return nil, err
		}
	}
	if a.auth, err = a.newAuth(registry); err != nil {
		return nil, err
	}
	a.presence = a.newPresence()
	roles, err := a.newRoles(registry)
	if err != nil {
		return nil, err
	}
	a.gateway, err = gateway.New(gateway.Config{
		Canvases: a.canvases, Auth: a.auth, Roles: roles, Conn: a.nc, Logger: log, Registerer: registry, Names: a.names,
		Origins: origins(cfg.CORSOrigin), TrustedProxies: cfg.TrustProxy, Presence: a.presence,
	})
	if err != nil {
		return nil, err
	}
	a.auth.OnRevoke(a.gateway)
	if a.bridge, err = a.newBridge(ctx, js, registry); err != nil {
		return nil, err
	}
	accessLog, err := a.openAccessLog()
	if err != nil {
		return nil, err
	}
	a.http = skerhttp.New(skerhttp.Config{
		BodyLimit: cfg.BodyLimit, CORSOrigin: cfg.CORSOrigin, TrustedProxies: cfg.TrustProxy, Version: version, StartedAt: time.Now(),
		HeaderTimeout: cfg.HeaderTimeout, BodyTimeout: cfg.BodyTimeout,
		NoClients: !a.hasRole(cluster.RoleGateway), Presence: a.presence,
		AccessLogOff: cfg.AccessLog == config.AccessLogOff,
	}, skerhttp.Deps{
		Store: roles, Auth: a.auth, Canvases: a.canvases, Logger: log, Registry: registry,
		Checks: a.checks(), AI: a.ai, Members: a.gateway, MemberEvents: bridge.NewMemberLog(js, a.names, log),
		LoadFailures: a.loadFailures, AccessLogger: accessLog,
	})
	a.opsRoutes()
	a.clusterRoutes()
	a.bridgeRoutes()
	a.fileRoutes()
	a.http.ServeVersions(a.versions)
	if a.hasRole(cluster.RoleGateway) {
		a.http.App().Get("/ws", a.gateway.Handler())
		a.http.App().Use(ui.Handler()) // the studio; after every other route
	}
	return a, nil
}

// origins lists the origins allowed to open a WebSocket: CORS_ORIGIN's, or
// any when it is empty or "*".
func origins(corsOrigin string) []string {
	var out []string
	for _, o := range strings.Split(corsOrigin, ",") {
		if o = strings.TrimSpace(o); o != "" && o != "*" {
			out = append(out, o)
		}
	}
	return out
}

// Listen binds the HTTP port; Run calls it when it has not been called.
func (a *App) Listen() error {
	if a.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Addr())
	if err != nil {
		return fmt.Errorf("app: listen on %s (PORT): %w", a.cfg.Addr(), err)
	}
	a.ln = ln
	return nil
}

// Hub is the process's canvas actors.
func (a *App) Hub() *actors.Hub { return a.hub }

// Auth is the process's account service.
func (a *App) Auth() *auth.Service { return a.auth }

// Store is the process's store.
func (a *App) Store() store.Store { return a.store }

// newAIEngine builds the AI engine from the configured providers; with none
// it still runs, and every run ends with an error on its card.
func (a *App) newAIEngine(ctx context.Context, js jetstream.JetStream, metrics *aiengine.Metrics) (*aiengine.Engine, error) {
	reg, err := ai.NewRegistry(ai.Config{
		OpenAIKey: a.cfg.OpenAIKey, OpenAIBaseURL: a.cfg.OpenAIBaseURL, OpenAIModels: a.cfg.OpenAIModels,
		AnthropicKey: a.cfg.AnthropicKey, AnthropicBaseURL: a.cfg.AnthropicBaseURL, AnthropicModels: a.cfg.AnthropicModels,
	}, a.log)
	if err != nil {
		return nil, fmt.Errorf("app: AI providers: %w", err)
	}
	for _, p := range reg.List() {
		a.log.Info("AI provider configured", "provider", p.Name, "models", p.Models)
	}
	ecfg := aiengine.Config{
		Registry: reg, JS: js, Conn: a.nc, Store: a.store, Logger: a.log, Names: a.names, Replicas: a.cfg.JournalReplicas,
		Workers: a.cfg.AIWorkers, RunTimeout: a.cfg.AIRunTimeout,
		MaxRunsPerUser: a.cfg.AIMaxRunsPerUser, RunsPerMinute: a.cfg.AIRunsPerMinute, Metrics: metrics,
	}
	if a.aiWorkers != nil {
		ecfg.Outside = a.aiWorkers
	}
	if a.files != nil {
		ecfg.Images = aiImages{store: a.store, files: a.files}
	}
	ecfg.TextOnlyModels = a.cfg.AITextOnlyModels
	if a.redis != nil { // AI runs per minute shared by the nodes on this Redis
		ecfg.Redis, ecfg.RedisPrefix = a.redis, a.redisPrefix()
	}
	return aiengine.New(ctx, ecfg)
}

// OpenStore opens the configured store: PostgreSQL with DATABASE_URL
// (which must be migrated), otherwise SQLite in DATA_DIR (migrated here).
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	// On error, return a nil interface, not a nil *Postgres or *SQLite in
	// one: a caller's "if st != nil { st.Close() }" must not call Close on nil.
	if cfg.DatabaseURL != "" {
		pg, err := store.OpenPostgres(ctx, cfg.DatabaseURL, cfg.DatabaseReadURL)
		if err != nil {
			return nil, err
		}
		return pg, nil
	}
	sq, err := store.OpenSQLite(ctx, SQLitePath(cfg))
	if err != nil {
		return nil, err
	}
	return sq, nil
}

// SQLitePath is where the embedded store lives.
func SQLitePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "sker.db") }

func (a *App) connectNATS(ctx context.Context) error {
	opts := []nats.Option{nats.Name("sker"), nats.MaxReconnects(-1)}
	if a.cfg.NatsURL != "" {
		nc, err := nats.Connect(a.cfg.NatsURL, opts...)
		if err != nil {
			return fmt.Errorf("app: connect to NATS_URL: %w", err)
		}
		a.nc = nc
		return nil
	}
	srv, err := embednats.Start(ctx, embednats.Config{
		DataDir: a.cfg.DataDir, ConfigFile: a.cfg.NatsConfig, Listen: a.cfg.NatsListen,
		ServerName: a.cfg.NodeName, ClusterListen: a.cfg.NatsClusterListen,
		ClusterRoutes: a.cfg.NatsClusterRoutes, ClusterName: a.cfg.NatsClusterName,
	}, a.log)
	if err != nil {
		return err
	}
	a.nats = srv
	if a.nc, err = srv.Conn(opts...); err != nil {
		return fmt.Errorf("app: connect to the embedded NATS: %w", err)
	}
	if url := srv.ClientURL(); url != "" {
		a.log.Info("embedded NATS listening", "url", url)
	}
	return nil
}

// newAuth is the account service of this node. With REDIS_URL its login
// limits are counted in Redis, under the lower-cased NATS_PREFIX and ":"
// ("sker:limit:…" by default), so that every node sharing the Redis
// shares them, and on this node while Redis does not answer; without it,
// in this process.
func (a *App) newAuth(reg prometheus.Registerer) (*auth.Service, error) {
	if a.redis == nil {
		return NewAuth(a.cfg, a.store, a.log)
	}
	return newAuth(a.cfg, a.store, a.loginLimiter(reg), a.log)
}

// NewAuth is the account service on st, signing with JWT_SECRET or, when
// it is unset, the development secret kept in DATA_DIR, with in-process
// login limits.
func NewAuth(c config.Config, st store.Store, log *slog.Logger) (*auth.Service, error) {
	return newAuth(c, st, auth.NewMemoryLimiter(100_000, nil), log)
}

func newAuth(c config.Config, st store.Store, lim auth.Limiter, log *slog.Logger) (*auth.Service, error) {
	secret := []byte(c.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(c.DataDir, log); err != nil {
			return nil, err
		}
	}
	cfg := auth.Config{Secret: secret, AccessTTL: c.AccessTokenTTL, RefreshTTL: c.RefreshTokenTTL}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("app: JWT_SECRET: %w", err)
	}
	return auth.New(cfg, st, lim, log), nil
}

// checks are what /ready probes.
func (a *App) checks() []skerhttp.Check {
	checks := []skerhttp.Check{
		{Name: "store", Ping: a.store.Ping},
		{Name: "nats", Ping: func(ctx context.Context) error {
			if !a.nc.IsConnected() {
				return errors.New("not connected")
			}
			return a.nc.FlushWithContext(ctx)
		}},
	}
	if a.redis != nil {
		checks = append(checks, skerhttp.Check{Name: "redis", Ping: a.pingRedis})
	}
	if a.bridge != nil {
		// The bridge's own connection and mappings, not a dial per probe.
		checks = append(checks, skerhttp.Check{Name: "rabbitmq", Ping: a.bridge.Ready})
	}
	return checks
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Run serves until ctx ends, then shuts down in order within
// SHUTDOWN_TIMEOUT.
func (a *App) Run(ctx context.Context) error {
	if err := a.Listen(); err != nil {
		return err
	}
	a.log.Info("sker serving", "addr", a.Addr(), "version", a.version,
		"store", storeKind(a.cfg), "nats", natsKind(a.cfg), "data_dir", a.cfg.DataDir)
	if a.router != nil {
		// Before this node announces itself: the others may send it
		// requests as soon as they see it.
		if err := a.router.Serve(ctx); err != nil {
			return err
		}
	}
	if err := a.startMembership(ctx); err != nil {
		a.log.Warn("this node does not announce itself to the cluster", "err", err)
	}
	if a.rebalance != nil {
		a.rebalance.Start()
	}
	errc := make(chan error, 1)
	// WebSocket connections are upgraded by the gateway as they arrive;
	// the HTTP server gets every other connection.
	ln := a.ln
	if a.hasRole(cluster.RoleGateway) {
		ln = a.gateway.Listener(a.ln, "/ws", a.http.HeaderTimeout())
	}
	go func() { errc <- a.http.Serve(skerhttp.Lingering(ln)) }()
	a.startBackups(ctx)
	a.startFileSweep(ctx)
	a.startVersionSweep(ctx)
	a.startBridge(ctx)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("app: http server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(err, a.Shutdown(sctx))
}

// Shutdown stops accepting connections and drains requests, stops every
// canvas actor with a final checkpoint, and closes NATS and the store.
func (a *App) Shutdown(ctx context.Context) error {
	a.log.Info("sker shutting down")
	var errs []error
	if a.rebalance != nil {
		a.rebalance.Stop()
	}
	m := a.membership.Load()
	if m != nil {
		// The others drop this node at once, and so does its own routing:
		// the canvases it hands off below go to the nodes that stay.
		errs = append(errs, m.Leave(ctx))
	}
	if a.gateway != nil {
		errs = append(errs, a.gateway.Shutdown(ctx))
		errs = append(errs, a.closePresence(ctx))
	}
	if a.http != nil {
		errs = append(errs, a.http.Shutdown(ctx))
	}
	if a.ai != nil {
		// Runs in progress end as cancelled, with their text so far,
		// while the canvas actors can still commit it (and, with
		// AI_WORKER_QUEUE, while the bridge can still tell the workers).
		errs = append(errs, a.ai.Stop(ctx))
	}
	if a.bridge != nil {
		// Takes no more commands and finishes those in flight while the
		// canvas actors run; events in flight are confirmed, or the
		// journal has them for the next start.
		errs = append(errs, a.bridge.Shutdown(ctx))
	}
	a.backups.stop() // a scheduled backup in progress is abandoned
	a.sweep.stop()
	a.versionSweep.stop()
	if a.router != nil {
		// No more requests from the other nodes: they retry theirs until
		// the leases below are released, then go to the new owners.
		errs = append(errs, a.router.Shutdown(ctx))
	}
	if a.hub != nil {
		// Every canvas is passivated with a final checkpoint and its
		// lease released: on a cluster, this is the drain, and the next
		// request for each canvas loads it on the node that placement
		// now prefers.
		errs = append(errs, a.hub.Shutdown(ctx))
	}
	if m != nil {
		errs = append(errs, m.Stop(ctx))
	}
	a.close()
	a.log.Info("sker stopped")
	return errors.Join(errs...)
}

// close releases NATS, the store and DATA_DIR.
func (a *App) close() {
	if a.ln != nil {
		_ = a.ln.Close()
	}
	if a.nc != nil {
		_ = a.nc.Flush()
		a.nc.Close()
	}
	if a.nats != nil {
		a.nats.Shutdown()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.store != nil {
		_ = a.store.Close()
	}
	if a.accessFile != nil {
		_ = a.accessFile.Close()
	}
	// Last: the journal and the store are closed.
	_ = a.lock.Release()
}

func storeKind(cfg config.Config) string {
	if cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func natsKind(cfg config.Config) string {
	if cfg.NatsURL != "" {
		return "external"
	}
	return "embedded"
}
