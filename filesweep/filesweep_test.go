package filesweep_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/filesweep"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestSweep runs the sweep on both stores and both file backends, with a
// real journal: the grace-period deletion, a file still referenced (by a
// card of the checkpoint, by a batch only the journal has, by another
// canvas) is never deleted, a reference back within the grace keeps the
// file, and a canvas deletion removes its content.
func TestSweep(t *testing.T) {
	_, js := testkit.JetStream(t)
	n := 0
	backends := map[string]func(t *testing.T) files.Store{
		"fs": func(t *testing.T) files.Store {
			s, err := files.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"nats": func(t *testing.T) files.Store {
			n++
			s, err := files.OpenObjects(t.Context(), js, files.ObjectsConfig{Bucket: fmt.Sprintf("SWEEP_FILES_%d", n), SpoolDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	stores := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			url := testkit.PostgresURL(t)
			if _, err := store.MigratePostgres(t.Context(), url); err != nil {
				t.Fatal(err)
			}
			s, err := store.OpenPostgres(t.Context(), url, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for sn, openStore := range stores {
		for fn, openFiles := range backends {
			t.Run(sn+"/"+fn, func(t *testing.T) {
				n++
				names, err := natsname.New(fmt.Sprintf("SWEEP%d", n))
				if err != nil {
					t.Fatal(err)
				}
				j, err := journal.Open(t.Context(), js, journal.Config{Names: names})
				if err != nil {
					t.Fatal(err)
				}
				testSweep(t, openStore(t), openFiles(t), j)
			})
		}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testSweep(t *testing.T, st store.Store, fs files.Store, j *journal.Journal) {
	ctx := t.Context()
	grace := time.Hour
	sw := filesweep.New(filesweep.Config{Store: st, Journal: j, Files: fs, Grace: grace})
	u := store.User{ID: "u1", Email: "ada@example.com", Name: "Ada", PasswordHash: "x", CreatedAt: t0}
	must(t, st.CreateUser(ctx, u))
	canvas := func(id string) string {
		must(t, st.CreateCanvas(ctx, store.Canvas{ID: id, Title: id, Settings: []byte("{}"), CreatedBy: u.ID, CreatedAt: t0, UpdatedAt: t0}, u.ID))
		return id
	}
	a, b, c := canvas("ca"), canvas("cb"), canvas("cc")
	content := map[string]string{}
	hold := func(canvasID, name string) string {
		info, err := fs.Put(ctx, bytes.NewReader([]byte("content of "+name)), 1<<20)
		must(t, err)
		_, err = st.AddFile(ctx, store.File{CanvasID: canvasID, ID: info.ID, Size: info.Size, Type: info.Type, Name: name, CreatedBy: u.ID, CreatedAt: t0})
		must(t, err)
		content[name] = info.ID
		return info.ID
	}
	inCheckpoint, inJournal, unused, shared, undone := hold(a, "checkpoint"), hold(a, "journal"), hold(a, "unused"), hold(a, "shared"), hold(a, "undone")
	hold(b, "shared")
	versioned := hold(a, "versioned")
	must(t, st.SaveVersion(ctx, store.Version{CanvasID: a, Seq: 1, Kind: "named", Name: "before", CreatedAt: t0,
		State: []byte(`{"version":1,"nodes":[{"id":"v","kind":"image","data":{"file":"` + versioned + `"}}],"edges":[]}`)}))
	deleted := hold(c, "deleted")
	card := func(id, file string) store.Node {
		return store.Node{ID: id, Kind: "image", W: 10, H: 10, Data: json.RawMessage(`{"file":"` + file + `","name":"x.png"}`), CreatedAt: t0, UpdatedAt: t0}
	}
	must(t, st.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: a, Seq: 1, PutNodes: []store.Node{card("n1", inCheckpoint)}, At: t0}))
	must(t, st.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: b, Seq: 1, PutNodes: []store.Node{card("n1", shared)}, At: t0}))
	var last uint64
	appendOp := func(op string) {
		t.Helper()
		rec, _ := json.Marshal(journal.Record{Epoch: "e1", Batches: []json.RawMessage{json.RawMessage(`{"seq":2,"author":"u1","at":1,"ops":[` + op + `]}`)}})
		var err error
		last, err = j.Append(ctx, a, last, "", rec)
		must(t, err)
	}
	appendOp(`{"op":"node.add","id":"n2","kind":"file","data":{"file":"` + inJournal + `"}}`)

	sweep := func(at time.Duration, wantRows, wantContents int) {
		t.Helper()
		res, err := sw.Sweep(ctx, t0.Add(at))
		must(t, err)
		if res.Rows != wantRows || res.Contents != wantContents {
			t.Fatalf("sweep at +%v: got %d rows and %d contents deleted; want %d and %d", at, res.Rows, res.Contents, wantRows, wantContents)
		}
	}
	holds := func(canvasID, id string, want bool) {
		t.Helper()
		_, err := st.CanvasFile(ctx, canvasID, id)
		if got := err == nil; got != want || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Fatalf("canvas %s holds %s: got %v (%v); want %v", canvasID, id[:8], got, err, want)
		}
	}
	stored := func(id string, want bool) {
		t.Helper()
		_, err := fs.Stat(ctx, id)
		if got := err == nil; got != want || (err != nil && !errors.Is(err, files.ErrNotFound)) {
			t.Fatalf("content %s stored: got %v (%v); want %v", id[:8], got, err, want)
		}
	}

	sweep(0, 0, 0)
	// The canvas is deleted: its rows go at once, its content (held by
	// no other canvas) after the next two sweeps.
	must(t, st.DeleteCanvas(ctx, c))
	holds(c, deleted, false)
	stored(deleted, true)
	sweep(time.Minute, 0, 0)
	stored(deleted, true)
	sweep(2*time.Minute, 0, 1)
	stored(deleted, false)

	// undone's card comes back (an undo) within the grace.
	appendOp(`{"op":"node.add","id":"n3","kind":"image","data":{"file":"` + undone + `"}}`)
	sweep(grace-time.Minute, 0, 0)
	// Past the grace: unused and a's row of shared go; the rest stays.
	sweep(grace+time.Minute, 2, 0)
	holds(a, unused, false)
	holds(a, shared, false)
	holds(b, shared, true)
	for _, id := range []string{inCheckpoint, inJournal, undone, versioned} {
		holds(a, id, true)
	}
	stored(unused, true) // one sweep has seen it unheld
	sweep(grace+2*time.Minute, 0, 1)
	stored(unused, false)
	for _, id := range []string{inCheckpoint, inJournal, undone, shared} {
		stored(id, true)
	}
	// Still referenced, never deleted however long.
	sweep(100*grace, 0, 0)
	sweep(200*grace, 0, 0)
	var ids []string
	must(t, fs.List(ctx, func(id string) error { ids = append(ids, id); return nil }))
	want := []string{inCheckpoint, inJournal, undone, shared, versioned}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("contents left: got %v; want %v", ids, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
