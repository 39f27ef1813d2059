package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/store"
)

// demoEmail is the seeded user's address.
const demoEmail = "demo@sker.local"

// seed adds the demo user (with a new random password, printed once) and a
// demo canvas with a few connected cards. Seeding twice adds a second
// canvas but never changes the user's password.
//
// It writes through the store only and never opens the journal, so it runs
// beside a server on the same DATA_DIR (whose embedded NATS owns
// DATA_DIR/jetstream) as well as without one. The canvas's content is its
// first checkpoint, at seq 1, written before the canvas has any journal
// record: a server loads it as it loads any checkpointed canvas.
func seed(ctx context.Context, cfg config.Config) error {
	log := app.NewLogger(cfg, os.Stderr)
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("seed: DATA_DIR %s: %w", cfg.DataDir, err)
		}
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	user, err := demoUser(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	c, err := demoCanvas(ctx, st, user.ID, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("seed: demo canvas %q (%s)\n", c.Title, c.ID)
	return nil
}

// demoUser finds the demo user, or registers it and prints its password.
func demoUser(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (store.User, error) {
	user, err := st.UserByEmail(ctx, demoEmail)
	switch {
	case err == nil:
		fmt.Printf("seed: demo user %s exists; its password is unchanged\n", demoEmail)
		return user, nil
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("seed: %w", err)
	}
	accounts, err := app.NewAuth(cfg, st, log)
	if err != nil {
		return store.User{}, err
	}
	password := randomPassword()
	sess, err := accounts.Register(ctx, demoEmail, password, "Demo")
	if err != nil {
		return store.User{}, fmt.Errorf("seed: create demo user: %w", err)
	}
	fmt.Printf("seed: demo user %s, password %s\n", demoEmail, password)
	return sess.User, nil
}

// demoCanvas creates the demo canvas with its cards as checkpoint seq 1:
// the demo ops applied to an empty canvas, as the canvas actor would have
// applied and checkpointed them.
func demoCanvas(ctx context.Context, st store.Store, ownerID string, at time.Time) (store.Canvas, error) {
	at = at.UTC().Truncate(time.Millisecond) // the canvas's times are milliseconds
	c := store.Canvas{ID: uuid.Must(uuid.NewV7()).String(), Title: "Welcome to SKER", Settings: json.RawMessage(`{}`),
		CreatedBy: ownerID, CreatedAt: at, UpdatedAt: at}
	state := canvas.NewState(c.ID, canvas.Meta{Title: c.Title}, canvas.Limits{})
	if _, err := state.Apply(canvas.Batch{Author: ownerID, At: at.UnixMilli(), Ops: demoOps()}); err != nil {
		return store.Canvas{}, fmt.Errorf("seed: demo canvas content: %w", err)
	}
	d := store.CheckpointDelta{CanvasID: c.ID, FromSeq: 0, Seq: state.Seq, At: at}
	for _, n := range state.Nodes {
		data, _ := json.Marshal(n.Data)
		d.PutNodes = append(d.PutNodes, store.Node{
			ID: n.ID, Kind: n.Kind, X: n.X, Y: n.Y, W: n.W, H: n.H, Z: n.Z, Data: data,
			AuthorID: n.Author, CreatedAt: time.UnixMilli(n.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(n.UpdatedAt).UTC(),
		})
	}
	for _, e := range state.Edges {
		data, _ := json.Marshal(e.Data)
		d.PutEdges = append(d.PutEdges, store.Edge{
			ID: e.ID, Source: e.Source, Target: e.Target, Kind: e.Kind, Data: data,
			AuthorID: e.Author, CreatedAt: time.UnixMilli(e.CreatedAt).UTC(),
		})
	}
	if err := st.CreateCanvas(ctx, c, ownerID); err != nil {
		return store.Canvas{}, fmt.Errorf("seed: create demo canvas: %w", err)
	}
	// Two writes, as the store has no single one for a canvas with content:
	// for the moment between them the new canvas is empty at seq 0. A
	// server checkpoints a canvas only after a change, so the store's seq
	// is still 0 here unless someone opened the canvas and changed it in
	// that moment, and then this fails with a conflict.
	if err := st.SaveCheckpoint(ctx, d); err != nil {
		return store.Canvas{}, fmt.Errorf("seed: demo canvas content: %w", err)
	}
	return c, nil
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
