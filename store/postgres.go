package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose
	"github.com/pressly/goose/v3"

	"github.com/skerhq/sker/migrations"
)

// Postgres is the Store on PostgreSQL, through pgx connection pools.
//
// With a read URL (a streaming replica) a second pool serves the reads
// that tolerate lag: ListCanvases and Members, lists shown to people, who
// reload. Everything else reads the primary: Role, user and token lookups
// (authorization and login must see a revocation or a new member at once),
// Canvas, and LoadCheckpoint, whose seq decides where a canvas actor resumes
// its journal.
type Postgres struct {
	sqlStore
	pool     *pgxpool.Pool
	readPool *pgxpool.Pool // nil without a read URL
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database at url (and to the replica at
// readURL when it is not empty) and checks that its schema is up to date.
// It does not migrate: when the schema is missing or behind it fails with
// an error that tells the operator to run `sker migrate` (MigratePostgres),
// so that several servers never race to change the schema. Pool settings
// come from the URLs (pool_max_conns and the other pgxpool parameters).
func OpenPostgres(ctx context.Context, url, readURL string) (*Postgres, error) {
	pool, err := openPool(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Postgres{pool: pool}
	lag := pool
	if readURL != "" {
		if s.readPool, err = openPool(ctx, readURL); err != nil {
			pool.Close()
			return nil, fmt.Errorf("store: read pool: %w", err)
		}
		lag = s.readPool
	}
	s.sqlStore = sqlStore{
		write:   pgQuerier{pool},
		read:    pgQuerier{pool},
		lagRead: pgQuerier{lag},
		inTx: func(ctx context.Context, fn func(querier) error) error {
			return pgTx(ctx, pool, pgx.TxOptions{}, fn)
		},
		inSnapshot: func(ctx context.Context, fn func(querier) error) error {
			return pgTx(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
		},
		classify:  classifyPostgres,
		forUpdate: " FOR UPDATE",
	}
	return s, nil
}

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	return pool, nil
}

// checkSchema fails unless goose has applied every migration this binary
// embeds. A newer schema is accepted: migrations only add, so an older
// server keeps working during a rolling upgrade.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	want, err := migrations.Latest(migrations.Postgres())
	if err != nil {
		return err
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("store: check postgres schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("store: postgres database has no SKER schema: run `sker migrate` first")
	}
	var have int64
	err = pool.QueryRow(ctx, "SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&have)
	if err != nil {
		return fmt.Errorf("store: check postgres schema: %w", err)
	}
	if have < want {
		return fmt.Errorf("store: postgres schema is at version %d, this sker needs %d: run `sker migrate` first", have, want)
	}
	return nil
}

// MigratePostgres applies the pending migrations to the database at url
// and returns the names of the files applied (none when it was up to
// date). Concurrent runs wait for each other on an advisory lock.
func MigratePostgres(ctx context.Context, url string) ([]string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: migrate postgres: %w", err)
	}
	defer db.Close()
	applied, err := migrations.Up(ctx, db, goose.DialectPostgres, migrations.Postgres())
	if err != nil {
		return applied, fmt.Errorf("store: migrate postgres: %w", err)
	}
	return applied, nil
}

// Ping implements Store.
func (s *Postgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping postgres: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	if s.readPool != nil {
		s.readPool.Close()
	}
	return nil
}

// classifyPostgres maps unique (23505) and foreign key (23503) violations
// to sentinels.
func classifyPostgres(err error) error {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code {
	case "23505":
		return ErrConflict
	case "23503":
		return ErrNotFound
	}
	return nil
}

func pgTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(querier) error) error {
	return pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error { return fn(pgQuerier{tx}) })
}

// pgQuerier runs the shared SQL on a pool or transaction of PostgreSQL,
// rewriting ? placeholders as $n.
type pgQuerier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

func (q pgQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, rebind(query), pgArgs(args)...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.Query(ctx, rebind(query), pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// pgArgs truncates time arguments to microseconds, in place, as SQLite
// does. pgx's binary encoding truncates too, but PostgreSQL rounds times
// sent as text (the simple protocol some poolers need).
func pgArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = v.Truncate(time.Microsecond)
		case *time.Time:
			if v == nil {
				args[i] = nil
			} else {
				args[i] = v.Truncate(time.Microsecond)
			}
		}
	}
	return args
}
