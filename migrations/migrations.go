// Package migrations holds SKER's database schema as goose SQL migrations,
// one folder per dialect (postgres/, sqlite/), embedded in the binary, and
// runs them.
//
// Both folders describe the same tables and move in step: a change adds a
// file with the same version number to each. Later tables (files, ai_runs)
// come as new versions; a released file is never edited.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files of every dialect, each in its own folder.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS

// Postgres returns the PostgreSQL migrations, at the root of the FS.
func Postgres() fs.FS { return sub("postgres") }

// SQLite returns the SQLite migrations, at the root of the FS.
func SQLite() fs.FS { return sub("sqlite") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(FS, dir)
	if err != nil {
		panic(err) // dir is a constant folder of FS
	}
	return f
}

// Latest returns the highest version among the migration files in fsys
// (0 when there is none): the version a database must have reached for
// this binary to use it.
func Latest(fsys fs.FS) (int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, fmt.Errorf("migrations: list: %w", err)
	}
	var latest int64
	for _, name := range names {
		digits, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: name must start with a version number", name)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// Up applies the pending migrations of fsys to db with goose and returns
// the names of the files it applied, oldest first (none when the database
// was up to date). On PostgreSQL a session advisory lock makes concurrent
// runs (two `sker migrate` at once) wait for each other.
func Up(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) ([]string, error) {
	var opts []goose.ProviderOption
	if dialect == goose.DialectPostgres {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, path.Base(r.Source.Path))
	}
	if err != nil {
		return applied, fmt.Errorf("migrations: up: %w", err)
	}
	return applied, nil
}
