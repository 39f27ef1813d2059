package gateway

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"
)

// rawConn is a TCP connection to the stack's port, for requests written by
// hand.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func (s *stack) raw() *rawConn {
	s.t.Helper()
	u, err := url.Parse(s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &rawConn{t: s.t, conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) write(parts ...[]byte) {
	c.t.Helper()
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if _, err := c.conn.Write(all); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one HTTP response and its body.
func (c *rawConn) response() (*http.Response, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res, ""
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return res, string(body)
}

// frame reads one unmasked server text frame of under 64 KiB.
func (c *rawConn) frame() frame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			c.t.Fatal(err)
		}
		n = int(ext[0])<<8 | int(ext[1])
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(c.br, data); err != nil {
		c.t.Fatal(err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame %q: %v", data, err)
	}
	f.Raw = data
	return f
}

// upgradeRequest is a WebSocket handshake for target, with extra header
// lines.
func upgradeRequest(target string, extra ...string) []byte {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + encodeKey(key) + "\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func encodeKey(k []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out []byte
	for i := 0; i < len(k); i += 3 {
		var v uint32
		n := min(3, len(k)-i)
		for j := range 3 {
			v <<= 8
			if j < n {
				v |= uint32(k[i+j])
			}
		}
		for j := range 4 {
			if j <= n {
				out = append(out, alphabet[(v>>(18-6*j))&0x3f])
			} else {
				out = append(out, '=')
			}
		}
	}
	return string(out)
}

// clientFrame is a masked client text frame of under 64 KiB.
func clientFrame(payload string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	out := []byte{0x81}
	if n := len(payload); n < 126 {
		out = append(out, 0x80|byte(n))
	} else {
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	}
	out = append(out, mask[:]...)
	for i := range len(payload) {
		out = append(out, payload[i]^mask[i%4])
	}
	return out
}

// wantUpgrades checks the handshakes counted by way of the listener and of
// the route.
func wantUpgrades(t *testing.T, s *stack, listener, route float64) {
	t.Helper()
	if got := upgrades(s, "listener"); got != listener {
		t.Fatalf("listener upgrades: %v; want %v", got, listener)
	}
	if got := upgrades(s, "route"); got != route {
		t.Fatalf("route upgrades: %v; want %v", got, route)
	}
}

// expect reads a response and fails unless its status is one of codes; it
// returns the body.
func (c *rawConn) expect(what string, codes ...int) string {
	c.t.Helper()
	res, body := c.response()
	for _, code := range codes {
		if res.StatusCode == code {
			return body
		}
	}
	c.t.Fatalf("%s: got %d %q; want %v", what, res.StatusCode, body, codes)
	return ""
}

// hello reads the hello frame.
func (c *rawConn) hello() {
	c.t.Helper()
	if f := c.frame(); f.Type != "hello" {
		c.t.Fatalf("got %s; want hello", f.Raw)
	}
}

func upgrades(s *stack, path string) float64 {
	var m dto.Metric
	if err := s.gw.metrics.upgrades.WithLabelValues(path).Write(&m); err != nil {
		s.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSessionByEitherPath: a whole session works when the listener
// upgrades the connection (its first request is the handshake) and when
// only the HTTP server's /ws route serves WebSockets.
func TestSessionByEitherPath(t *testing.T) {
	for _, routeOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "listener", true: "route"}[routeOnly], func(t *testing.T) {
			s := newStackWith(t, stackOptions{routeOnly: routeOnly})
			aID, aTok := s.user("a")
			cid := s.canvas(aID, nil)
			c := s.dial(aTok)
			c.join(cid, nil)
			c.send(opsFrame(cid, "b1", addNodeOp("n1")))
			if f := c.until("ack"); f.Seq != 1 {
				t.Fatalf("got %s; want ack seq 1", f.Raw)
			}
			if routeOnly {
				wantUpgrades(t, s, 0, 1)
			} else {
				wantUpgrades(t, s, 1, 0)
			}
		})
	}
}

// TestListenerHandsOtherRequestsOver: what is not a first-request
// handshake reaches the HTTP server with every byte: other routes, /ws
// without an upgrade, and an upgrade on a connection that carried another
// request first, which the /ws route serves.
func TestListenerHandsOtherRequestsOver(t *testing.T) {
	s := newStack(t, nil, nil)
	_, aTok := s.user("a")

	// Sent a byte at a time: the listener must wait for enough to decide.
	c := s.raw()
	for _, b := range []byte("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n") {
		c.write([]byte{b})
	}
	c.expect("GET /elsewhere (the HTTP server's 404)", http.StatusNotFound)
	// The same connection, kept alive: now a handshake, through the route.
	c.write(upgradeRequest("/ws?token=" + url.QueryEscape(aTok)))
	c.expect("upgrade after another request", http.StatusSwitchingProtocols)
	c.hello()
	wantUpgrades(t, s, 0, 1)

	// /ws without an upgrade: the HTTP server's 426.
	c2 := s.raw()
	c2.write([]byte("GET /ws?token=x HTTP/1.1\r\nHost: x\r\n\r\n"))
	if body := c2.expect("GET /ws without upgrade", fiber.StatusUpgradeRequired); !strings.Contains(body, "WebSocket") {
		t.Fatalf("GET /ws without upgrade: body %q; want the route's message", body)
	}

	// A POST, whose body follows the head.
	c3 := s.raw()
	c3.write([]byte("POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"))
	c3.expect("POST /ws (the HTTP server's 404 or 405)", http.StatusMethodNotAllowed, http.StatusNotFound)
	wantUpgrades(t, s, 0, 1)
}

// TestListenerHandshakeWithEarlyFrame: a client that sends its first frame
// with the handshake, before the answer, is still served (by the route,
// which reads the frame from what the listener had read).
func TestListenerHandshakeWithEarlyFrame(t *testing.T) {
	s := newStack(t, nil, nil)
	_, aTok := s.user("a")
	c := s.raw()
	auth, _ := json.Marshal(map[string]string{"type": "auth", "token": aTok})
	c.write(upgradeRequest("/ws"), clientFrame(string(auth)))
	c.expect("handshake with an early frame", http.StatusSwitchingProtocols)
	c.hello()
	wantUpgrades(t, s, 0, 1)
}

// TestListenerChecksOrigin: with allowed origins configured, a handshake
// from another origin is refused with 403 and no session starts.
func TestListenerChecksOrigin(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Origins = []string{"https://app.example"} }, nil)
	_, aTok := s.user("a")
	query := "/ws?token=" + url.QueryEscape(aTok)

	bad := s.raw()
	bad.write(upgradeRequest(query, "Origin: https://evil.example"))
	bad.expect("foreign origin", http.StatusForbidden)
	good := s.raw()
	good.write(upgradeRequest(query, "Origin: https://app.example"))
	good.expect("allowed origin", http.StatusSwitchingProtocols)
	good.hello()
	wantUpgrades(t, s, 1, 0)
}

// TestListenerFirstRequestTimeout: a connection that sends nothing is
// closed after the first-request timeout; Close stops Accept.
func TestListenerFirstRequestTimeout(t *testing.T) {
	s := newStack(t, nil, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := s.gw.Listener(inner, "/ws", 200*time.Millisecond)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	began := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read: got data; want the connection closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", time.Since(began))
	}
	if err := app.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the HTTP server did not stop when its listener closed")
	}
}

// TestListenerHandshakeTimeout: a WebSocket handshake whose header does
// not complete within the first-request timeout is closed by the listener,
// not handed to the HTTP server (which would give it a timeout of its own
// again, or none): cut off after the request line, after a header, or
// trickled a header line at a time.
func TestListenerHandshakeTimeout(t *testing.T) {
	s := newStack(t, nil, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := s.gw.Listener(inner, "/ws", 300*time.Millisecond)
	// No read timeout of its own: whatever it is handed stays open.
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", s.gw.Handler())
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	for _, tc := range []struct {
		name, partial string
		trickle       bool
	}{
		{"request line", "GET /ws HTTP/1.1\r\n", false},
		{"one header", "GET /ws HTTP/1.1\r\nHost: x\r\n", false},
		{"trickled", "GET /ws?token=x HTTP/1.1\r\nHost: x\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tc.partial)); err != nil {
				t.Fatal(err)
			}
			if tc.trickle {
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					for range 200 {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						if _, err := c.Write([]byte("X-A: b\r\n")); err != nil {
							return
						}
					}
				}()
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after 10 s (got %q); want it closed", got)
			}
			if len(got) != 0 {
				t.Fatalf("got %q; want the connection closed without an answer", got)
			}
		})
	}
}
