// Command sker runs SKER, the live collaborative AI canvas: `sker serve`
// (the default), `sker migrate`, `sker seed`, `sker backup`, `sker restore`
// and `sker version`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "sker:", err)
		os.Exit(1)
	}
}
