// Package e2e holds SKER's end-to-end tests. They build the real `sker`
// binary once per test run (go build ./cmd/sker, without -race), start it as
// a subprocess on a free loopback port with its own DATA_DIR, and talk to it
// only over HTTP, as a client and an operator would: register and log in,
// share canvases, send batches of ops, stop the process gracefully or with
// SIGKILL, restart it on the same data and check what survived.
//
// The embedded NATS server of every process started here stays in-process
// (NATS_LISTEN is never set), so nothing takes port 4222. PostgreSQL runs
// use a fresh database from testkit.PostgresURL, dropped after the test.
//
// There is no production code in this package; the tests are in the
// _test.go files:
//
//	harness_test.go     building and running the binary, the REST client
//	foundation_test.go  accounts, canvases, roles, restart, config errors,
//	                    migrate, seed and version, on SQLite and PostgreSQL
//	durability_test.go  guarantee 1: acknowledged ops survive kill -9
package e2e
