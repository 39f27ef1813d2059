package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/skerhq/sker/testkit"
)

// TestDumpCoversSchema: the tables a dump holds are every table of the
// migrated schema (goose's own aside), each with every column, in both
// dialects. A migration that adds a table or a column without adding it
// to tables fails here, instead of backups silently leaving it out.
func TestDumpCoversSchema(t *testing.T) {
	ctx := t.Context()
	want := map[string][]string{}
	for _, tb := range tables {
		for _, c := range tb.cols {
			want[tb.name] = append(want[tb.name], c.name)
		}
		slices.Sort(want[tb.name])
	}

	path := testkit.SQLitePath(t)
	if _, err := MigrateSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := openSQLiteDB(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lite := map[string][]string{}
	err = queryAll(ctx, liteQuerier{db},
		"SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'goose%' AND m.name NOT LIKE 'sqlite%'",
		nil, func(r rows) error {
			var tb, col string
			err := r.Scan(&tb, &col)
			lite[tb] = append(lite[tb], col)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	sameSchema(t, "sqlite", lite, want)

	url := testkit.PostgresURL(t)
	if _, err := MigratePostgres(ctx, url); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	pg := map[string][]string{}
	rs, err := conn.Query(ctx, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'goose%'")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var tb, col string
		if err := rs.Scan(&tb, &col); err != nil {
			t.Fatal(err)
		}
		pg[tb] = append(pg[tb], col)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	sameSchema(t, "postgres", pg, want)
}

func sameSchema(t *testing.T, dialect string, got, want map[string][]string) {
	t.Helper()
	for tb := range got {
		slices.Sort(got[tb])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s schema:\ngot  %v;\nwant %v (the tables a dump holds: store/backup.go)", dialect, got, want)
	}
}
