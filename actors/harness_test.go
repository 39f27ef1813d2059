package actors

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// env is one node's worth of real dependencies: an in-process JetStream
// server (no TCP port), a store (SQLite unless told otherwise) and the
// journal.
type env struct {
	t       testing.TB
	nc      *nats.Conn
	js      jetstream.JetStream
	store   store.Store
	journal *journal.Journal
	dir     string
}

func newEnv(t testing.TB) *env { return newEnvOn(t, "sqlite") }

// storeKinds are the stores a guarantee test runs on, each in a subtest.
var storeKinds = []string{"sqlite", "postgres"}

// newEnvOn is newEnv with the store named by kind: "sqlite", or "postgres"
// for a fresh, migrated database on the machine's PostgreSQL.
func newEnvOn(t testing.TB, kind string) *env {
	t.Helper()
	dir := t.TempDir()
	nc, js := testkit.JetStream(t)
	ctx := context.Background()
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	var st store.Store
	switch kind {
	case "sqlite":
		st, err = store.OpenSQLite(ctx, filepath.Join(dir, "sker.db"))
	case "postgres":
		url := testkit.PostgresURL(t)
		if _, err = store.MigratePostgres(ctx, url); err == nil {
			st, err = store.OpenPostgres(ctx, url, "")
		}
	default:
		t.Fatalf("newEnvOn: unknown store %q", kind)
	}
	if err != nil {
		t.Fatalf("store %s: %v", kind, err)
	}
	t.Cleanup(func() { st.Close() })
	return &env{t: t, nc: nc, js: js, store: st, journal: j, dir: dir}
}

// hub starts a Hub on the env, shut down at the end of the test.
func (e *env) hub(mod func(*Config)) *Hub {
	e.t.Helper()
	cfg := Config{
		Store: e.store, Journal: e.journal, Conn: e.nc,
		Logger:     testkit.Logger(),
		AskTimeout: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := NewHub(cfg)
	if err != nil {
		e.t.Fatalf("hub: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
}

// canvas creates a canvas row owned by a new user and returns its id.
func (e *env) canvas(id string) string {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	uid := "u-" + id
	if err := e.store.CreateUser(ctx, store.User{ID: uid, Email: uid + "@example.test", Name: uid, PasswordHash: "x", CreatedAt: now}); err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	c := store.Canvas{ID: id, Title: "Canvas " + id, Settings: json.RawMessage(`{}`), CreatedBy: uid, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateCanvas(ctx, c, uid); err != nil {
		e.t.Fatalf("create canvas: %v", err)
	}
	return id
}

func f(v float64) *float64 { return &v }

func addNode(id string) canvas.Op {
	return canvas.Op{Op: canvas.OpNodeAdd, ID: id, Kind: "text", X: f(1), Y: f(2), Data: map[string]json.RawMessage{"text": json.RawMessage(`"hi"`)}}
}

func setText(id, text string) canvas.Op {
	v, _ := json.Marshal(text)
	return canvas.Op{Op: canvas.OpNodeUpdate, ID: id, Set: map[string]json.RawMessage{"data.text": v}}
}

func mustSubmit(t *testing.T, h *Hub, canvasID string, ops ...canvas.Op) uint64 {
	t.Helper()
	seq, err := h.Submit(context.Background(), canvasID, "author-1", "", ops)
	if err != nil {
		t.Fatalf("submit %v: %v", ops[0].Op, err)
	}
	return seq
}

func exportJSON(t *testing.T, ex canvas.Export) string {
	t.Helper()
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatalf("marshal export: %v", err)
	}
	return string(b)
}

func snapshot(t *testing.T, h *Hub, canvasID string) canvas.Export {
	t.Helper()
	ex, err := h.Snapshot(context.Background(), canvasID)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return ex
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
