// Package testkit has helpers for SKER's tests that talk to real services
// (the machine's PostgreSQL) or need scratch files. It is a normal package
// so that any package's tests can import it; production code must not.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the machine's PostgreSQL, used when
// SKER_TEST_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// startPostgres is how to start the machine's PostgreSQL when it is down.
const startPostgres = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// PostgresURL creates an empty database sker_test_<random> on the
// PostgreSQL at SKER_TEST_POSTGRES_URL (default DefaultPostgresURL), drops
// it when the test ends, and returns its URL. A PostgreSQL that does not
// answer fails the test with how to start it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("SKER_TEST_POSTGRES_URL")
	if admin == "" {
		admin = DefaultPostgresURL
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testkit: SKER_TEST_POSTGRES_URL %q: %v", admin, err)
	}
	name := "sker_test_" + randomHex(8)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testkit: PostgreSQL at %s does not answer (%v); start it with\n\t%s\nor set SKER_TEST_POSTGRES_URL",
			u.Redacted(), err, startPostgres)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testkit: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	u.Path = "/" + name
	return u.String()
}

func dropDatabase(t testing.TB, admin, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("testkit: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// FORCE ends sessions a test left open (PostgreSQL 13 and later).
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("testkit: drop database %s: %v", name, err)
	}
}

// SQLitePath returns the path of a database file, not yet created, in a
// folder the test removes when it ends.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "sker.db")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
