package skerhttp_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/gateway"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/testkit"
)

// serveLikeApp runs the server on a loopback port behind the WebSocket
// gateway's listener, as the app wires them, with the gateway's /ws route,
// until the test ends. It returns the address.
func (h *harness) serveLikeApp() string {
	h.t.Helper()
	t := h.t
	nc, _ := testkit.JetStream(t)
	gw, err := gateway.New(gateway.Config{Canvases: h.hub, Auth: h.auth, Roles: h.st, Conn: nc, Logger: testkit.Logger()})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	h.srv.App().Get("/ws", gw.Handler())
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(skerhttp.Lingering(gw.Listener(inner, "/ws", h.srv.HeaderTimeout()))) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return inner.Addr().String()
}

// wire is a TCP connection for requests written by hand.
type wire struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wire) send(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// response reads one response.
func (w *wire) response() response {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatalf("read response body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// closed waits, up to a bound far beyond the timeouts the tests set, for
// the server to close the connection; it returns what the server sent
// before closing.
func (w *wire) closed(what string) []byte {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(w.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		w.t.Fatalf("%s: connection still open after 10 s (got %q); want it closed", what, got)
	}
	return got
}

// parseResponse reads one response from raw bytes the server sent.
func parseResponse(t *testing.T, raw []byte) response {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("got %q; want an HTTP response: %v", raw, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// shortTimeouts makes the read timeouts short enough to wait for.
func shortTimeouts(c *skerhttp.Config, _ *skerhttp.Deps) {
	c.HeaderTimeout = 300 * time.Millisecond
	c.BodyTimeout = 300 * time.Millisecond
}

// TestHalfOpenRequestsClosed: a request whose header or body stops
// arriving is not held: the server answers 408 request_timeout and closes
// the connection once the read timeout passes, whether the connection came
// through the WebSocket listener's first look (a /ws handshake, another
// route), carried a request before, or trickles its header.
func TestHalfOpenRequestsClosed(t *testing.T) {
	h := newHarness(t, shortTimeouts)
	addr := h.serveLikeApp()
	cases := []struct {
		name, first, partial string
		// answered: a 408 comes before the close (a /ws handshake cut off
		// within the listener's first look is closed without one).
		answered bool
	}{
		{name: "ws handshake", partial: "GET /ws HTTP/1.1\r\nHost: x\r\n"},
		{name: "ws handshake, one line", partial: "GET /ws HTTP/1.1\r\n"},
		{name: "api header", partial: "GET /api/v1/me HTTP/1.1\r\nHost: x\r\n", answered: true},
		{name: "post body", partial: "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Content-Length: 100\r\n\r\n{\"email\":", answered: true},
		{name: "chunked body", partial: "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ema\r\n", answered: true},
		{name: "second request header", first: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
			partial: "GET /health HTTP/1.1\r\nHost: x\r\n", answered: true},
		{name: "second request body", first: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
			partial: "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{", answered: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			if tc.first != "" {
				w.send(tc.first)
				w.response().decode(t, http.StatusOK, nil)
			}
			w.send(tc.partial)
			got := w.closed(tc.name)
			if !tc.answered {
				if len(got) != 0 {
					t.Fatalf("got %q; want the connection closed without an answer", got)
				}
				return
			}
			parseResponse(t, got).wantError(t, http.StatusRequestTimeout, apierr.CodeRequestTimeout, "")
		})
	}

	t.Run("trickled header", func(t *testing.T) {
		w := dialWire(t, addr)
		w.send("GET /api/v1/me HTTP/1.1\r\nHost: x\r\n")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := io.WriteString(w.c, "X-A: b\r\n"); err != nil {
					return
				}
			}
		}()
		parseResponse(t, w.closed("trickled header")).
			wantError(t, http.StatusRequestTimeout, apierr.CodeRequestTimeout, "")
	})
}

// TestConflictingFramingRejected: a request whose body framing is
// ambiguous (Content-Length with Transfer-Encoding, a transfer coding
// other than a single chunked, chunked in HTTP/1.0) is answered
// 400 bad_request and its connection closed, so that a request smuggled
// after it is never answered (RFC 9112 §6.1).
func TestConflictingFramingRejected(t *testing.T) {
	h := newHarness(t)
	addr := h.serveLikeApp()
	const smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
	const login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	chunk := "0\r\n\r\n"
	cases := []struct{ name, req string }{
		{"content-length then chunked", login + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"chunked then content-length", login + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunk},
		{"chunked twice", login + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"identity with content-length", login + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n" + chunk},
		{"gzip, chunked", login + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunk},
		{"chunked in HTTP/1.0", strings.Replace(login, "HTTP/1.1", "HTTP/1.0", 1) +
			"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"to /ws", "GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.send(tc.req + smuggled)
			got := w.closed(tc.name)
			r := parseResponse(t, got)
			r.wantError(t, http.StatusBadRequest, apierr.CodeBadRequest, "")
			if n := bytes.Count(got, []byte("HTTP/1.1 ")); n != 1 {
				t.Fatalf("got %d responses (%q); want 1, the smuggled request unanswered", n, got)
			}
		})
	}
	// A chunked body alone, and a Content-Length alone, are fine.
	for _, framing := range []string{"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "Content-Length: 2\r\n\r\n{}"} {
		w := dialWire(t, addr)
		w.send(login + framing + smuggled)
		w.response().wantError(t, http.StatusBadRequest, apierr.CodeInvalidField, "email")
		w.response().decode(t, http.StatusOK, nil)
	}
}

// TestPreRoutingErrorsAreJSON: requests the server refuses before any route
// runs (an unknown or malformed method, a header over the limit, a
// malformed request line or header) are answered in the JSON error shape
// with the status's code, and the connection is closed.
func TestPreRoutingErrorsAreJSON(t *testing.T) {
	h := newHarness(t)
	addr := h.serveLikeApp()
	cases := []struct {
		name, req string
		status    int
		code      string
	}{
		{"unknown method", "FOO /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotImplemented, apierr.CodeNotImplemented},
		{"lower-case method", "get /health HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotImplemented, apierr.CodeNotImplemented},
		{"malformed method", "G{T /health HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"header too large", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, apierr.CodeHeadersTooLarge},
		{"ws header too large", "GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, apierr.CodeHeadersTooLarge},
		{"no target", "GET\r\nHost: x\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"not HTTP", "GET /health FOO/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"junk after the version", "GET /health HTTP/1.1 x\r\nHost: x\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"TLS on the plain port", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"space in a header name", "GET /health HTTP/1.1\r\nHost: x\r\nX A: v\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
		{"bad content-length", "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", http.StatusBadRequest, apierr.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, addr)
			w.send(tc.req)
			parseResponse(t, w.closed(tc.name)).wantError(t, tc.status, tc.code, "")
		})
	}
}

// TestRefusedRequestIsAnsweredNotReset: a request refused while much of it
// is still unread (a head over the buffer, answered 431, with more bytes
// behind it) reaches the client as its JSON answer every time, not as a
// connection reset: the server lingers on the connection before it closes.
func TestRefusedRequestIsAnsweredNotReset(t *testing.T) {
	h := newHarness(t)
	addr := h.serveLikeApp()
	req := "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n" +
		"X-More: " + strings.Repeat("b", 128<<10) + "\r\n\r\n"
	for i := range 30 {
		w := dialWire(t, addr)
		w.send(req)
		_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(w.br)
		if err != nil {
			t.Fatalf("request %d: reading the answer: %v (got %q); want the 431 answer and the end of the stream", i, err, got)
		}
		parseResponse(t, got).wantError(t, http.StatusRequestHeaderFieldsTooLarge, apierr.CodeHeadersTooLarge, "")
	}
}

// gzipped compresses b with gzip.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func deflated(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCompressedBodiesRefused: a request body with a content coding is
// refused with 415 unsupported_media_type before anything decodes it, so
// that a small compressed body cannot expand into a huge one (a login
// body of about 100 KB that gunzips to 100 MiB, or twice gzipped).
func TestCompressedBodiesRefused(t *testing.T) {
	h := newHarness(t)
	// A JSON object whose one string is 100 MiB long.
	bomb := append(append([]byte(`{"email":"`), bytes.Repeat([]byte("a"), 100<<20)...), `","password":"x"}`...)
	once := gzipped(t, bomb)
	cases := []struct {
		encoding string
		body     []byte
	}{
		{"gzip", once},
		{"gzip, gzip", gzipped(t, once)},
		{"GZIP", once},
		{"deflate", deflated(t, bomb)},
		{"br", []byte("not even brotli")},
		{"x-custom", []byte(`{"email":"ann@example.com","password":"x"}`)},
		{"identity, gzip", once},
	}
	for _, tc := range cases {
		t.Run(tc.encoding, func(t *testing.T) {
			if len(tc.body) > 1<<20 {
				t.Fatalf("compressed body is %d bytes; want it under the 1 MiB cap", len(tc.body))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := h.do(request{method: "POST", path: "/api/v1/auth/login", body: string(tc.body),
				header: map[string]string{"Content-Encoding": tc.encoding}})
			runtime.ReadMemStats(&after)
			if mib := (after.TotalAlloc - before.TotalAlloc) >> 20; mib > 32 {
				t.Errorf("got %d MiB allocated while answering; want under 32 (the body left compressed)", mib)
			}
			r.wantError(t, http.StatusUnsupportedMediaType, apierr.CodeUnsupportedMedia, "")
			if got := r.header.Get("Accept-Encoding"); got != "identity" {
				t.Errorf("got Accept-Encoding %q; want identity", got)
			}
		})
	}
	// Uncompressed, or identity, reaches the handler (which refuses the
	// unknown account).
	for _, enc := range []string{"", "identity"} {
		hdr := map[string]string{}
		if enc != "" {
			hdr["Content-Encoding"] = enc
		}
		h.do(request{method: "POST", path: "/api/v1/auth/login", body: `{"email":"ann@example.com","password":"correct horse"}`,
			header: hdr}).wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
	}
}

// TestBodyTimeout: once a request's header is in, its body has
// Config.BodyTimeout, not what is left of the header's: a body that
// stalls is cut off by the body timeout however long the header timeout,
// and a slow body within the body timeout is read even after the header
// timeout has passed.
func TestBodyTimeout(t *testing.T) {
	const login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 54\r\n\r\n"
	const body = `{"email":"ann@example.com","password":"correct horse"}`

	t.Run("stalled", func(t *testing.T) {
		h := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) {
			c.HeaderTimeout, c.BodyTimeout = time.Minute, 300*time.Millisecond
		})
		w := dialWire(t, h.serveLikeApp())
		w.send(login + body[:10])
		parseResponse(t, w.closed("stalled body")).wantError(t, http.StatusRequestTimeout, apierr.CodeRequestTimeout, "")
	})
	t.Run("slow", func(t *testing.T) {
		h := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) {
			c.HeaderTimeout, c.BodyTimeout = 300*time.Millisecond, time.Minute
		})
		w := dialWire(t, h.serveLikeApp())
		w.send(login + body[:10])
		time.Sleep(time.Second) // past the header timeout
		w.send(body[10:])
		w.response().wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
	})
}
