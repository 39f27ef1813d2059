package skerhttp

import (
	"context"
	"fmt"
	"net/http"
	rtmetrics "runtime/metrics"
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
	Status        string       `json:"status"`
	Version       string       `json:"version"`
	UptimeSeconds int64        `json:"uptime_seconds"`
	Timestamp     string       `json:"timestamp"` // RFC 3339, UTC, milliseconds
	Memory        healthMemory `json:"memory"`
}

// healthMemory is the Go runtime's memory, read from runtime/metrics,
// which does not stop the world as runtime.ReadMemStats does: /health is
// polled often and must stay cheap.
type healthMemory struct {
	// TotalBytes is all memory the Go runtime has mapped and not released
	// (heap, stacks, runtime structures): the runtime's share of the RSS.
	TotalBytes uint64 `json:"total_bytes"`
	// HeapBytes is the memory of heap objects, live or not yet swept.
	HeapBytes uint64 `json:"heap_bytes"`
}

var healthSamples = []string{"/memory/classes/total:bytes", "/memory/classes/heap/objects:bytes"}

func readHealthMemory() healthMemory {
	s := make([]rtmetrics.Sample, len(healthSamples))
	for i, name := range healthSamples {
		s[i].Name = name
	}
	rtmetrics.Read(s)
	value := func(i int) uint64 {
		if s[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return healthMemory{TotalBytes: value(0), HeapBytes: value(1)}
}

// health is liveness: the process serves HTTP. It checks no dependency.
func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(healthResponse{
		Status:        "ok",
		Version:       s.cfg.Version,
		UptimeSeconds: int64(time.Since(s.cfg.StartedAt) / time.Second),
		Timestamp:     time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Memory:        readHealthMemory(),
	})
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	// CanvasesLoadFailing lists the canvases this node cannot load; it
	// is reported, and does not make the answer 503.
	CanvasesLoadFailing *canvasesFailing `json:"canvases_load_failing,omitempty"`
	Error               *apierr.Error    `json:"error,omitempty"`
}

// ready runs every Check in parallel, each with ReadyTimeout, and answers
// 503 naming the dependencies that failed. Canvases that cannot load are
// listed either way and do not change the status.
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
	failing := s.failingDetail()
	if len(failed) == 0 {
		return c.JSON(readyResponse{Status: "ready", Checks: results, CanvasesLoadFailing: failing})
	}
	sort.Strings(failed)
	Logger(c).Warn("not ready", "failed", failed)
	return c.Status(http.StatusServiceUnavailable).JSON(readyResponse{
		Status:              "unavailable",
		Checks:              results,
		CanvasesLoadFailing: failing,
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
