package migrations_test

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/skerhq/sker/migrations"
	"github.com/skerhq/sker/testkit"
)

// TestDialectsInStep checks that both dialects have the same files.
func TestDialectsInStep(t *testing.T) {
	pg, err := fs.Glob(migrations.Postgres(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	lite, err := fs.Glob(migrations.SQLite(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 || !slices.Equal(pg, lite) {
		t.Errorf("migration files: got postgres %v, sqlite %v; want the same, not empty", pg, lite)
	}
	for name, fsys := range map[string]fs.FS{"postgres": migrations.Postgres(), "sqlite": migrations.SQLite()} {
		latest, err := migrations.Latest(fsys)
		if err != nil || latest != 8 {
			t.Errorf("Latest(%s): got %d, %v; want 8, nil", name, latest, err)
		}
	}
}

// TestSchemasMatch applies both dialects' migrations, checks that they
// make the same tables with the same columns, and that they roll back.
func TestSchemasMatch(t *testing.T) {
	ctx := t.Context()
	lite, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := sql.Open("pgx", testkit.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	dbs := []struct {
		name    string
		db      *sql.DB
		dialect goose.Dialect
		fsys    fs.FS
	}{
		{"sqlite", lite, goose.DialectSQLite3, migrations.SQLite()},
		{"postgres", pg, goose.DialectPostgres, migrations.Postgres()},
	}
	for _, db := range dbs {
		applied, err := migrations.Up(ctx, db.db, db.dialect, db.fsys)
		if err != nil || !slices.Equal(applied, []string{"00001_init.sql", "00002_ai_runs.sql", "00003_sessions_revoked.sql", "00004_refresh_sessions.sql", "00005_files.sql", "00006_files_unreferenced.sql", "00007_canvas_versions.sql", "00008_comments.sql"}) {
			t.Fatalf("Up(%s): got %v, %v; want [00001_init.sql 00002_ai_runs.sql 00003_sessions_revoked.sql 00004_refresh_sessions.sql 00005_files.sql 00006_files_unreferenced.sql 00007_canvas_versions.sql 00008_comments.sql], nil", db.name, applied, err)
		}
	}
	const liteCols = "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p" +
		" WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name <> 'goose_db_version' ORDER BY 1, 2"
	const pgCols = "SELECT table_name, column_name FROM information_schema.columns" +
		" WHERE table_schema = 'public' AND table_name <> 'goose_db_version' ORDER BY table_name COLLATE \"C\", column_name COLLATE \"C\""
	liteSchema, pgSchema := columns(t, lite, liteCols), columns(t, pg, pgCols)
	if len(liteSchema) < 8 || !reflect.DeepEqual(liteSchema, pgSchema) {
		t.Errorf("tables and columns:\ngot  sqlite   %v;\nwant postgres %v", liteSchema, pgSchema)
	}

	for _, db := range dbs {
		p, err := goose.NewProvider(db.dialect, db.db, db.fsys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Errorf("DownTo(0) on %s: %v", db.name, err)
		}
	}
}

func columns(t *testing.T, db *sql.DB, query string) map[string][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tables := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		tables[table] = append(tables[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}
