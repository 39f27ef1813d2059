package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestPostgresSchemaCheck checks that OpenPostgres refuses a database that
// was not migrated, or was migrated by an older sker, and that
// MigratePostgres applies each migration once.
func TestPostgresSchemaCheck(t *testing.T) {
	ctx := t.Context()
	url := testkit.PostgresURL(t)
	wantRefusal := func(what, detail string) {
		t.Helper()
		s, err := store.OpenPostgres(ctx, url, "")
		if err == nil {
			s.Close()
			t.Fatalf("OpenPostgres %s: got nil error; want one", what)
		}
		if !strings.Contains(err.Error(), "sker migrate") || !strings.Contains(err.Error(), detail) {
			t.Errorf("OpenPostgres %s: got error %q; want it to mention %q and `sker migrate`", what, err, detail)
		}
	}
	wantRefusal("of an empty database", "no SKER schema")

	applied, err := store.MigratePostgres(ctx, url)
	isErr(t, "MigratePostgres", err, nil)
	equal(t, "migrations applied to an empty database", applied, []string{"00001_init.sql", "00002_ai_runs.sql", "00003_sessions_revoked.sql", "00004_refresh_sessions.sql", "00005_files.sql", "00006_files_unreferenced.sql", "00007_canvas_versions.sql", "00008_comments.sql"})
	applied, err = store.MigratePostgres(ctx, url)
	isErr(t, "second MigratePostgres", err, nil)
	equal(t, "migrations applied the second time", applied, []string{})

	s, err := store.OpenPostgres(ctx, url, "")
	must(t, "OpenPostgres of a migrated database", err)
	closeStore(t, s)

	execSQL(t, url, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)")
	wantRefusal("of a database behind", "version 7")
}

func TestPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections at once.
	if s, err := store.OpenPostgres(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", ""); err == nil {
		s.Close()
		t.Errorf("OpenPostgres of a closed port: got nil error; want one")
	}
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	must(t, "connect", err)
	defer conn.Close(context.WithoutCancel(t.Context()))
	_, err = conn.Exec(t.Context(), sql)
	must(t, sql, err)
}
