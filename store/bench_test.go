package store_test

import (
	"fmt"
	"testing"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// BenchmarkSaveCheckpoint measures a delta that puts 50,000 new nodes
// (and 10,000 edges), and a typical small one (one node), on each store.
func BenchmarkSaveCheckpoint(b *testing.B) {
	open := map[string]func(b *testing.B) store.Store{
		"SQLite": func(b *testing.B) store.Store {
			s, err := store.OpenSQLite(b.Context(), testkit.SQLitePath(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"Postgres": func(b *testing.B) store.Store {
			url := testkit.PostgresURL(b)
			if _, err := store.MigratePostgres(b.Context(), url); err != nil {
				b.Fatal(err)
			}
			s, err := store.OpenPostgres(b.Context(), url, "")
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"SQLite", "Postgres"} {
		for _, size := range []int{1, 50000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", name, size), func(b *testing.B) {
				s := open[name](b)
				b.Cleanup(func() { s.Close() })
				benchSave(b, s, size)
			})
		}
	}
}

func benchSave(b *testing.B, s store.Store, size int) {
	ctx := b.Context()
	u := store.User{ID: newID("u"), Email: newID("bench") + "@example.com", CreatedAt: base}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	nodes := make([]store.Node, size)
	edges := make([]store.Edge, size/5)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n%06d", i), 0)
	}
	for i := range edges {
		edges[i] = edge(fmt.Sprintf("e%06d", i), nodes[i].ID, nodes[i+1].ID)
	}
	for b.Loop() {
		b.StopTimer()
		c := store.Canvas{ID: newID("c"), CreatedBy: u.ID, CreatedAt: base, UpdatedAt: base}
		if err := s.CreateCanvas(ctx, c, u.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		err := s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, Seq: 1, At: base, PutNodes: nodes, PutEdges: edges})
		if err != nil {
			b.Fatal(err)
		}
	}
}
