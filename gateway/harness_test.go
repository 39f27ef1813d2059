package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
)

// stack is a whole node in the test process: in-process NATS, SQLite store,
// journal, canvas actors, auth and the gateway on a loopback port.
type stack struct {
	t     *testing.T
	store store.Store
	auth  *auth.Service
	hub   *actors.Hub
	gw    *Gateway
	nc    *nats.Conn
	url   string
}

func testLogger() *slog.Logger {
	if os.Getenv("SKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newStack(t *testing.T, mod func(*Config), hubMod func(*actors.Config)) *stack {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "sker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hcfg := actors.Config{Store: st, Journal: j, Conn: nc, Logger: testLogger()}
	if hubMod != nil {
		hubMod(&hcfg)
	}
	hub, err := actors.NewHub(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
	})
	authSvc := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: bcrypt.MinCost}, st, nil, testLogger())
	cfg := Config{Canvases: hub, Auth: authSvc, Roles: st, Conn: nc, Logger: testLogger()}
	if mod != nil {
		mod(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = app.ShutdownWithContext(ctx)
	})
	return &stack{t: t, store: st, auth: authSvc, hub: hub, gw: gw, nc: nc, url: "ws://" + ln.Addr().String() + "/ws"}
}

// user registers a user and returns its id and access token.
func (s *stack) user(name string) (string, string) {
	s.t.Helper()
	sess, err := s.auth.Register(context.Background(), name+"@example.test", "password-"+name, name)
	if err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	return sess.User.ID, sess.AccessToken
}

// canvas creates a canvas owned by owner and shares it with the others.
func (s *stack) canvas(owner string, members map[string]store.Role) string {
	s.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	id := fmt.Sprintf("c%d", now.UnixNano())
	c := store.Canvas{ID: id, Title: "T", Settings: json.RawMessage(`{}`), CreatedBy: owner, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateCanvas(ctx, c, owner); err != nil {
		s.t.Fatal(err)
	}
	for uid, role := range members {
		if err := s.store.AddMember(ctx, id, uid, role, now); err != nil {
			s.t.Fatal(err)
		}
	}
	return id
}

// client is a test WebSocket client that decodes frames.
type client struct {
	t    *testing.T
	conn *websocket.Conn
}

// frame is any server frame.
type frame struct {
	Type     string            `json:"type"`
	Canvas   string            `json:"canvas"`
	Session  string            `json:"session"`
	User     string            `json:"user"`
	Role     string            `json:"role"`
	Seq      uint64            `json:"seq"`
	CBID     string            `json:"cbid"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Index    *int              `json:"index"`
	Batches  []json.RawMessage `json:"batches"`
	Snapshot *struct {
		Seq   uint64            `json:"seq"`
		Nodes []json.RawMessage `json:"nodes"`
	} `json:"snapshot"`
	Cursor *cursor `json:"cursor"`
}

// batchSeqs returns the seqs of a changes frame's batches.
func (f frame) batchSeqs() []uint64 {
	var out []uint64
	for _, raw := range f.Batches {
		var b struct {
			Seq uint64 `json:"seq"`
		}
		_ = json.Unmarshal(raw, &b)
		out = append(out, b.Seq)
	}
	return out
}

func (s *stack) dial(token string) *client {
	s.t.Helper()
	c, err := s.dialErr("?token=" + url.QueryEscape(token))
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	if f := c.next(); f.Type != "hello" {
		s.t.Fatalf("first frame: got %+v; want hello", f)
	}
	return c
}

func (s *stack) dialErr(query string) (*client, error) {
	conn, _, err := websocket.DefaultDialer.Dial(s.url+query, nil)
	if err != nil {
		return nil, err
	}
	c := &client{t: s.t, conn: conn}
	s.t.Cleanup(func() { conn.Close() })
	return c, nil
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next reads the next frame within 5 seconds.
func (c *client) next() frame {
	c.t.Helper()
	f, err := c.nextErr(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) nextErr(d time.Duration) (frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame %s: %v", data, err)
	}
	return f, nil
}

// until reads frames until one of type typ, failing after 5 seconds.
func (c *client) until(typ string) frame {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f := c.next()
		if f.Type == typ {
			return f
		}
	}
	c.t.Fatalf("no %s frame in 5s", typ)
	return frame{}
}

func (c *client) join(canvasID string, since *uint64) frame {
	c.t.Helper()
	msg := map[string]any{"type": "join", "canvas": canvasID}
	if since != nil {
		msg["since"] = *since
	}
	c.send(msg)
	f := c.next()
	if f.Type != "joined" {
		c.t.Fatalf("join: got %+v; want joined", f)
	}
	return f
}

func opsFrame(canvasID, cbid string, ops ...map[string]any) map[string]any {
	return map[string]any{"type": "ops", "canvas": canvasID, "cbid": cbid, "ops": ops}
}

func addNodeOp(id string) map[string]any {
	return map[string]any{"op": "node.add", "id": id, "kind": "text", "data": map[string]any{"text": id}}
}

func setTextOp(id, text string) map[string]any {
	return map[string]any{"op": "node.update", "id": id, "set": map[string]any{"data.text": text}}
}
