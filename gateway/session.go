package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"golang.org/x/time/rate"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// session is one WebSocket connection. The read loop (serve) owns the
// connection's reads; the write loop owns its writes; other goroutines
// only enqueue frames.
type session struct {
	g    *Gateway
	id   string
	conn *websocket.Conn
	user auth.Principal
	log  *slog.Logger

	q          sendQueue
	wmu        sync.Mutex
	writing    bool          // guarded by wmu: a writer runs, or the close frame was written
	deadlineAt time.Time     // the writer's: when the socket's write deadline was last moved
	closed     chan struct{} // closed once the close frame is written
	done       chan struct{} // closed by kill
	closeOnce  sync.Once
	closeCode  int
	closeText  string

	mu     sync.Mutex
	joined map[string]*membership // guarded by mu

	ops       *rate.Limiter
	idle      *idleWaiter   // nil: the read loop waits inside the library's read
	inFlight  chan struct{} // one slot per batch waiting for its outcome
	badFrames int
}

// membership is a session's place on one canvas.
type membership struct {
	room      *room
	roleMu    sync.Mutex // guards role and roleAt
	role      store.Role
	roleAt    time.Time
	presence  *presenceState
	seen      uint64      // guarded by room.mu: the last seq sent to this session
	acks      []heldAck   // guarded by room.mu: acks waiting for their batch (holdAck)
	ackTimer  *time.Timer // guarded by room.mu: sends held acks that waited ackHold
	sessionID string
}

var canvasIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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

// enqueue queues frames for the client without ever blocking: a client
// whose queue is full is disconnected with 4008 (slow consumer). Frames
// queued together are written together unless the queue is full.
func (s *session) enqueue(m ...outMsg) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if !s.q.push(m...) {
		s.kill(apierr.CloseSlowConsumer, "slow consumer: send queue overflow")
		return false
	}
	s.kick()
	return true
}

// kick starts a writer unless one runs. A connection has a writer goroutine
// only while frames wait, so an idle one costs no goroutine and no buffer.
func (s *session) kick() {
	s.wmu.Lock()
	if s.writing {
		s.wmu.Unlock()
		return
	}
	s.writing = true
	s.wmu.Unlock()
	go s.writeLoop()
}

// offer queues a frame that may be dropped (presence) when the queue is
// more than half full.
func (s *session) offer(m outMsg) {
	if s.q.size() > s.q.limit/2 {
		return
	}
	s.enqueue(m)
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

// writeLoop is the connection's only writer while it runs: it frames what
// is queued itself and writes all of it with one system call (the
// library's frame writer would make one per frame), so a batch fanned out
// to many clients costs one write per client, not one per frame. It ends
// when the queue is empty, or after writing the close frame of a killed
// session.
func (s *session) writeLoop() {
	wt := s.g.cfg.WriteTimeout
	nc := s.conn.NetConn()
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putFrameBuf(bp, buf) }()
	if d := s.g.cfg.WriteCoalesce; d > 0 {
		time.Sleep(d) // let frames on their way join this write
	}
	for {
		// A killed session stops writing changes even when more are queued.
		if s.killed() {
			s.closeConn(wt)
			return
		}
		batch := s.q.take()
		if len(batch) == 0 {
			s.wmu.Lock()
			if s.q.size() == 0 && !s.killed() {
				s.writing = false
				s.wmu.Unlock()
				return
			}
			s.wmu.Unlock()
			continue
		}
		buf = buf[:0]
		for _, m := range batch {
			op := m.op
			if op == 0 {
				op = opText
			}
			buf = appendFrame(buf, op, m.data)
		}
		// The deadline is the socket's own: these bytes bypass the
		// library's writer and its deadline. Moving it costs a timer
		// update, so it moves only when a tenth of the timeout has passed:
		// a write may fail after 0.9 × WriteTimeout rather than after all
		// of it.
		if now := time.Now(); now.Sub(s.deadlineAt) > wt/10 {
			_ = nc.SetWriteDeadline(now.Add(wt))
			s.deadlineAt = now
		}
		if _, err := nc.Write(buf); err != nil {
			s.kill(apierr.CloseAbnormal, "")
			s.closeConn(wt)
			return
		}
	}
}

// frameBufs are the buffers frames are written from and read into, shared
// by every connection: a connection holds one only while it writes or
// reads a frame.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// putFrameBuf returns a buffer to frameBufs unless it grew past 64 KiB.
func putFrameBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		frameBufs.Put(bp)
	}
}

// readFrame reads the next message into a buffer from frameBufs; the caller
// returns it with putFrameBuf once done with the data.
func (s *session) readFrame() (kind int, bp *[]byte, data []byte, err error) {
	kind, r, err := s.conn.NextReader()
	if err != nil {
		return 0, nil, nil, err
	}
	bp = frameBufs.Get().(*[]byte)
	data = (*bp)[:0]
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return kind, bp, data, nil
		}
		if err != nil {
			putFrameBuf(bp, data)
			return 0, nil, nil, err
		}
	}
}

// closeConn sends the close frame with the session's code, once; the
// writer then stays marked as running, so none starts again. The socket
// itself is closed when serve returns.
func (s *session) closeConn(wt time.Duration) {
	if s.closeCode != apierr.CloseAbnormal {
		writeClose(s.conn, s.closeCode, s.closeText, wt)
	}
	close(s.closed)
}

// errKilled ends the read loop of a killed session from the pong handler.
var errKilled = errors.New("gateway: session closed")

// readLoop reads frames until the connection ends or the session is killed.
func (s *session) readLoop() {
	idle := s.g.cfg.PingInterval * 5 / 2
	// extend pushes the idle deadline back unless the session was killed,
	// whose shorter deadline must stand. Checking after setting closes the
	// race with a concurrent kill, which closes done before it sets its
	// deadline.
	// Moving the deadline costs a timer update, so it moves only once a
	// tenth of the idle time has passed since the last move.
	var extended time.Time
	extend := func() bool {
		if now := time.Now(); now.Sub(extended) > idle/10 {
			_ = s.conn.SetReadDeadline(now.Add(idle))
			extended = now
		}
		return !s.killed()
	}
	if !extend() {
		return
	}
	s.conn.SetPongHandler(func(string) error {
		if !extend() {
			return errKilled
		}
		return nil
	})
	// The library would answer pings and closes itself, writing from this
	// goroutine while the write loop writes: the answers go through the
	// write loop instead.
	s.conn.SetPingHandler(func(data string) error {
		s.enqueue(outMsg{op: opPong, data: []byte(data)})
		if !extend() {
			return errKilled
		}
		return nil
	})
	s.conn.SetCloseHandler(func(code int, _ string) error {
		if w, ok := s.conn.NetConn().(*closeWatch); ok && code == websocket.CloseNoStatusReceived && w.oneByteClose() {
			s.kill(apierr.CloseBadCloseFrame, "close frame with a one-byte payload")
			return nil
		}
		s.kill(apierr.CloseNormal, "")
		return nil
	})
	for {
		s.idle.wait()
		kind, bp, data, err := s.readFrame()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.kill(apierr.CloseTooBig, "frame over the size limit")
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				s.kill(apierr.CloseIdle, "no frame or pong in time")
			}
			return
		}
		if !extend() {
			putFrameBuf(bp, data)
			return // closed: frames still on their way are not handled
		}
		if kind != websocket.TextMessage {
			putFrameBuf(bp, data)
			s.badFrame("frames must be JSON text")
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text message that is not UTF-8 fails the
			// connection. Its frame is not decoded, which would replace
			// the bad bytes in some fields and keep them in others.
			putFrameBuf(bp, data)
			s.kill(apierr.CloseInvalidUTF8, errNotUTF8)
			continue
		}
		// The decoded frame copies what it keeps (strings, raw values), so
		// the buffer goes back at once.
		f, err := decodeFrame(data)
		putFrameBuf(bp, data)
		var te *textError
		if errors.As(err, &te) {
			s.refuseText(f, te)
			continue
		}
		if err != nil {
			s.badFrame(err.Error())
			continue
		}
		s.g.metrics.frames.WithLabelValues(f.Type).Inc()
		s.handle(f)
	}
}

// errNotUTF8 is the reason of a close with 1007.
const errNotUTF8 = "text frame is not valid UTF-8"

func (s *session) badFrame(msg string) {
	s.badFrames++
	s.enqueue(outMsg{data: mustJSON(errorFrame{Type: "error", Code: apierr.CodeBadFrame, Message: msg})})
	if s.badFrames >= 20 {
		s.kill(apierr.CloseProtocolError, "too many malformed frames")
	}
}

// refuseText answers a frame holding refused text: an ops frame like any
// batch, with a reject (invalid_text; nothing is committed); any other
// frame with an error of that code, which counts as a malformed frame.
func (s *session) refuseText(f *inFrame, te *textError) {
	if f.Type == typeOps {
		e := te.opError()
		var idx *int
		if e.Index >= 0 {
			idx = &e.Index
		}
		s.reject(f, e.Code, e.Message, idx)
		return
	}
	s.badFrames++
	s.sendError(f.Canvas, apierr.CodeInvalidText, te.Error())
	if s.badFrames >= 20 {
		s.kill(apierr.CloseProtocolError, "too many malformed frames")
	}
}

func (s *session) sendError(canvasID, code, msg string) {
	s.enqueue(outMsg{data: mustJSON(errorFrame{Type: "error", Canvas: canvasID, Code: code, Message: msg})})
}

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

func (s *session) membership(canvasID string) *membership {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joined[canvasID]
}

// join joins a canvas: role check, room subscription, then catch-up (a
// snapshot, or exactly the batches after since) before any live change.
func (s *session) join(f *inFrame) {
	id := f.Canvas
	if !canvasIDPattern.MatchString(id) {
		s.sendError(id, apierr.CodeNotFound, "canvas not found")
		return
	}
	if s.membership(id) != nil {
		s.leave(id, false) // a second join resyncs from its since
	}
	s.mu.Lock()
	count := len(s.joined)
	s.mu.Unlock()
	if count >= s.g.cfg.Limits.MaxCanvases {
		s.sendError(id, apierr.CodeTooManyCanvases, "at most "+itoa(s.g.cfg.Limits.MaxCanvases)+" canvases per connection")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	role, err := s.g.cfg.Roles.Role(ctx, id, s.user.UserID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("join: role lookup", "canvas_id", id, "err", err)
		}
		s.sendError(id, apierr.CodeNotFound, "canvas not found")
		return
	}
	r, err := s.g.room(id)
	if err != nil {
		s.log.Error("join: subscribe", "canvas_id", id, "err", err)
		s.sendError(id, apierr.CodeUnavailable, "canvas unavailable; try again")
		return
	}
	m := &membership{room: r, role: role, roleAt: time.Now(), sessionID: s.id}
	if err := r.join(ctx, s, m, f.Since); err != nil {
		s.g.release(r)
		e := s.canvasError("join", id, err)
		s.sendError(id, e.Code, "could not join: "+e.Message)
		return
	}
	s.mu.Lock()
	s.joined[id] = m
	s.mu.Unlock()
	r.requestPresence(s)
}

// leave leaves a canvas; with notify the client gets a "left" frame.
func (s *session) leave(canvasID string, notify bool) {
	s.mu.Lock()
	m := s.joined[canvasID]
	delete(s.joined, canvasID)
	s.mu.Unlock()
	if m == nil {
		if notify {
			s.sendError(canvasID, apierr.CodeNotJoined, "not joined to this canvas")
		}
		return
	}
	m.room.leave(s, m)
	s.g.release(m.room)
	if notify {
		s.enqueue(outMsg{data: mustJSON(leftFrame{Type: "left", Canvas: canvasID})})
	}
}

func (s *session) leaveAll() {
	s.mu.Lock()
	ids := make([]string, 0, len(s.joined))
	for id := range s.joined {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.leave(id, false)
	}
}

// submit forwards a batch to the canvas actor in the order the client sent
// it and answers with ack or reject when the outcome is known.
func (s *session) submit(f *inFrame) {
	m := s.membership(f.Canvas)
	if m == nil {
		s.reject(f, apierr.CodeNotJoined, "join the canvas before sending ops", nil)
		return
	}
	if !s.ops.AllowN(time.Now(), max(len(f.Ops), 1)) {
		s.reject(f, apierr.CodeRateLimited, "over "+itoa(s.g.cfg.Limits.OpsPerSecond)+" ops per second", nil)
		return
	}
	if role, err := s.currentRole(f.Canvas, m); errors.Is(err, store.ErrNotFound) {
		s.reject(f, apierr.CodeNotFound, "canvas not found", nil)
		return
	} else if err != nil {
		s.reject(f, apierr.CodeUnavailable, "could not check your role; nothing was committed", nil)
		return
	} else if !role.CanEdit() {
		s.reject(f, apierr.CodeForbidden, "viewers cannot change this canvas", nil)
		return
	}
	// Back-pressure: with MaxInFlight batches waiting, stop reading the
	// socket until one is answered, rather than queueing without bound.
	select {
	case s.inFlight <- struct{}{}:
	case <-s.done:
		return
	}
	wait := s.g.cfg.Canvases.SubmitAsync(f.Canvas, s.user.UserID, f.CBID, f.Ops)
	go func() {
		defer func() { <-s.inFlight }()
		seq, err := wait(context.Background())
		if err == nil {
			ack := outMsg{data: ackJSON(f.Canvas, f.CBID, seq)}
			if !m.room.holdAck(s, m, seq, ack) {
				s.enqueue(ack)
			}
			return
		}
		// A rejected batch keeps its op's index in a field of its own.
		var opErr *canvas.OpError
		if errors.As(err, &opErr) {
			var idx *int
			if opErr.Index >= 0 {
				idx = &opErr.Index
			}
			s.reject(f, opErr.Code, opErr.Message, idx)
			return
		}
		e := s.canvasError("submit", f.Canvas, err)
		s.reject(f, e.Code, e.Message, nil)
	}()
}

// canvasError is what the client is told of an error of Canvases: what
// the REST API would tell it (canvases.APIError). An error that carries
// nothing for a client is logged and told as unavailable: nothing of the
// request was committed.
func (s *session) canvasError(doing, canvasID string, err error) *apierr.Error {
	if e, ok := canvases.APIError(err); ok {
		return e
	}
	s.log.Warn(doing, "canvas_id", canvasID, "err", err)
	return canvases.ErrUnavailable.API()
}

// currentRole returns the role, looked up again when older than RoleTTL.
// A lookup that fails for another reason than a missing membership keeps
// nothing and is reported as such.
func (s *session) currentRole(canvasID string, m *membership) (store.Role, error) {
	m.roleMu.Lock()
	role, at := m.role, m.roleAt
	m.roleMu.Unlock()
	if time.Since(at) < s.g.cfg.RoleTTL {
		return role, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	role, err := s.g.cfg.Roles.Role(ctx, canvasID, s.user.UserID)
	if err != nil {
		return "", err
	}
	s.setRole(m, role)
	return role, nil
}

// setRole records a role just looked up.
func (s *session) setRole(m *membership, role store.Role) {
	m.roleMu.Lock()
	m.role, m.roleAt = role, time.Now()
	m.roleMu.Unlock()
}

func (s *session) reject(f *inFrame, code, msg string, index *int) {
	s.enqueue(outMsg{data: mustJSON(rejectFrame{Type: "reject", Canvas: f.Canvas, CBID: f.CBID, Code: code, Message: msg, Index: index})})
}

func itoa(n int) string {
	return fmtInt(int64(n))
}
