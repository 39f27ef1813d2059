package skerhttp

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/skerhq/sker/apierr"
)

// ReadyTimeout bounds each Check that /ready runs.
const ReadyTimeout = 2 * time.Second

type healthResponse struct {
	Status        string `json:"status"`
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptime_seconds"`
}

// health is liveness: the process serves HTTP. It checks no dependency.
func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(healthResponse{
		Status:        "ok",
		Version:       s.cfg.Version,
		UptimeSeconds: int64(time.Since(s.cfg.StartedAt) / time.Second),
	})
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Error  *apierr.Error     `json:"error,omitempty"`
}

// ready runs every Check in parallel, each with ReadyTimeout, and answers
// 503 naming the dependencies that failed.
func (s *Server) ready(c *fiber.Ctx) error {
	results := make(map[string]string, len(s.deps.Checks))
	var mu sync.Mutex // guards results
	var wg sync.WaitGroup
	parent := c.UserContext() // the Ctx is not safe for concurrent use
	for _, ch := range s.deps.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(parent, ReadyTimeout)
			defer cancel()
			msg := "ok"
			if err := ch.Ping(ctx); err != nil {
				msg = err.Error()
			}
			mu.Lock()
			results[ch.Name] = msg
			mu.Unlock()
		})
	}
	wg.Wait()

	var failed []string
	for name, msg := range results {
		if msg != "ok" {
			failed = append(failed, name)
		}
	}
	if len(failed) == 0 {
		return c.JSON(readyResponse{Status: "ready", Checks: results})
	}
	sort.Strings(failed)
	Logger(c).Warn("not ready", "failed", failed)
	return c.Status(http.StatusServiceUnavailable).JSON(readyResponse{
		Status: "unavailable",
		Checks: results,
		Error: apierr.New(http.StatusServiceUnavailable, apierr.CodeUnavailable,
			"unavailable: "+strings.Join(failed, ", ")),
	})
}

// metricsHandler serves the registry in the Prometheus text format. The
// compress middleware gzips it, so promhttp does not.
func (s *Server) metricsHandler() fiber.Handler {
	h := promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{
		DisableCompression: true,
		ErrorLog:           slogAdapter{s},
	})
	return adaptor.HTTPHandler(h)
}

// slogAdapter lets promhttp report encoding errors through slog.
type slogAdapter struct{ s *Server }

// Println implements promhttp.Logger.
func (a slogAdapter) Println(v ...any) {
	a.s.log.Error("metrics: encode", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}
