package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

// refresh returns a live refresh token of user, created at base and
// expiring at base+ttl.
func refresh(user string, ttl time.Duration) store.RefreshToken {
	id := newID("rt")
	return store.RefreshToken{ID: id, UserID: user, TokenHash: "hash-" + id, CreatedAt: at(0), ExpiresAt: at(ttl)}
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "rita")
	now := base.Add(time.Minute)

	old := refresh(u.ID, time.Hour)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
	got, err := s.RefreshTokenByHash(ctx, old.TokenHash)
	isErr(t, "RefreshTokenByHash", err, nil)
	equal(t, "RefreshTokenByHash", got, old)

	dup := refresh(u.ID, time.Hour)
	dup.TokenHash = old.TokenHash
	isErr(t, "CreateRefreshToken with a taken hash", s.CreateRefreshToken(ctx, dup), store.ErrConflict)
	isErr(t, "CreateRefreshToken of an unknown user", s.CreateRefreshToken(ctx, refresh(newID("nobody"), time.Hour)), store.ErrNotFound)

	next := refresh(u.ID, 2*time.Hour)
	must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, old.TokenHash, next, now))
	got, err = s.RefreshTokenByHash(ctx, old.TokenHash)
	isErr(t, "RefreshTokenByHash of the rotated token", err, nil)
	rotated := old
	rotated.RevokedAt, rotated.ReplacedBy = ptr(at(time.Minute)), next.ID
	equal(t, "rotated token", got, rotated)
	got, err = s.RefreshTokenByHash(ctx, next.TokenHash)
	isErr(t, "RefreshTokenByHash of the new token", err, nil)
	equal(t, "new token", got, next)

	again := refresh(u.ID, time.Hour)
	isErr(t, "second rotation of one token", s.RotateRefreshToken(ctx, old.TokenHash, again, now), store.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, again.TokenHash)
	isErr(t, "token of a failed rotation", err, store.ErrNotFound)
	isErr(t, "rotation of an unknown token", s.RotateRefreshToken(ctx, "hash-nobody", refresh(u.ID, time.Hour), now), store.ErrNotFound)

	for _, tt := range []struct {
		name string
		ttl  time.Duration // from base; now is base+1m
	}{
		{"expired", 30 * time.Second},
		{"expiring now", time.Minute},
	} {
		tok := refresh(u.ID, tt.ttl)
		must(t, "CreateRefreshToken "+tt.name, s.CreateRefreshToken(ctx, tok))
		isErr(t, "rotation of an "+tt.name+" token", s.RotateRefreshToken(ctx, tok.TokenHash, refresh(u.ID, time.Hour), now), store.ErrNotFound)
	}

	must(t, "RevokeRefreshToken", s.RevokeRefreshToken(ctx, next.TokenHash, now.Add(time.Second)))
	got, err = s.RefreshTokenByHash(ctx, next.TokenHash)
	isErr(t, "RefreshTokenByHash of a revoked token", err, nil)
	equal(t, "RevokedAt of a revoked token", got.RevokedAt, ptr(at(time.Minute+time.Second)))
	isErr(t, "second revocation", s.RevokeRefreshToken(ctx, next.TokenHash, now.Add(time.Hour)), nil)
	got, _ = s.RefreshTokenByHash(ctx, next.TokenHash)
	equal(t, "RevokedAt after a second revocation", got.RevokedAt, ptr(at(time.Minute+time.Second)))
	isErr(t, "revocation of an unknown token", s.RevokeRefreshToken(ctx, "hash-nobody", now), nil)
	isErr(t, "rotation of a revoked token", s.RotateRefreshToken(ctx, next.TokenHash, refresh(u.ID, time.Hour), now), store.ErrNotFound)
}

// testSessionEnded: a sign-in ends when one of its tokens is revoked
// without being rotated; rotation carries it on. A token of no session
// (older than sessions) is a session of its own id.
func testSessionEnded(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "sam")
	now := base.Add(time.Minute)
	ended := func(name, session string, want bool) {
		t.Helper()
		got, err := s.SessionEnded(ctx, session)
		isErr(t, "SessionEnded "+name, err, nil)
		equal(t, "SessionEnded "+name, got, want)
	}

	first := refresh(u.ID, time.Hour)
	first.SessionID = first.ID
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))
	other := refresh(u.ID, time.Hour)
	other.SessionID = other.ID
	must(t, "CreateRefreshToken other", s.CreateRefreshToken(ctx, other))
	ended("of a new sign-in", first.ID, false)
	ended("of an unknown sign-in", "no-such-session", false)

	next := refresh(u.ID, time.Hour)
	next.SessionID = first.ID
	must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, first.TokenHash, next, now))
	ended("after a rotation", first.ID, false)
	must(t, "RevokeRefreshToken", s.RevokeRefreshToken(ctx, next.TokenHash, now))
	ended("after the logout", first.ID, true)
	ended("of the other sign-in", other.ID, false)

	legacy := refresh(u.ID, time.Hour) // no SessionID
	must(t, "CreateRefreshToken legacy", s.CreateRefreshToken(ctx, legacy))
	ended("of a token without a session", legacy.ID, false)
	must(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, u.ID, now))
	ended("of a token without a session, after every token was revoked", legacy.ID, true)
	ended("of the other sign-in, after every token was revoked", other.ID, true)
}

// testRefreshRotationRace rotates one token from 8 goroutines at once:
// exactly one may win.
func testRefreshRotationRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "racer")
	const racers = 8
	for round := range 5 {
		old := refresh(u.ID, time.Hour)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
		nexts := make([]store.RefreshToken, racers)
		for i := range nexts {
			nexts[i] = refresh(u.ID, time.Hour)
		}
		errs := together(racers, func(i int) error {
			return s.RotateRefreshToken(ctx, old.TokenHash, nexts[i], base.Add(time.Minute))
		})

		winners := 0
		for i, err := range errs {
			_, lookup := s.RefreshTokenByHash(ctx, nexts[i].TokenHash)
			switch {
			case err == nil:
				winners++
				isErr(t, "lookup of the winner's token", lookup, nil)
			case errors.Is(err, store.ErrNotFound):
				isErr(t, "lookup of a loser's token", lookup, store.ErrNotFound)
			default:
				t.Errorf("round %d, racer %d: got error %v; want nil or ErrNotFound", round, i, err)
			}
		}
		if winners != 1 {
			t.Errorf("round %d: got %d winners; want 1", round, winners)
		}
	}
}

func testRevokeUserRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := mkUser(t, s, "uma"), mkUser(t, s, "otto")
	revokedBefore := refresh(u.ID, time.Hour)
	revokedBefore.RevokedAt = ptr(at(time.Second))
	mine := []store.RefreshToken{refresh(u.ID, time.Hour), refresh(u.ID, 2*time.Hour), revokedBefore}
	theirs := refresh(other.ID, time.Hour)
	for _, tok := range append(mine, theirs) {
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, tok))
	}
	must(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, u.ID, base.Add(time.Minute)))

	for i, want := range []*time.Time{ptr(at(time.Minute)), ptr(at(time.Minute)), ptr(at(time.Second))} {
		got, err := s.RefreshTokenByHash(ctx, mine[i].TokenHash)
		isErr(t, "RefreshTokenByHash", err, nil)
		equal(t, "RevokedAt of the user's token", got.RevokedAt, want)
	}
	got, err := s.RefreshTokenByHash(ctx, theirs.TokenHash)
	isErr(t, "RefreshTokenByHash", err, nil)
	equal(t, "RevokedAt of another user's token", got.RevokedAt, nil)

	gotUser, err := s.UserByID(ctx, u.ID)
	isErr(t, "UserByID", err, nil)
	equal(t, "SessionsRevokedAt of the user", gotUser.SessionsRevokedAt, ptr(at(time.Minute)))
	gotOther, err := s.UserByEmail(ctx, other.Email)
	isErr(t, "UserByEmail", err, nil)
	equal(t, "SessionsRevokedAt of another user", gotOther.SessionsRevokedAt, nil)
}

func testAPITokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := mkUser(t, s, "api"), mkUser(t, s, "else")
	now := base.Add(time.Hour)
	mk := func(name string, created time.Duration, expires *time.Time) store.APIToken {
		id := newID("at")
		return store.APIToken{ID: id, UserID: u.ID, Name: name, TokenHash: "hash-" + id, CreatedAt: at(created), ExpiresAt: expires}
	}
	forever := mk("forever", 0, nil)
	later := mk("later", time.Second, ptr(at(2*time.Hour)))
	expired := mk("expired", 2*time.Second, ptr(at(time.Minute)))
	for _, tok := range []store.APIToken{forever, later, expired} {
		must(t, "CreateAPIToken "+tok.Name, s.CreateAPIToken(ctx, tok))
	}
	dup := mk("dup", 0, nil)
	dup.TokenHash = forever.TokenHash
	isErr(t, "CreateAPIToken with a taken hash", s.CreateAPIToken(ctx, dup), store.ErrConflict)

	for _, tt := range []struct {
		tok  store.APIToken
		want error
	}{
		{forever, nil},
		{later, nil},
		{expired, store.ErrNotFound},
	} {
		got, err := s.APITokenByHash(ctx, tt.tok.TokenHash, now)
		isErr(t, "APITokenByHash "+tt.tok.Name, err, tt.want)
		if tt.want == nil {
			equal(t, "APITokenByHash "+tt.tok.Name, got, tt.tok)
		}
	}
	_, err := s.APITokenByHash(ctx, "hash-nobody", now)
	isErr(t, "APITokenByHash of an unknown hash", err, store.ErrNotFound)

	list, err := s.ListAPITokens(ctx, u.ID)
	isErr(t, "ListAPITokens", err, nil)
	equal(t, "ListAPITokens, newest first", list, []store.APIToken{expired, later, forever})
	list, err = s.ListAPITokens(ctx, other.ID)
	isErr(t, "ListAPITokens of a user with none", err, nil)
	equal(t, "ListAPITokens of a user with none", list, []store.APIToken{})

	must(t, "TouchAPIToken", s.TouchAPIToken(ctx, later.ID, now))
	got, _ := s.APITokenByHash(ctx, later.TokenHash, now)
	equal(t, "LastUsedAt after TouchAPIToken", got.LastUsedAt, ptr(at(time.Hour)))
	isErr(t, "TouchAPIToken of an unknown token", s.TouchAPIToken(ctx, newID("at"), now), store.ErrNotFound)

	isErr(t, "DeleteAPIToken by another user", s.DeleteAPIToken(ctx, other.ID, forever.ID), store.ErrNotFound)
	_, err = s.APITokenByHash(ctx, forever.TokenHash, now)
	isErr(t, "APITokenByHash after another user's delete", err, nil)
	isErr(t, "DeleteAPIToken", s.DeleteAPIToken(ctx, u.ID, forever.ID), nil)
	_, err = s.APITokenByHash(ctx, forever.TokenHash, now)
	isErr(t, "APITokenByHash of a deleted token", err, store.ErrNotFound)
	isErr(t, "second DeleteAPIToken", s.DeleteAPIToken(ctx, u.ID, forever.ID), store.ErrNotFound)
}
