package store_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestSQLite runs the contract on a fresh SQLite file per subtest.
func TestSQLite(t *testing.T) {
	runContract(t, func(t *testing.T) store.Store {
		s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() { closeStore(t, s) })
		return s
	})
}

// TestPostgres runs the contract on a fresh, migrated database shared by
// the subtests (they use random ids), with the database also given as the
// read URL so that the replica pool is exercised.
func TestPostgres(t *testing.T) {
	url := testkit.PostgresURL(t)
	if _, err := store.MigratePostgres(t.Context(), url); err != nil {
		t.Fatalf("MigratePostgres: %v", err)
	}
	runContract(t, func(t *testing.T) store.Store {
		s, err := store.OpenPostgres(t.Context(), url, url)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { closeStore(t, s) })
		return s
	})
}

// runContract is the behaviour every Store keeps. open returns a working
// store that the test's cleanup closes.
func runContract(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"RefreshTokens", testRefreshTokens},
		{"SessionEnded", testSessionEnded},
		{"RefreshTokenRotationRace", testRefreshRotationRace},
		{"RevokeUserRefreshTokens", testRevokeUserRefreshTokens},
		{"APITokens", testAPITokens},
		{"Canvases", testCanvases},
		{"ListCanvases", testListCanvases},
		{"DeleteCanvasCascades", testDeleteCanvasCascades},
		{"Members", testMembers},
		{"LastOwner", testLastOwner},
		{"LastOwnerRace", testLastOwnerRace},
		{"CheckpointEmpty", testCheckpointEmpty},
		{"CheckpointDeltas", testCheckpointDeltas},
		{"CheckpointStaleWriter", testCheckpointStaleWriter},
		{"CheckpointRace", testCheckpointRace},
		{"CheckpointOrderAndEdgeCases", testCheckpointOrderAndEdgeCases},
		{"CheckpointLarge", testCheckpointLarge},
		{"DeleteWhileSaving", testDeleteWhileSaving},
		{"AIRuns", testAIRuns},
		{"Versions", testVersions},
		{"Comments", testComments},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: got %v; want nil", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// base is a time with nanoseconds in a zone other than UTC: the stores
// return it in UTC, truncated to the microsecond (see at).
var base = time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))

// at is what the stores return for base+d.
func at(d time.Duration) time.Time { return base.Add(d).UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

// newID returns prefix and a random suffix, so that subtests sharing a
// database never collide.
func newID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// mkUser creates a user with a unique email.
func mkUser(t *testing.T, s store.Store, name string) store.User {
	t.Helper()
	id := newID("u")
	u := store.User{ID: id, Email: name + "." + id + "@example.com", Name: name, PasswordHash: "hash-" + id, CreatedAt: at(0)}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

// mkCanvas creates a canvas owned by owner, updated at base+updated.
func mkCanvas(t *testing.T, s store.Store, owner string, updated time.Duration) store.Canvas {
	t.Helper()
	c := store.Canvas{ID: newID("c"), Title: "Canvas", Settings: []byte(`{"grid":true}`), CreatedBy: owner,
		CreatedAt: at(0), UpdatedAt: at(updated)}
	if err := s.CreateCanvas(t.Context(), c, owner); err != nil {
		t.Fatalf("CreateCanvas: %v", err)
	}
	return c
}

// equal reports got and want unless they are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot  %+v;\nwant %+v", what, got, want)
	}
}

// isErr reports err unless it matches want (nil for success).
func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v; want %v", what, err, want)
	}
}

// together runs fn(0), …, fn(n-1) in n goroutines released at the same
// moment, and returns their errors.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// must fails the test now when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := newID("u")
	u := store.User{ID: id, Email: "Ann." + id + "@Example.com", Name: "Ann", PasswordHash: "argon2id$x", CreatedAt: base}
	must(t, "CreateUser", s.CreateUser(ctx, u))
	want := u
	want.CreatedAt = at(0)

	got, err := s.UserByID(ctx, id)
	isErr(t, "UserByID", err, nil)
	equal(t, "UserByID", got, want)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location: got %v; want UTC", got.CreatedAt.Location())
	}
	got, err = s.UserByEmail(ctx, strings.ToUpper(u.Email))
	isErr(t, "UserByEmail in upper case", err, nil)
	equal(t, "UserByEmail in upper case", got, want)

	for _, tt := range []struct {
		name string
		user store.User
	}{
		{"same email in another case", store.User{ID: newID("u"), Email: strings.ToLower(u.Email), CreatedAt: base}},
		{"same id", store.User{ID: id, Email: newID("other") + "@example.com", CreatedAt: base}},
	} {
		isErr(t, "CreateUser with "+tt.name, s.CreateUser(ctx, tt.user), store.ErrConflict)
	}

	_, err = s.UserByID(ctx, newID("nobody"))
	isErr(t, "UserByID of unknown id", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, newID("nobody")+"@example.com")
	isErr(t, "UserByEmail of unknown email", err, store.ErrNotFound)
}
