package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/skerhq/sker/migrations"
)

// SQLite is the Store on an embedded SQLite database file, through
// modernc.org/sqlite (pure Go, no cgo).
//
// Writes go through a pool of exactly one connection, so writers queue in
// Go instead of failing with SQLITE_BUSY, and a write transaction starts
// with BEGIN IMMEDIATE, so it holds the write lock from its first
// statement. Reads use a second pool of read-only connections; in WAL mode
// they run alongside the writer and see every committed write, so SQLite
// has no lagging reads.
type SQLite struct {
	sqlStore
	path   string
	writer *sql.DB
	reader *sql.DB
}

var _ Store = (*SQLite)(nil)

// sqliteReaders is the size of the read pool; WAL lets readers run in
// parallel with each other and with the writer.
const sqliteReaders = 4

// sqlitePragmas apply to every connection. busy_timeout covers other
// processes (a backup, `sker migrate`) holding the lock.
//
// synchronous=FULL syncs the WAL at every commit, so a commit that
// returned survives a power cut. With NORMAL, WAL mode stays consistent
// but the last commits before a power cut (not a process crash) can be
// lost: a rotated refresh token could come back to life, a checkpoint go
// back in time. On the development VM a one-node checkpoint commit took
// about 0.8–3 ms with FULL against 0.1–0.4 ms with NORMAL: slower, but the
// store's writes are few (batched checkpoints, logins), far below the
// hundreds of commits a second FULL allows, so the system of record
// keeps FULL.
var sqlitePragmas = []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)"}

// OpenSQLite opens (creating it if needed) the SQLite database at path,
// applies the pending migrations and returns the store. path is a file
// name; ":memory:" is refused because each connection would get its own
// database.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if _, err := MigrateSQLite(ctx, path); err != nil {
		return nil, err
	}
	writer, err := openSQLiteDB(ctx, path, false)
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	reader, err := openSQLiteDB(ctx, path, true)
	if err != nil {
		return nil, errors.Join(err, writer.Close())
	}
	reader.SetMaxOpenConns(sqliteReaders)
	reader.SetMaxIdleConns(sqliteReaders)
	s := &SQLite{path: path, writer: writer, reader: reader}
	s.sqlStore = sqlStore{
		write:   liteQuerier{writer},
		read:    liteQuerier{reader},
		lagRead: liteQuerier{reader},
		inTx: func(ctx context.Context, fn func(querier) error) error {
			return liteTx(ctx, writer, nil, fn)
		},
		inSnapshot: func(ctx context.Context, fn func(querier) error) error {
			return liteTx(ctx, reader, &sql.TxOptions{ReadOnly: true}, fn)
		},
		classify: classifySQLite,
	}
	return s, nil
}

// MigrateSQLite applies the pending migrations to the SQLite database at
// path, creating it if needed, and returns the names of the files applied.
// OpenSQLite calls it; `sker migrate` may too.
func MigrateSQLite(ctx context.Context, path string) ([]string, error) {
	db, err := openSQLiteDB(ctx, path, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	applied, err := migrations.Up(ctx, db, goose.DialectSQLite3, migrations.SQLite())
	if err != nil {
		return applied, fmt.Errorf("store: migrate sqlite %s: %w", path, err)
	}
	return applied, nil
}

// openSQLiteDB opens a pool on path whose connections get sqlitePragmas;
// readOnly pools are query_only, the others begin immediate transactions.
func openSQLiteDB(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open sqlite: want a plain file path, got %q", path)
	}
	q := url.Values{"_pragma": sqlitePragmas}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return db, nil
}

// Ping implements Store.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping sqlite: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *SQLite) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// classifySQLite maps constraint errors to sentinels.
func classifySQLite(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return ErrNotFound
	}
	return nil
}

// liteTx runs fn in a transaction of db.
func liteTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(querier) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(liteQuerier{tx}); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops the error of rolling back a transaction that the
// context's end already rolled back.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// liteQuerier runs the shared SQL on a *sql.DB or *sql.Tx of SQLite,
// storing times as unix microseconds.
type liteQuerier struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
}

func (q liteQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, liteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q liteQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.QueryContext(ctx, query, liteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return liteRows{r}, nil
}

// liteArgs converts time arguments to unix microseconds, in place.
func liteArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = v.UnixMicro()
		case *time.Time:
			if v == nil {
				args[i] = nil
			} else {
				args[i] = v.UnixMicro()
			}
		}
	}
	return args
}

// liteRows adapts *sql.Rows to rows.
type liteRows struct{ *sql.Rows }

func (r liteRows) Close() { _ = r.Rows.Close() }
