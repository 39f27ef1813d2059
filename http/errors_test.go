package skerhttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	skerhttp "github.com/skerhq/sker/http"
)

// TestBodyTooLarge needs a real socket: fasthttp rejects the body before
// any handler runs, and app.Test reports that as an error of its own.
func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) { c.BodyLimit = 1024 })
	base := h.serve()
	post := func(body string) response {
		t.Helper()
		resp, err := http.Post(base+"/api/v1/auth/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	post(`{"email":"ann@example.com","password":"`+strings.Repeat("p", 2048)+`"}`).
		wantError(t, http.StatusRequestEntityTooLarge, apierr.CodePayloadTooLarge, "")
	// Under the limit goes through.
	post(`{"email":"ann@example.com","password":"long enough"}`).decode(t, http.StatusCreated, nil)
}

func TestUnknownRoutes(t *testing.T) {
	h := newHarness(t)
	h.get("/api/v1/nope", "").wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	h.get("/api/v2/canvases", "").wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	r := h.get("/api/v1/<script>", "")
	r.wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	if strings.Contains(string(r.body), "script") {
		t.Fatalf("404 body echoes the path: %s", r.body)
	}
	h.do(request{method: "PUT", path: "/api/v1/canvases"}).
		wantError(t, http.StatusMethodNotAllowed, apierr.CodeMethodNotAllowed, "")
}

func TestPanicIs500(t *testing.T) {
	h := newHarness(t)
	h.srv.API().Get("/boom", func(*fiber.Ctx) error {
		panic("secret internals: password=hunter2 at db.example.internal")
	})
	h.srv.API().Get("/fail", func(*fiber.Ctx) error {
		return errors.New("pq: relation users does not exist on db.example.internal")
	})
	for _, path := range []string{"/api/v1/boom", "/api/v1/fail"} {
		r := h.do(request{method: "GET", path: path, header: map[string]string{"X-Request-ID": "req-500"}})
		r.wantError(t, http.StatusInternalServerError, apierr.CodeInternal, "")
		if strings.Contains(string(r.body), "internal:") || strings.Contains(string(r.body), "db.example") {
			t.Fatalf("%s: 500 body leaks internals: %s", path, r.body)
		}
		if r.header.Get("X-Request-ID") != "req-500" {
			t.Fatalf("%s: got request id %q; want req-500", path, r.header.Get("X-Request-ID"))
		}
	}
	logs := h.logs.String()
	for _, want := range []string{"panic in handler", "hunter2", "stack=", "relation users does not exist", "request_id=req-500"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q:\n%s", want, logs)
		}
	}
	// The server still serves.
	h.get("/health", "").decode(t, http.StatusOK, nil)
}

// TestServeShutdown runs the server on a real socket and checks that
// Shutdown lets a request in flight finish.
func TestServeShutdown(t *testing.T) {
	h := newHarness(t)
	started := make(chan struct{})
	h.srv.API().Get("/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ln) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if r := <-got; r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: got %q, %v; want done", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after Shutdown")
	}
}
