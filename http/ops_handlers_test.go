package skerhttp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	skerhttp "github.com/skerhq/sker/http"
)

func TestHealth(t *testing.T) {
	h := newHarness(t)
	var body struct {
		Status        string `json:"status"`
		Version       string `json:"version"`
		UptimeSeconds int64  `json:"uptime_seconds"`
	}
	h.get("/health", "").decode(t, http.StatusOK, &body)
	if body.Status != "ok" || body.Version != "test-1.2.3" || body.UptimeSeconds < 10 {
		t.Fatalf("got %+v; want ok, test-1.2.3, uptime >= 10", body)
	}
}

type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestReady(t *testing.T) {
	down := func(context.Context) error { return errors.New("connection refused") }
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name   string
		checks map[string]func(context.Context) error
		status int
		failed []string
	}{
		{"all up", nil, 200, nil},
		{"nats down", map[string]func(context.Context) error{"nats": down}, 503, []string{"nats"}},
		{"redis hangs", map[string]func(context.Context) error{"redis": slow}, 503, []string{"redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(_ *skerhttp.Config, d *skerhttp.Deps) {
				for name, ping := range tt.checks {
					d.Checks = append(d.Checks, skerhttp.Check{Name: name, Ping: ping})
				}
			})
			start := time.Now()
			var body readyBody
			h.get("/ready", "").decode(t, tt.status, &body)
			if took := time.Since(start); took > skerhttp.ReadyTimeout+time.Second {
				t.Fatalf("took %v; want at most about %v", took, skerhttp.ReadyTimeout)
			}
			if body.Checks["store"] != "ok" {
				t.Fatalf("got store check %q; want ok", body.Checks["store"])
			}
			if tt.status == 200 {
				if body.Status != "ready" || body.Error != nil {
					t.Fatalf("got %+v; want ready without error", body)
				}
				return
			}
			if body.Status != "unavailable" || body.Error == nil || body.Error.Code != apierr.CodeUnavailable {
				t.Fatalf("got %+v; want unavailable with an error", body)
			}
			for _, name := range tt.failed {
				if !strings.Contains(body.Error.Message, name) {
					t.Fatalf("got message %q; want it to name %s", body.Error.Message, name)
				}
				if body.Checks[name] == "ok" || body.Checks[name] == "" {
					t.Fatalf("got check %s = %q; want its error", name, body.Checks[name])
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	h.get("/api/v1/canvases/"+id, ann.AccessToken).decode(t, http.StatusOK, nil)
	h.get("/api/v1/nope", "")

	r := h.get("/metrics", "")
	if r.status != http.StatusOK {
		t.Fatalf("got %d; want 200", r.status)
	}
	text := string(r.body)
	for _, want := range []string{
		`sker_http_requests_total{method="GET",route="/api/v1/canvases/:id",status="200"} 1`,
		`sker_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1`,
		`sker_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`sker_http_request_duration_seconds_bucket{method="GET",route="/api/v1/canvases/:id",le="+Inf"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, id) {
		t.Errorf("metrics contain the raw canvas id %s; want route patterns only", id)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"kept", "abc-123.X_y:z", true},
		{"generated", "", false},
		{"unsafe replaced", "evil\" id=1", false},
		{"too long replaced", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.in != "" {
				hdr["X-Request-ID"] = tt.in
			}
			r := h.do(request{method: "GET", path: "/api/v1/me", header: hdr})
			got := r.header.Get("X-Request-ID")
			if tt.keep && got != tt.in {
				t.Fatalf("got id %q; want %q", got, tt.in)
			}
			if !tt.keep && (got == "" || got == tt.in || len(got) != 36) {
				t.Fatalf("got id %q; want a fresh UUID", got)
			}
			if !strings.Contains(h.logs.String(), "request_id="+got) {
				t.Fatalf("logs lack request_id=%s:\n%s", got, h.logs)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	h.do(request{method: "GET", path: "/api/v1/me", token: ann.AccessToken, header: map[string]string{"X-Request-ID": "req-me"}})
	h.get("/health", "")
	h.get("/metrics", "")
	var line string
	for l := range strings.Lines(h.logs.String()) {
		if strings.Contains(l, "request_id=req-me") {
			line = l
		}
	}
	for _, want := range []string{"msg=\"http request\"", "method=GET", "route=/api/v1/me", "status=200", "duration=", "user_id=" + ann.User.ID} {
		if !strings.Contains(line, want) {
			t.Fatalf("access log line %q lacks %q", line, want)
		}
	}
	for _, quiet := range []string{"route=/health", "route=/metrics"} {
		if strings.Contains(h.logs.String(), quiet) {
			t.Fatalf("logs at info contain %s; want it at debug only", quiet)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/health", "/api/v1/me"} {
		r := h.get(path, "")
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "strict-origin-when-cross-origin",
		} {
			if got := r.header.Get(k); got != want {
				t.Fatalf("%s: got %s %q; want %q", path, k, got, want)
			}
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s: got CSP %q; want a same-origin policy", path, csp)
		}
	}
	if got := h.get("/api/v1/me", "").header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("api Cache-Control = %q; want no-store", got)
	}
}

func TestCORS(t *testing.T) {
	preflight := func(h *harness, origin string) response {
		return h.do(request{method: "OPTIONS", path: "/api/v1/canvases", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Authorization, Content-Type"}})
	}
	allowed := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) {
		c.CORSOrigin = "https://app.example.com, not a url, http://localhost:5173/"
	})
	tests := []struct {
		name   string
		h      *harness
		origin string
		allow  bool
	}{
		{"listed", allowed, "https://app.example.com", true},
		{"listed, trailing slash in config", allowed, "http://localhost:5173", true},
		{"not listed", allowed, "https://evil.example.com", false},
		{"no CORS configured", newHarness(t), "https://app.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := preflight(tt.h, tt.origin)
			got := r.header.Get("Access-Control-Allow-Origin")
			if tt.allow && got != tt.origin {
				t.Fatalf("got Allow-Origin %q; want %q", got, tt.origin)
			}
			if !tt.allow && got != "" {
				t.Fatalf("got Allow-Origin %q; want none", got)
			}
		})
	}
	r := allowed.do(request{method: "GET", path: "/health", header: map[string]string{"Origin": "https://app.example.com"}})
	if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "X-Request-ID") {
		t.Fatalf("got Expose-Headers %q; want X-Request-ID", got)
	}
}

func TestGzip(t *testing.T) {
	h := newHarness(t)
	r := h.do(request{method: "GET", path: "/metrics", header: map[string]string{"Accept-Encoding": "gzip"}})
	if got := r.header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("got Content-Encoding %q; want gzip", got)
	}
}
