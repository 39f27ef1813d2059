package testkit

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/gateway"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
)

// Node is a whole SKER node inside a test: an in-process NATS server with
// JetStream (no TCP port), a SQLite store, the journal, the canvas actors,
// auth, the AI engine and the WebSocket gateway on a loopback port. It is
// for tests in packages that the node's parts do not import themselves.
type Node struct {
	Store   store.Store
	Auth    *auth.Service
	Hub     *actors.Hub
	AI      *aiengine.Engine
	Gateway *gateway.Gateway
	Conn    *nats.Conn
	// WSURL is the gateway's ws:// address.
	WSURL string
}

// NodeConfig adjusts a Node; zero fields take the defaults.
type NodeConfig struct {
	AI      ai.Config
	Engine  func(*aiengine.Config)
	Actors  func(*actors.Config)
	Gateway func(*gateway.Config)
}

// Logger discards logs unless SKER_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("SKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartNode starts a Node that stops when the test ends.
func StartNode(t testing.TB, cfg NodeConfig) *Node {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "sker.db"))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := ai.NewRegistry(cfg.AI, Logger())
	if err != nil {
		t.Fatalf("ai registry: %v", err)
	}
	ecfg := aiengine.Config{Registry: reg, JS: js, Conn: nc, Store: st, Logger: Logger()}
	if cfg.Engine != nil {
		cfg.Engine(&ecfg)
	}
	eng, err := aiengine.New(ctx, ecfg)
	if err != nil {
		t.Fatalf("ai engine: %v", err)
	}
	hcfg := actors.Config{Store: st, Journal: j, Conn: nc, Logger: Logger(), AI: eng, AIRunTimeout: ecfg.RunTimeout}
	if cfg.Actors != nil {
		cfg.Actors(&hcfg)
	}
	hub, err := actors.NewHub(hcfg)
	if err != nil {
		t.Fatalf("hub: %v", err)
	}
	if err := eng.Start(ctx, hub); err != nil {
		t.Fatalf("ai engine start: %v", err)
	}
	authSvc := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32)), BcryptCost: bcrypt.MinCost}, st, nil, Logger())
	gcfg := gateway.Config{Canvases: hub, Auth: authSvc, Roles: st, Conn: nc, Logger: Logger()}
	if cfg.Gateway != nil {
		cfg.Gateway(&gcfg)
	}
	gw, err := gateway.New(gcfg)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = app.ShutdownWithContext(ctx)
		_ = eng.Stop(ctx)
		_ = hub.Shutdown(ctx)
	})
	return &Node{Store: st, Auth: authSvc, Hub: hub, AI: eng, Gateway: gw, Conn: nc, WSURL: "ws://" + ln.Addr().String() + "/ws"}
}
