// Package embednats runs the embedded NATS server: a nats-server with
// JetStream inside the sker process, so a single node needs no NATS
// installed. It holds the canvas journal (in DataDir/jetstream) and carries
// the subjects between SKER's parts. By default it accepts in-process
// connections only; a Listen address (NATS_LISTEN) or a nats.conf opens it
// to other processes and to a cluster of sker nodes.
package embednats

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is a running embedded nats-server. Its methods are safe for
// concurrent use.
type Server struct {
	ns       *server.Server
	log      *slog.Logger
	storeDir string
	stopped  sync.Once // logs the end once
}

// Start starts the server described by cfg and waits until it accepts
// connections with JetStream enabled. When that does not happen within
// cfg.ReadyTimeout, or ctx ends first, Start shuts the half-started server
// down and returns an error wrapping ErrNotReady (or ctx's error).
// nats-server's log lines go to log (nil discards them).
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "nats")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embednats: start: %w", err)
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embednats: new server: %w", err)
	}
	logger := newSlogLogger(log)
	debug := opts.Debug || log.Enabled(ctx, slog.LevelDebug)
	ns.SetLoggerV2(logger, debug, opts.Trace, opts.TraceVerbose)

	// Start recovers the JetStream store before it returns, which can take
	// a while; run it aside so ctx and the timeout stay in charge.
	storeDir := filepath.Join(opts.StoreDir, server.JetStreamStoreDir)
	go ns.Start()
	if err := waitReady(ctx, ns, logger, cfg.readyTimeout()); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w (JetStream store %s)", err, storeDir)
	}
	s := &Server{ns: ns, log: log, storeDir: storeDir}
	url := s.ClientURL()
	if url == "" {
		url = "in-process only"
	}
	log.Info("embedded NATS ready", "server_name", ns.Name(), "store_dir", s.storeDir,
		"client_url", url, "sync_always", opts.SyncAlways)
	return s, nil
}

// waitReady polls until ns accepts connections with JetStream enabled.
func waitReady(ctx context.Context, ns *server.Server, logger *slogLogger, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ns.ReadyForConnections(50*time.Millisecond) && ns.JetStreamEnabled() {
			return nil
		}
		if msg := logger.fatalMessage(); msg != "" {
			return fmt.Errorf("%w: %s", ErrNotReady, msg)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("embednats: waiting for the server: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v (JetStream enabled: %t); set LOG_LEVEL=debug for nats-server's log",
				ErrNotReady, timeout, ns.JetStreamEnabled())
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Conn opens an in-process client connection (no TCP, whatever Listen
// says). opts are applied after SKER's defaults (a client name), so they
// can override them. Close every connection before Shutdown.
func (s *Server) Conn(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{nats.Name("sker"), nats.InProcessServer(s.ns)}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("embednats: connect in-process: %w", err)
	}
	return nc, nil
}

// ClientURL is the nats:// URL other processes connect to, or "" when the
// server does not listen on TCP. A wildcard listen address (0.0.0.0, ::)
// is reported as the loopback address.
func (s *Server) ClientURL() string {
	addr, ok := s.ns.Addr().(*net.TCPAddr)
	if !ok || addr == nil {
		return ""
	}
	return "nats://" + hostPort(addr)
}

// ClusterURL is the route URL other nodes of the cluster connect to, or ""
// when the server is not clustered. A wildcard address is reported as the
// loopback address, as ClientURL does.
func (s *Server) ClusterURL() string {
	addr := s.ns.ClusterAddr()
	if addr == nil {
		return ""
	}
	return "nats-route://" + hostPort(addr)
}

// hostPort is addr with a wildcard IP replaced by loopback.
func hostPort(addr *net.TCPAddr) string {
	ip := addr.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// StoreDir is the folder that holds JetStream's files.
func (s *Server) StoreDir() string { return s.storeDir }

// Shutdown stops the server gracefully: clients are disconnected, JetStream
// flushes and closes its files, and Shutdown returns when the server has
// fully stopped. Calling it again, even concurrently, only waits for the
// same end.
func (s *Server) Shutdown() {
	if s == nil || s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.stopped.Do(func() { s.log.Info("embedded NATS stopped") })
}
