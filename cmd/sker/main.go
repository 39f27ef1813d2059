// Command sker runs SKER, the live collaborative AI canvas: `sker serve`
// (the default), `sker migrate`, `sker seed`, `sker backup`, `sker restore`
// and `sker version`.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/skerhq/sker/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		exitError(os.Stderr, os.Args[1:], os.Getenv, err)
		os.Exit(1)
	}
}

// exitError writes the error a command ends with: with LOG_FORMAT=json
// as a JSON record like every other line (even when the configuration
// itself is what failed), else as "sker: <error>".
func exitError(w io.Writer, args []string, getenv func(string) string, err error) {
	if config.LogFormatOf(args, getenv, ".env") == "json" {
		slog.New(slog.NewJSONHandler(w, nil)).Error("sker exits", "err", err.Error())
		return
	}
	fmt.Fprintln(w, "sker:", err)
}
