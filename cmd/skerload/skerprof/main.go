// Command skerprof is `sker serve` with net/http/pprof on PPROF_ADDR
// (default 127.0.0.1:6060, loopback only), for profiling the server under
// skerload:
//
//	go build -o bin/skerprof ./cmd/skerload/skerprof
//	bin/skerload -server-bin bin/skerprof -profile bench/out fanout spread
//
// It builds the node exactly as cmd/sker does (package app), so the
// profile is of the real server; only the pprof listener is added. It is a
// tool for measurement, never for deployment.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the point of this command
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skerprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("PPROF_ADDR %q: want a loopback host:port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	// Lock contention and blocking show in the mutex and block profiles.
	runtime.SetMutexProfileFraction(20)
	go func() { _ = http.Serve(ln, nil) }()

	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	cfg, rest, err := config.Load(args, os.Getenv, ".env")
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, os.Stderr), "skerprof")
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
