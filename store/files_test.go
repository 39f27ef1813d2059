package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestFilesSQLite and TestFilesPostgres check the canvas files of both
// stores: a (canvas, content) pair, the same content on two canvases
// being two rows, and an upload of the same content again adding nothing.
func TestFilesSQLite(t *testing.T) {
	s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
	must(t, "OpenSQLite", err)
	t.Cleanup(func() { closeStore(t, s) })
	testFiles(t, s)
}

func TestFilesPostgres(t *testing.T) {
	url := testkit.PostgresURL(t)
	_, err := store.MigratePostgres(t.Context(), url)
	must(t, "MigratePostgres", err)
	s, err := store.OpenPostgres(t.Context(), url, "")
	must(t, "OpenPostgres", err)
	t.Cleanup(func() { closeStore(t, s) })
	testFiles(t, s)
}

func testFiles(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "ada")
	c1, c2 := mkCanvas(t, s, u.ID, 0), mkCanvas(t, s, u.ID, 0)
	idA, idB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	fa := store.File{CanvasID: c1.ID, ID: idA, Size: 1234, Type: "image/png", Width: 640, Height: 480,
		Name: "Ünïcode photo.png", CreatedBy: u.ID, CreatedAt: at(time.Minute)}
	got, err := s.AddFile(ctx, fa)
	must(t, "AddFile", err)
	equal(t, "AddFile", got, fa)

	again := fa
	again.Name, again.CreatedAt = "renamed.png", at(time.Hour)
	got, err = s.AddFile(ctx, again)
	must(t, "AddFile of the same content again", err)
	equal(t, "AddFile of the same content again", got, fa)

	// The same content on another canvas belongs to it too.
	other := fa
	other.CanvasID, other.Name = c2.ID, "copy.png"
	_, err = s.AddFile(ctx, other)
	must(t, "AddFile on a second canvas", err)
	fb := store.File{CanvasID: c1.ID, ID: idB, Size: 5, Type: "text/plain; charset=utf-8", CreatedBy: u.ID, CreatedAt: at(2 * time.Minute)}
	_, err = s.AddFile(ctx, fb)
	must(t, "AddFile b", err)

	list, err := s.CanvasFiles(ctx, c1.ID)
	must(t, "CanvasFiles", err)
	equal(t, "CanvasFiles, newest first", list, []store.File{fb, fa})
	list, err = s.CanvasFiles(ctx, c2.ID)
	must(t, "CanvasFiles of canvas 2", err)
	equal(t, "CanvasFiles of canvas 2", list, []store.File{other})
	list, err = s.CanvasFiles(ctx, "no-such-canvas")
	must(t, "CanvasFiles of no canvas", err)
	equal(t, "CanvasFiles of no canvas", list, []store.File{})

	got, err = s.CanvasFile(ctx, c2.ID, idA)
	must(t, "CanvasFile", err)
	equal(t, "CanvasFile", got, other)
	_, err = s.CanvasFile(ctx, c2.ID, idB)
	isErr(t, "CanvasFile of a file on another canvas", err, store.ErrNotFound)

	_, err = s.AddFile(ctx, store.File{CanvasID: "no-such-canvas", ID: idA, Type: "x", CreatedBy: u.ID, CreatedAt: at(0)})
	isErr(t, "AddFile to no canvas", err, store.ErrNotFound)

	// Usage: canvas 1 holds a and b, canvas 2 holds a; ada uploaded all three.
	cb, ub, err := s.FileUsage(ctx, c1.ID, u.ID)
	must(t, "FileUsage", err)
	equal(t, "FileUsage of canvas 1 and ada", []int64{cb, ub}, []int64{1234 + 5, 1234 + 5 + 1234})
	bob := mkUser(t, s, "bob")
	cb, ub, err = s.FileUsage(ctx, "no-such-canvas", bob.ID)
	must(t, "FileUsage of nothing", err)
	equal(t, "FileUsage of no canvas and bob", []int64{cb, ub}, []int64{0, 0})

	must(t, "DeleteCanvas", s.DeleteCanvas(ctx, c1.ID))
	list, err = s.CanvasFiles(ctx, c1.ID)
	must(t, "CanvasFiles of a deleted canvas", err)
	equal(t, "CanvasFiles of a deleted canvas", list, []store.File{})
	_, err = s.CanvasFile(ctx, c2.ID, idA)
	must(t, "the other canvas keeps its file", err)
}

// TestFilesSweepSQLite and TestFilesSweepPostgres check the file sweep's
// queries: a referenced file is never marked nor deleted, an unreferenced
// one is marked once and deleted only after its cutoff, a reference (or a
// new upload) before then clears the mark, and FileHeld follows the rows.
func TestFilesSweepSQLite(t *testing.T) {
	s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
	must(t, "OpenSQLite", err)
	t.Cleanup(func() { closeStore(t, s) })
	testFilesSweep(t, s)
}

func TestFilesSweepPostgres(t *testing.T) {
	url := testkit.PostgresURL(t)
	_, err := store.MigratePostgres(t.Context(), url)
	must(t, "MigratePostgres", err)
	s, err := store.OpenPostgres(t.Context(), url, "")
	must(t, "OpenPostgres", err)
	t.Cleanup(func() { closeStore(t, s) })
	testFilesSweep(t, s)
}

func testFilesSweep(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "ada")
	c1, c2 := mkCanvas(t, s, u.ID, 0), mkCanvas(t, s, u.ID, 0)
	kept, dropped, shared := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("3", 64)
	for _, f := range []store.File{{CanvasID: c1.ID, ID: kept}, {CanvasID: c1.ID, ID: dropped}, {CanvasID: c1.ID, ID: shared}, {CanvasID: c2.ID, ID: shared}} {
		f.Size, f.Type, f.CreatedBy, f.CreatedAt = 1, "text/plain; charset=utf-8", u.ID, at(0)
		_, err := s.AddFile(ctx, f)
		must(t, "AddFile", err)
	}
	canvases, err := s.FileCanvases(ctx)
	must(t, "FileCanvases", err)
	equal(t, "FileCanvases", len(canvases), 2)

	grace := time.Hour
	sweep := func(c string, now time.Duration, refs ...string) []string {
		t.Helper()
		gone, err := s.SweepCanvasFiles(ctx, c, refs, at(now), at(now-grace))
		must(t, "SweepCanvasFiles", err)
		ids := []string{}
		for _, f := range gone {
			ids = append(ids, f.ID)
		}
		return ids
	}
	unref := func(c, id string) *time.Time {
		t.Helper()
		f, err := s.CanvasFile(ctx, c, id)
		must(t, "CanvasFile "+id, err)
		return f.UnreferencedAt
	}

	equal(t, "first sweep deletes nothing", sweep(c1.ID, time.Minute, kept), []string{})
	if unref(c1.ID, kept) != nil {
		t.Fatalf("a referenced file was marked unreferenced")
	}
	mark := unref(c1.ID, dropped)
	if mark == nil || !mark.Equal(at(time.Minute)) {
		t.Fatalf("unreferenced file: got mark %v; want %v", mark, at(time.Minute))
	}
	equal(t, "a sweep within the grace deletes nothing", sweep(c1.ID, 30*time.Minute, kept), []string{})
	equal(t, "the mark stays the first one", *unref(c1.ID, dropped), at(time.Minute))

	// A card refers to shared again (an undo) within the grace: the mark goes.
	equal(t, "re-referenced", sweep(c1.ID, 40*time.Minute, kept, shared), []string{})
	if unref(c1.ID, shared) != nil {
		t.Fatalf("a re-referenced file kept its mark")
	}
	// Past the grace: dropped goes, kept and shared (now unreferenced
	// since 2h, grace not over) stay.
	equal(t, "past the grace", sweep(c1.ID, time.Minute+grace, kept), []string{dropped})
	_, err = s.CanvasFile(ctx, c1.ID, dropped)
	isErr(t, "CanvasFile of a swept file", err, store.ErrNotFound)
	held, err := s.FileHeld(ctx, dropped)
	must(t, "FileHeld", err)
	equal(t, "FileHeld of content no canvas holds", held, false)

	// An upload of the same content again restarts the grace.
	_, err = s.AddFile(ctx, store.File{CanvasID: c1.ID, ID: shared, Size: 1, Type: "x", CreatedBy: u.ID, CreatedAt: at(0)})
	must(t, "AddFile again", err)
	if unref(c1.ID, shared) != nil {
		t.Fatalf("an upload again kept the file's mark")
	}
	equal(t, "never referenced for long: kept", sweep(c1.ID, 10*grace, kept), []string{})
	equal(t, "then deleted", sweep(c1.ID, 12*grace, kept), []string{shared})
	held, err = s.FileHeld(ctx, shared)
	must(t, "FileHeld", err)
	equal(t, "FileHeld of content canvas 2 holds", held, true)
	equal(t, "a referenced file is never deleted", sweep(c1.ID, 1000*grace, kept), []string{})
	_, err = s.CanvasFile(ctx, c1.ID, kept)
	must(t, "CanvasFile of the referenced file", err)

	must(t, "DeleteCanvas", s.DeleteCanvas(ctx, c2.ID))
	held, err = s.FileHeld(ctx, shared)
	must(t, "FileHeld", err)
	equal(t, "FileHeld after the canvas holding it was deleted", held, false)
}
