package gateway

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzListenerFirstRequest: whatever a new connection sends first, the
// listener either upgrades it (a WebSocket handshake of /ws with nothing
// after it), closes it (fewer bytes than it takes to tell the route), or
// hands it to the HTTP server with every byte the client sent, in order.
func FuzzListenerFirstRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(upgradeRequest("/ws?token=abc"))
	f.Add(append(upgradeRequest("/ws"), clientFrame(`{"type":"auth","token":"t"}`)...))
	f.Add(upgradeRequest("/ws", "Origin: https://elsewhere.example"))
	f.Add([]byte("GET /ws?x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"))
	f.Add([]byte("GET /wsx HTTP/1.1\r\n\r\n"))
	f.Add([]byte("POST /ws HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("GET /ws"))
	f.Add([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
	f.Add(bytes.Repeat([]byte("GET /ws HTTP/1.1\r\nX: "), 600))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	g := &Gateway{cfg: Config{Origins: []string{"https://app.example"}}, metrics: newMetrics(nil)}
	l := &wsListener{g: g, prefix: []byte("GET /ws"), firstRequest: 2 * time.Second,
		conns: make(chan net.Conn, 1), done: make(chan struct{})}
	l.upgrader = newUpgrader(g)

	f.Fuzz(func(t *testing.T, input []byte) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		go func() {
			_, _ = client.Write(input)
			_ = client.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, client) // the server's answer, if any
		}()

		began := time.Now()
		conn, _, _, upgraded := l.upgrade(server)
		if took := time.Since(began); took > time.Second {
			t.Fatalf("the first request took %v to route, though the client had sent all of it: %q", took, input)
		}
		if upgraded {
			if conn == nil {
				t.Fatal("upgraded without a connection")
			}
			return
		}
		select {
		case c := <-l.conns:
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the handed-over connection: %v", err)
			}
			if !bytes.Equal(got, input) {
				t.Fatalf("handed over %q; the client sent %q", got, input)
			}
		default:
			// Closed or answered here: only when too short to tell, or a
			// handshake the upgrader refused (it wrote the status).
			if len(input) >= len("GET /ws ") && !bytes.HasPrefix(input, []byte("GET /ws")) {
				t.Fatalf("neither upgraded nor handed over: %q", input)
			}
		}
	})
}
