// Package testnode starts a whole SKER node inside a test (NATS, store,
// journal, canvas actors, auth, AI engine, WebSocket gateway), for tests of
// packages that sit on top of those parts.
package testnode

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/gateway"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// Node is a whole SKER node inside a test: an in-process NATS server with
// JetStream (no TCP port), a SQLite store, the journal, the canvas actors,
// auth, the AI engine and the WebSocket gateway on a loopback port. It is
// for tests in packages that the node's parts do not import themselves.
type Node struct {
	Store   store.Store
	Journal *journal.Journal
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
	// NATS is the server the node connects to (with a connection of its
	// own); nil starts one for the node alone. Nodes of different
	// deployments on one server need different Names.
	NATS *server.Server
	// Names are the NATS names of every part of the node; zero means
	// natsname.Default().
	Names   natsname.Names
	AI      ai.Config
	Engine  func(*aiengine.Config)
	Actors  func(*actors.Config)
	Gateway func(*gateway.Config)
}

// StartNode starts a Node that stops when the test ends.
func StartNode(t testing.TB, cfg NodeConfig) *Node {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	ns := cfg.NATS
	if ns == nil {
		ns = testkit.NATSServer(t)
	}
	nc, js := testkit.Connect(t, ns)
	j, err := journal.Open(ctx, js, journal.Config{Names: cfg.Names})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "sker.db"))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := ai.NewRegistry(cfg.AI, testkit.Logger())
	if err != nil {
		t.Fatalf("ai registry: %v", err)
	}
	ecfg := aiengine.Config{Registry: reg, JS: js, Conn: nc, Store: st, Logger: testkit.Logger(), Names: cfg.Names}
	if cfg.Engine != nil {
		cfg.Engine(&ecfg)
	}
	eng, err := aiengine.New(ctx, ecfg)
	if err != nil {
		t.Fatalf("ai engine: %v", err)
	}
	hcfg := actors.Config{Store: st, Journal: j, Conn: nc, Logger: testkit.Logger(), AI: eng, AIRunTimeout: ecfg.RunTimeout, Names: cfg.Names}
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
	authSvc := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32)), BcryptCost: bcrypt.MinCost}, st, nil, testkit.Logger())
	gcfg := gateway.Config{Canvases: hub, Auth: authSvc, Roles: st, Conn: nc, Logger: testkit.Logger(), Names: cfg.Names}
	if cfg.Gateway != nil {
		cfg.Gateway(&gcfg)
	}
	gw, err := gateway.New(gcfg)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	authSvc.OnRevoke(gw)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(gw.Listener(ln, "/ws", time.Minute)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = app.ShutdownWithContext(ctx)
		_ = eng.Stop(ctx)
		_ = hub.Shutdown(ctx)
	})
	return &Node{Store: st, Journal: j, Auth: authSvc, Hub: hub, AI: eng, Gateway: gw, Conn: nc, WSURL: "ws://" + ln.Addr().String() + "/ws"}
}
