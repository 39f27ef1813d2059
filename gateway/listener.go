package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Listener returns a listener for the HTTP server that serves WebSockets
// on the side: a connection whose first request is a WebSocket upgrade of
// path is upgraded and served by the gateway itself, and never reaches the
// HTTP server; every other connection is handed to the HTTP server, with
// the bytes already read put back in front.
//
// The point is memory. An HTTP server that hijacks a connection for a
// WebSocket keeps its per-connection state for as long as the WebSocket
// lives (Fiber's: a 4 KiB reader, the request context, the parsed query:
// about 10 KiB); upgraded here, an open connection keeps only the
// WebSocket's 1 KiB reader and the session. An upgrade that arrives on a
// connection that has already carried another request still reaches the
// HTTP server's /ws route (Handler), which serves it the same way.
//
// firstRequest bounds how long a new connection may take to send the
// header of its first request, as the HTTP server's header timeout bounds
// it there: a connection that has not sent enough to tell the route by
// then, or whose WebSocket handshake is not complete, is closed. One handed
// over gets the HTTP server's own timeouts from then on.
func (g *Gateway) Listener(ln net.Listener, path string, firstRequest time.Duration) net.Listener {
	l := &wsListener{
		Listener:     ln,
		g:            g,
		prefix:       []byte("GET " + path),
		firstRequest: firstRequest,
		conns:        make(chan net.Conn),
		done:         make(chan struct{}),
		upgrader:     newUpgrader(g),
	}
	go l.acceptLoop()
	return l
}

// newUpgrader upgrades the listener's handshakes. Its ReadBufferSize is 0:
// the connection's reader is the one upgrade hands it.
func newUpgrader(g *Gateway) websocket.Upgrader {
	return websocket.Upgrader{
		HandshakeTimeout: handshakeTimeout,
		WriteBufferSize:  writeBufferSize,
		WriteBufferPool:  writeBufferPool,
		CheckOrigin:      g.checkOrigin,
	}
}

const (
	// handshakeTimeout bounds the writes of a handshake's answer.
	handshakeTimeout = 10 * time.Second
	// maxHandshakeBytes bounds a WebSocket handshake request read here;
	// a larger one is handed to the HTTP server, which applies its own
	// limit.
	maxHandshakeBytes = 8 << 10
)

// handshakeReaders are the readers of handshakes in progress.
var handshakeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// handshakeWriters hold the upgrade's response while it is written.
var handshakeWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 512) }}

type wsListener struct {
	net.Listener
	g            *Gateway
	prefix       []byte // "GET /ws"
	firstRequest time.Duration
	upgrader     websocket.Upgrader

	conns     chan net.Conn // connections for the HTTP server
	done      chan struct{} // closed by Close, or when accepting fails for good
	closeOnce sync.Once
	err       error // why done was closed; set before
}

// acceptLoop accepts connections and routes each in its own goroutine,
// which becomes the connection's read loop when it is a WebSocket.
func (l *wsListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.fail(err)
				return
			}
			// Out of file descriptors and the like: wait and try again,
			// as the HTTP server would have.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.g.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
				return
			}
		}
		backoff = 0
		go l.route(c)
	}
}

// Accept returns the next connection for the HTTP server.
func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

// Close stops accepting; WebSocket sessions already open are the
// gateway's to end (Shutdown).
func (l *wsListener) Close() error {
	err := l.Listener.Close()
	l.fail(net.ErrClosed)
	return err
}

func (l *wsListener) fail(err error) {
	l.closeOnce.Do(func() {
		l.err = err
		close(l.done)
	})
}

// route reads the start of a new connection's first request: a WebSocket
// upgrade of the gateway's path is served here, anything else goes to the
// HTTP server with every byte read so far.
func (l *wsListener) route(c net.Conn) {
	conn, token, idle, ok := l.upgrade(c)
	if !ok {
		return
	}
	l.g.serve(conn, token, idle)
	_ = c.Close()
}

// upgrade reads the first request and upgrades it when it is a WebSocket
// handshake of the gateway's path. When it is not, the connection is
// handed over or closed, and ok is false. Nothing of the handshake
// outlives it but the WebSocket connection and the token.
func (l *wsListener) upgrade(c net.Conn) (conn *websocket.Conn, token string, idle *idleWaiter, ok bool) {
	rec := &recorder{r: io.LimitReader(c, maxHandshakeBytes)}
	br := handshakeReaders.Get().(*bufio.Reader)
	br.Reset(rec)
	defer func() {
		br.Reset(nil)
		handshakeReaders.Put(br)
	}()

	_ = c.SetReadDeadline(time.Now().Add(l.firstRequest))
	head, err := br.Peek(len(l.prefix) + 1)
	if err != nil {
		// Gone, or not even the start of a request within the timeout.
		_ = c.Close()
		return nil, "", nil, false
	}
	if !bytes.Equal(head[:len(l.prefix)], l.prefix) || (head[len(l.prefix)] != ' ' && head[len(l.prefix)] != '?') {
		l.handOver(c, rec.seen) // another route
		return nil, "", nil, false
	}
	req, err := http.ReadRequest(br)
	if isTimeout(err) {
		// The handshake's time is up (the deadline set above still runs):
		// handed over, it would get the HTTP server's timeout once more.
		_ = c.Close()
		return nil, "", nil, false
	}
	// Not a WebSocket handshake, malformed, too large, or followed by bytes
	// the client should not have sent yet: the HTTP server deals with it
	// (an answer such as 426 or 431, or the same upgrade through its
	// route).
	if err != nil || !websocket.IsWebSocketUpgrade(req) || br.Buffered() > 0 {
		l.handOver(c, rec.seen)
		return nil, "", nil, false
	}
	rec.seen = nil
	req.RemoteAddr = c.RemoteAddr().String() // for the origin check
	bw := handshakeWriters.Get().(*bufio.Writer)
	bw.Reset(c)
	defer func() {
		bw.Reset(nil)
		handshakeWriters.Put(bw)
	}()
	// The connection's reader is handed to the upgrader, which keeps it
	// (Upgrader.ReadBufferSize is 0), so that the idle waiter can see
	// whether a frame is already buffered. It reads through a closeWatch,
	// which the session finds as the WebSocket's NetConn.
	cw := &closeWatch{Conn: c}
	cr := bufio.NewReaderSize(cw, readBufferSize)
	w := &handshakeResponse{conn: cw, brw: bufio.NewReadWriter(cr, bw), header: http.Header{}}
	conn, err = l.upgrader.Upgrade(w, req, nil)
	if err != nil {
		w.finish() // the status the upgrader chose, such as 403 for an origin
		_ = c.Close()
		return nil, "", nil, false
	}
	l.g.metrics.upgrades.WithLabelValues("listener").Inc()
	return conn, req.URL.Query().Get("token"), newIdleWaiter(c, cr), true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handOver gives the connection to the HTTP server, the bytes already read
// first.
func (l *wsListener) handOver(c net.Conn, seen []byte) {
	_ = c.SetReadDeadline(time.Time{})
	if len(seen) > 0 {
		c = &replayConn{Conn: c, pending: seen}
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// recorder keeps a copy of what is read through it.
type recorder struct {
	r    io.Reader
	seen []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.seen = append(r.seen, p[:n]...)
	return n, err
}

// replayConn reads pending before the connection's own bytes.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite ends the connection's writing half when the connection can,
// so that the HTTP server may linger on it (see http.Lingering).
func (c *replayConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return errors.ErrUnsupported
}

// handshakeResponse is the http.ResponseWriter the upgrader answers on: it
// hijacks to the raw connection, or writes an error status and closes.
type handshakeResponse struct {
	conn     net.Conn
	brw      *bufio.ReadWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *handshakeResponse) Header() http.Header { return w.header }

func (w *handshakeResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *handshakeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *handshakeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, w.brw, nil
}

// finish writes the error response the upgrader chose, if any.
func (w *handshakeResponse) finish() {
	if w.hijacked || w.status == 0 {
		return
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(w.status) + " " + http.StatusText(w.status) + "\r\n")
	w.header.Set("Connection", "close")
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	_ = w.header.Write(&b)
	b.WriteString("\r\n")
	b.Write(w.body.Bytes())
	_ = w.conn.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	_, _ = w.conn.Write(b.Bytes())
}
