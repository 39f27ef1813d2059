package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"golang.org/x/time/rate"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

// session is one WebSocket connection, from authentication to close. The
// read loop (serve, session_read.go) owns the connection's reads; the write
// loop (session_write.go) owns its writes; other goroutines only enqueue
// frames. Joins and leaves are in session_join.go, batches in
// session_submit.go.
type session struct {
	g    *Gateway
	id   string
	conn *websocket.Conn
	user auth.Principal
	log  *slog.Logger

	q          sendQueue
	wmu        sync.Mutex
	writing    bool          // guarded by wmu: a writer runs, or the close frame was written
	deadlineAt time.Time     // the writer's own: when the socket's write deadline was last moved
	closed     chan struct{} // closed once the close frame is written
	done       chan struct{} // closed by kill
	closeOnce  sync.Once
	closeCode  int    // set once by kill, before done is closed
	closeText  string // set once by kill, before done is closed

	mu     sync.Mutex
	joined map[string]*membership // guarded by mu; held across no call out

	ops       *rate.Limiter
	idle      *idleWaiter   // nil: the read loop waits inside the library's read
	inFlight  chan struct{} // one slot per batch waiting for its outcome
	badFrames int           // the read loop's own
}

// membership is a session's place on one canvas.
type membership struct {
	room      *room
	roleMu    sync.Mutex // guards role and roleAt; held across no call out
	role      store.Role
	roleAt    time.Time
	presence  *presenceState // guarded by room.mu: set once, by presenceState
	seen      uint64         // guarded by room.mu: the last seq sent to this session
	acks      []heldAck      // guarded by room.mu: acks waiting for their batch (holdAck)
	ackTimer  *time.Timer    // guarded by room.mu: sends held acks that waited ackHold
	sessionID string
}

// serve runs one connection from authentication to close; token is the
// "token" query parameter, if any. The caller closes the socket after.
// idle, when not nil, parks the read loop while the connection is idle
// (see idleWaiter).
func (g *Gateway) serve(conn *websocket.Conn, token string, idle *idleWaiter) {
	conn.SetReadLimit(g.cfg.Limits.MaxFrameBytes)
	principal, ok := g.authenticate(conn, token)
	if !ok {
		return
	}
	s := &session{
		g: g, id: newSessionID(), conn: conn, user: principal,
		q:        newSendQueue(g.cfg.Limits.SendQueue),
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
		joined:   map[string]*membership{},
		ops:      rate.NewLimiter(rate.Limit(g.cfg.Limits.OpsPerSecond), g.cfg.Limits.OpsBurst),
		inFlight: make(chan struct{}, g.cfg.Limits.MaxInFlight),
		idle:     idle,
	}
	s.log = g.log.With("session", s.id, "user_id", principal.UserID)
	if !g.addSession(s) {
		writeClose(conn, apierr.CloseGoingAway, "server shutting down", g.cfg.WriteTimeout)
		return
	}
	defer g.removeSession(s)
	// A connection lives no longer than its credential: at expiry it is
	// closed with 4001 "token_expired", and the client reconnects with a
	// fresh token and since.
	if exp := principal.ExpiresAt; !exp.IsZero() {
		t := time.AfterFunc(time.Until(exp), func() { s.kill(apierr.CloseUnauthorized, apierr.CodeTokenExpired) })
		defer t.Stop()
	}
	s.enqueue(outMsg{data: mustJSON(helloFrame{Type: "hello", Session: s.id, User: principal.UserID, Limits: g.cfg.Limits})})
	s.readLoop()
	s.kill(apierr.CloseNormal, "")
	<-s.closed
	s.leaveAll()
}

// authenticate takes the token from the "token" query parameter or from a
// first "auth" frame, and closes the connection with 4001 or 4002 when it
// cannot.
func (g *Gateway) authenticate(conn *websocket.Conn, token string) (auth.Principal, bool) {
	if token == "" {
		_ = conn.SetReadDeadline(time.Now().Add(g.cfg.AuthTimeout))
		kind, data, err := conn.ReadMessage()
		if err != nil {
			writeClose(conn, apierr.CloseAuthTimeout, "authenticate within "+g.cfg.AuthTimeout.String(), g.cfg.WriteTimeout)
			return auth.Principal{}, false
		}
		if kind == websocket.TextMessage && !utf8.Valid(data) {
			writeClose(conn, apierr.CloseInvalidUTF8, errNotUTF8, g.cfg.WriteTimeout)
			return auth.Principal{}, false
		}
		f, err := decodeFrame(data)
		if kind != websocket.TextMessage || err != nil || f.Type != typeAuth {
			writeClose(conn, apierr.CloseUnauthorized, "the first frame must be auth with a token", g.cfg.WriteTimeout)
			return auth.Principal{}, false
		}
		token = f.Token
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.CheckTimeout)
	defer cancel()
	p, err := g.cfg.Auth.Authenticate(ctx, token)
	if err != nil {
		writeClose(conn, apierr.CloseUnauthorized, apierr.From(err).Code, g.cfg.WriteTimeout)
		return auth.Principal{}, false
	}
	_ = conn.SetReadDeadline(time.Time{})
	return p, true
}

func writeClose(conn *websocket.Conn, code int, text string, timeout time.Duration) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(timeout))
}

func newSessionID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// closeGrace is how long a closed session waits for the client to answer
// its close frame before the connection is dropped.
const closeGrace = time.Second

// kill ends the session with a close code; the first call wins. The write
// loop sends the close frame; the read loop handles no frame after this and
// ends at the client's next frame (its answer to the close) or after
// closeGrace. The socket is closed only when serve returns, so that the
// client can read the close frame: closing it with the client's frames
// unread would reset the connection and lose it.
func (s *session) kill(code int, text string) {
	s.closeOnce.Do(func() {
		s.closeCode, s.closeText = code, text
		close(s.done)
		_ = s.conn.SetReadDeadline(time.Now().Add(closeGrace))
		s.kick() // to write the close frame
		if code != apierr.CloseNormal && code != apierr.CloseAbnormal {
			s.g.metrics.closed(code)
		}
	})
}

// killed reports whether kill has been called.
func (s *session) killed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// handle answers one decoded frame; the read loop calls it in the order
// the client sent its frames.
func (s *session) handle(f *inFrame) {
	switch f.Type {
	case typePing:
		s.enqueue(outMsg{data: mustJSON(pongFrame{Type: "pong", ID: f.ID})})
	case typeAuth:
		s.sendError("", apierr.CodeAlreadyAuthed, "this connection is already authenticated")
	case typeJoin:
		// A join runs the store's role lookup and the catch-up, the
		// deepest calls a session makes. It runs on a goroutine of its
		// own, and the read loop waits for it, so that the read loop's
		// stack, which an idle connection keeps, never grows for it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.join(f)
		}()
		<-done
	case typeLeave:
		s.leave(f.Canvas, true)
	case typeOps:
		s.submit(f)
	case typePresence:
		s.presence(f)
	}
}

func (s *session) sendError(canvasID, code, msg string) {
	s.enqueue(outMsg{data: mustJSON(errorFrame{Type: "error", Canvas: canvasID, Code: code, Message: msg})})
}
