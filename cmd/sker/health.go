package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/skerhq/sker/config"
)

const healthUsage = `
sker health [--server URL]
  Asks a running server's GET /health (default: this node's HOST and PORT)
  and exits 0 when it answers 200 within 3 s, 1 otherwise: the probe of a
  container image without a shell (docker-compose.yml's healthcheck).
`

// healthTimeout bounds the probe.
const healthTimeout = 3 * time.Second

func health(ctx context.Context, args []string, getenv func(string) string) error {
	own, rest, err := takeFlags(args, "server")
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	cfg, extra, err := config.Load(rest, getenv, ".env")
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("health: unexpected arguments %q", extra)
	}
	server := own["server"]
	if server == "" {
		server = "http://" + localAddr(cfg)
	}
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("health: --server: want http://host:port, got %q", server)
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/health", nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %s does not answer: %w", server, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d: %s", server, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Println(strings.TrimSpace(string(body)))
	return nil
}
