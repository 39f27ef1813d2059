package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestSQLiteReopen checks that OpenSQLite migrates a new file once and
// that what was written survives closing and reopening.
func TestSQLiteReopen(t *testing.T) {
	ctx := t.Context()
	path := testkit.SQLitePath(t)
	applied, err := store.MigrateSQLite(ctx, path)
	isErr(t, "MigrateSQLite of a new file", err, nil)
	equal(t, "migrations applied to a new file", applied, []string{"00001_init.sql", "00002_ai_runs.sql", "00003_sessions_revoked.sql", "00004_refresh_sessions.sql", "00005_files.sql", "00006_files_unreferenced.sql", "00007_canvas_versions.sql", "00008_comments.sql"})
	applied, err = store.MigrateSQLite(ctx, path)
	isErr(t, "second MigrateSQLite", err, nil)
	equal(t, "migrations applied the second time", applied, []string{})

	s, err := store.OpenSQLite(ctx, path)
	must(t, "OpenSQLite", err)
	u := mkUser(t, s, "kept")
	closeStore(t, s)

	s, err = store.OpenSQLite(ctx, path)
	must(t, "OpenSQLite again", err)
	defer closeStore(t, s)
	got, err := s.UserByID(ctx, u.ID)
	isErr(t, "UserByID after reopening", err, nil)
	equal(t, "user after reopening", got, u)
}

func TestSQLiteBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if s, err := store.OpenSQLite(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q): got nil error; want one", path)
		}
	}
}

// TestSQLiteConcurrentWriters runs transactions that read before they
// write, from many goroutines: none may fail with SQLITE_BUSY.
func TestSQLiteConcurrentWriters(t *testing.T) {
	s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
	must(t, "OpenSQLite", err)
	defer closeStore(t, s)
	ctx := t.Context()
	owner, other := mkUser(t, s, "owner"), mkUser(t, s, "other")

	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		c := mkCanvas(t, s, owner.ID, 0)
		must(t, "AddMember", s.AddMember(ctx, c.ID, other.ID, store.RoleViewer, base))
		wg.Go(func() {
			for r := range rounds {
				role := []store.Role{store.RoleEditor, store.RoleViewer}[r%2]
				errs <- s.SetMemberRole(ctx, c.ID, other.ID, role)
				errs <- s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: uint64(r), Seq: uint64(r + 1),
					At: base.Add(time.Duration(r) * time.Second), PutNodes: []store.Node{node(fmt.Sprintf("w%d-r%d", w, r), 0)}})
				_, err := s.LoadCheckpoint(ctx, c.ID)
				errs <- err
				_, err = s.ListCanvases(ctx, owner.ID)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent call: got %v; want nil", err)
		}
	}
}
