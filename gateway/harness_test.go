package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// stack is a whole node in the test process: in-process NATS, SQLite store,
// journal, canvas actors, auth and the gateway on a loopback port.
type stack struct {
	t     testing.TB
	store store.Store
	auth  *auth.Service
	hub   *actors.Hub
	gw    *Gateway
	nc    *nats.Conn
	url   string
}

func newStack(t testing.TB, mod func(*Config), hubMod func(*actors.Config)) *stack {
	t.Helper()
	return newStackWith(t, stackOptions{gateway: mod, hub: hubMod})
}

// stackOptions configure newStackWith.
type stackOptions struct {
	gateway func(*Config)
	hub     func(*actors.Config)
	// sendBuffer, when set, is the kernel send buffer (SO_SNDBUF) of every
	// connection the server accepts, so that a client that stops reading
	// blocks the server's writes after a few KiB, not megabytes.
	sendBuffer int
	// routeOnly serves WebSockets through the HTTP server's /ws route
	// only, not through the gateway's Listener.
	routeOnly bool
	// postgres puts the store on a fresh, migrated PostgreSQL database
	// instead of SQLite.
	postgres bool
	// gatewayConn, when set, gives the gateway a NATS connection of its
	// own to the stack's server.
	gatewayConn func(t testing.TB, ns *server.Server) *nats.Conn
}

// smallBufListener sets the send buffer of the connections it accepts.
type smallBufListener struct {
	net.Listener
	size int
}

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

func newStackWith(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	mod, hubMod := opts.gateway, opts.hub
	dir := t.TempDir()
	ctx := context.Background()
	ns := testkit.NATSServer(t)
	nc, js := testkit.Connect(t, ns)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	if opts.postgres {
		url := testkit.PostgresURL(t)
		if _, err = store.MigratePostgres(ctx, url); err == nil {
			st, err = store.OpenPostgres(ctx, url, "")
		}
	} else {
		st, err = store.OpenSQLite(ctx, filepath.Join(dir, "sker.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hcfg := actors.Config{Store: st, Journal: j, Conn: nc, Logger: testkit.Logger()}
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
	authSvc := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: bcrypt.MinCost}, st, nil, testkit.Logger())
	cfg := Config{Canvases: hub, Auth: authSvc, Roles: st, Conn: nc, Logger: testkit.Logger()}
	if opts.gatewayConn != nil {
		cfg.Conn = opts.gatewayConn(t, ns)
	}
	if mod != nil {
		mod(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authSvc.OnRevoke(gw)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.sendBuffer > 0 {
		ln = smallBufListener{Listener: ln, size: opts.sendBuffer}
	}
	if !opts.routeOnly {
		ln = gw.Listener(ln, "/ws", time.Minute)
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
	t    testing.TB
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
	Cursor    *cursor         `json:"cursor"`
	Selection []string        `json:"selection"`
	Name      string          `json:"name"`
	Color     string          `json:"color"`
	Limits    *Limits         `json:"limits"`
	ID        string          `json:"id"`
	Raw       json.RawMessage `json:"-"` // the frame as received
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
	f.Raw = data
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

// toOps converts ops written as wire JSON objects to canvas.Op values.
func toOps(t testing.TB, ops ...map[string]any) []canvas.Op {
	t.Helper()
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	out, err := canvas.DecodeOps(raw)
	if err != nil {
		t.Fatalf("ops %s: %v", raw, err)
	}
	return out
}

// commit commits ops to a canvas through the hub (not a WebSocket) and
// returns the seq.
func (s *stack) commit(canvasID, author, cbid string, ops ...map[string]any) uint64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := s.hub.Submit(ctx, canvasID, author, cbid, toOps(s.t, ops...))
	if err != nil {
		s.t.Fatalf("commit %s: %v", cbid, err)
	}
	return seq
}

// snapshotJSON returns a canvas's committed snapshot as the gateway encodes it.
func (s *stack) snapshotJSON(canvasID string) []byte {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex, err := s.hub.Snapshot(ctx, canvasID)
	if err != nil {
		s.t.Fatalf("snapshot: %v", err)
	}
	return mustJSON(ex)
}

// dialer returns a dialer whose connections have a small receive buffer
// when rcvbuf > 0, so that a client that stops reading fills up fast.
func dialer(rcvbuf int) *websocket.Dialer {
	d := *websocket.DefaultDialer
	if rcvbuf > 0 {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if tc, ok := c.(*net.TCPConn); ok && err == nil {
				_ = tc.SetReadBuffer(rcvbuf)
			}
			return c, err
		}
	}
	return &d
}

// dialWith opens a connection with d and query, without reading hello.
func (s *stack) dialWith(d *websocket.Dialer, query string) *client {
	s.t.Helper()
	conn, _, err := d.Dial(s.url+query, nil)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return &client{t: s.t, conn: conn}
}

// hello dials and returns the client with its hello frame.
func (s *stack) hello(token string) (*client, frame) {
	s.t.Helper()
	c := s.dialWith(dialer(0), "?token="+token)
	f := c.next()
	if f.Type != "hello" || f.Session == "" {
		s.t.Fatalf("first frame: got %s; want hello with a session", f.Raw)
	}
	return c, f
}

// snapshot returns the raw snapshot of a joined frame.
func (f frame) snapshot() json.RawMessage {
	var v struct {
		Snapshot json.RawMessage `json:"snapshot"`
	}
	_ = json.Unmarshal(f.Raw, &v)
	return v.Snapshot
}

// committed decodes the batches of a changes frame.
func (f frame) committed() ([]journal.Committed, error) {
	out := make([]journal.Committed, 0, len(f.Batches))
	for _, raw := range f.Batches {
		var c journal.Committed
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("batch %s: %w", raw, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// stateFrom builds a canvas.State from a snapshot (an encoded canvas.Export).
func stateFrom(t testing.TB, snapshot []byte) *canvas.State {
	t.Helper()
	var ex canvas.Export
	if err := json.Unmarshal(snapshot, &ex); err != nil {
		t.Fatalf("snapshot %s: %v", snapshot, err)
	}
	st := canvas.NewState(ex.ID, canvas.Meta{Title: ex.Title, Settings: ex.Settings}, canvas.Limits{})
	for _, n := range ex.Nodes {
		st.PutNode(n)
	}
	for _, e := range ex.Edges {
		st.PutEdge(e)
	}
	st.Seq = ex.Seq
	return st
}

// changes reads frames until the changes after seq `after` up to `last`
// have arrived, and returns them. A gap, a duplicate, a seq past last, or a
// reject or error frame fails the test; acks and presence are skipped.
func (c *client) changes(after, last uint64) []journal.Committed {
	c.t.Helper()
	var got []journal.Committed
	deadline := time.Now().Add(10 * time.Second)
	for after < last {
		f, err := c.nextErr(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for seq %d..%d: got %d batches, then %v", after+1, last, len(got), err)
		}
		switch f.Type {
		case "changes":
			batches, err := f.committed()
			if err != nil {
				c.t.Fatal(err)
			}
			for _, b := range batches {
				if b.Seq != after+1 || b.Seq > last {
					c.t.Fatalf("changes: got seq %d; want %d (up to %d)", b.Seq, after+1, last)
				}
				after = b.Seq
				got = append(got, b)
			}
		case "ack", "presence", "presence.leave":
		default:
			c.t.Fatalf("waiting for seq %d..%d: got %s", after+1, last, f.Raw)
		}
	}
	return got
}

// quiet checks that no frame is waiting before a pong: the client sends a
// ping and the next frame must be its pong.
func (c *client) quiet(id string) {
	c.t.Helper()
	c.send(map[string]any{"type": "ping", "id": id})
	if f := c.next(); f.Type != "pong" || f.ID != id {
		c.t.Fatalf("next frame: got %s; want pong %s", f.Raw, id)
	}
}

// closed reads until the connection ends and returns the close code (-1 when
// it ended without a close frame) and the frames read before.
func (c *client) closed(d time.Duration) (int, []frame) {
	c.t.Helper()
	var frames []frame
	deadline := time.Now().Add(d)
	for {
		_ = c.conn.SetReadDeadline(deadline)
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, frames
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v (%d frames read)", d, len(frames))
			}
			return -1, frames
		}
		var f frame
		_ = json.Unmarshal(data, &f)
		f.Raw = data
		frames = append(frames, f)
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// asCloseError returns err as a close error, or nil.
func asCloseError(err error) *websocket.CloseError {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}
