package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/store"
)

const usage = `sker — the live, collaborative AI canvas

Usage:
  sker [serve] [flags]   run the server (the default)
  sker migrate [flags]   apply the store's migrations
  sker seed [flags]      add a demo user and a demo canvas
  sker version           print the version
  sker help              print this help

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
		fmt.Print(usage + config.Usage())
		return nil
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

// demoEmail is the seeded user's address.
const demoEmail = "demo@sker.local"

// seed adds the demo user (with a new random password, printed once) and a
// demo canvas with a few connected cards. Seeding twice adds a second
// canvas but never changes the user's password.
func seed(ctx context.Context, cfg config.Config) error {
	log := app.NewLogger(cfg, os.Stderr)
	a, err := app.New(ctx, cfg, log, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		_ = a.Shutdown(sctx)
	}()
	st := a.Store()
	user, err := st.UserByEmail(ctx, demoEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
		password := randomPassword()
		sess, err := a.Auth().Register(ctx, demoEmail, password, "Demo")
		if err != nil {
			return fmt.Errorf("seed: create demo user: %w", err)
		}
		user = sess.User
		fmt.Printf("seed: demo user %s, password %s\n", demoEmail, password)
	case err != nil:
		return fmt.Errorf("seed: %w", err)
	default:
		fmt.Printf("seed: demo user %s exists; its password is unchanged\n", demoEmail)
	}
	now := time.Now().UTC()
	c := store.Canvas{ID: uuid.Must(uuid.NewV7()).String(), Title: "Welcome to SKER", Settings: json.RawMessage(`{}`), CreatedBy: user.ID, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateCanvas(ctx, c, user.ID); err != nil {
		return fmt.Errorf("seed: create demo canvas: %w", err)
	}
	if _, err := a.Hub().Submit(ctx, c.ID, user.ID, "seed", demoOps()); err != nil {
		return fmt.Errorf("seed: demo canvas content: %w", err)
	}
	fmt.Printf("seed: demo canvas %q (%s)\n", c.Title, c.ID)
	return nil
}

func demoOps() []canvas.Op {
	text := func(s string) map[string]json.RawMessage {
		b, _ := json.Marshal(s)
		return map[string]json.RawMessage{"text": b}
	}
	pos := func(v float64) *float64 { return &v }
	return []canvas.Op{
		{Op: canvas.OpNodeAdd, ID: "welcome", Kind: "text", X: pos(0), Y: pos(0), Data: text("Welcome to SKER: everyone on this canvas sees every change live.")},
		{Op: canvas.OpNodeAdd, ID: "idea", Kind: "note", X: pos(0), Y: pos(200), Data: text("Connect cards with edges; an AI card reads the cards upstream of it.")},
		{Op: canvas.OpNodeAdd, ID: "ask", Kind: "ai", X: pos(360), Y: pos(100), Data: text("Summarise the cards connected to me.")},
		{Op: canvas.OpEdgeAdd, ID: "welcome-ask", Source: "welcome", Target: "ask"},
		{Op: canvas.OpEdgeAdd, ID: "idea-ask", Source: "idea", Target: "ask"},
	}
}

func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
