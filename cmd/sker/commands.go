package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/store"
)

const usage = `sker — the live, collaborative AI canvas

Usage:
  sker [serve] [flags]   run the server (the default)
  sker migrate [flags]   apply the store's migrations
  sker seed [flags]      add a demo user and a demo canvas
  sker backup [flags]    back up the running server (see below)
  sker restore [flags]   restore a backup onto an empty node
  sker doctor [flags]    check the store against the journal; --repair mends
  sker health [flags]    probe a running server's /health (exit 0 or 1)
  sker version           print the version
  sker help              print this help

One server at a time owns a DATA_DIR: a second serve on it refuses to start.
migrate and seed write through the store alone, so they run beside a server.

Every flag has an environment variable; a .env file in the working folder is
read too. Flags override the environment, which overrides .env.

Flags:
`

// run dispatches a subcommand.
func run(ctx context.Context, args []string, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Println("sker", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage + config.Usage() + backupUsage + doctorUsage + healthUsage)
		return nil
	case "backup":
		return backup(ctx, args, getenv)
	case "restore":
		return restore(ctx, args, getenv)
	case "doctor":
		return doctor(ctx, args, getenv)
	case "health":
		return health(ctx, args, getenv)
	case "serve", "migrate", "seed":
	default:
		return fmt.Errorf("unknown command %q (try sker help)", cmd)
	}
	cfg, rest, err := config.Load(args, getenv, ".env")
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, rest)
	}
	switch cmd {
	case "migrate":
		return migrate(ctx, cfg)
	case "seed":
		return seed(ctx, cfg)
	}
	return serve(ctx, cfg)
}

func serve(ctx context.Context, cfg config.Config) error {
	log := app.NewLogger(cfg, os.Stderr)
	app.CaptureLibraryLogs(log)
	a, err := app.New(ctx, cfg, log, version)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func migrate(ctx context.Context, cfg config.Config) error {
	var applied []string
	var err error
	if cfg.DatabaseURL != "" {
		applied, err = store.MigratePostgres(ctx, cfg.DatabaseURL)
	} else {
		if err = os.MkdirAll(cfg.DataDir, 0o750); err == nil {
			applied, err = store.MigrateSQLite(ctx, app.SQLitePath(cfg))
		}
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("migrate: the store is up to date")
	}
	for _, name := range applied {
		fmt.Println("migrate: applied", name)
	}
	return nil
}
