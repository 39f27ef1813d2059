package skerhttp_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/testkit"
)

// TestAccessLogOptions: with an AccessLogger the lines per request go
// there and not to the process log (ACCESS_LOG=<file>); with
// AccessLogOff there are none but for a request answered 5xx.
func TestAccessLogOptions(t *testing.T) {
	down := skerhttp.Check{Name: "nats", Ping: func(context.Context) error { return errors.New("down") }}
	t.Run("own logger", func(t *testing.T) {
		access := &testkit.LogBuffer{}
		h := newHarness(t, func(_ *skerhttp.Config, d *skerhttp.Deps) {
			d.AccessLogger = slog.New(slog.NewJSONHandler(access, nil))
		})
		h.do(request{method: "GET", path: "/api/v1/me", header: map[string]string{"X-Request-ID": "req-own"}})
		if got := access.String(); !strings.Contains(got, `"msg":"http request"`) || !strings.Contains(got, `"request_id":"req-own"`) ||
			!strings.Contains(got, `"route":"/api/v1/me"`) || !strings.Contains(got, `"status":401`) {
			t.Fatalf("access logger got %q; want the request's line with request_id, route and status", got)
		}
		if strings.Contains(h.logs.String(), "http request") {
			t.Fatalf("process log has an access line with an AccessLogger set:\n%s", h.logs)
		}
	})
	t.Run("off", func(t *testing.T) {
		h := newHarness(t, func(c *skerhttp.Config, d *skerhttp.Deps) {
			c.AccessLogOff = true
			d.Checks = append(d.Checks, down)
		})
		h.do(request{method: "GET", path: "/api/v1/me", header: map[string]string{"X-Request-ID": "req-401"}})
		h.get("/api/v1/nope", "")
		h.do(request{method: "GET", path: "/ready", header: map[string]string{"X-Request-ID": "req-503"}})
		logs := h.logs.String()
		if strings.Contains(logs, "req-401") || strings.Contains(logs, "route=unmatched") {
			t.Fatalf("ACCESS_LOG=off logged a 4xx request:\n%s", logs)
		}
		if !strings.Contains(logs, `msg="http request"`) || !strings.Contains(logs, "request_id=req-503") || !strings.Contains(logs, "status=503") {
			t.Fatalf("ACCESS_LOG=off dropped the 503 request's line too:\n%s", logs)
		}
	})
}
