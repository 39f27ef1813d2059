package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

// TestRevokedCredentialsCloseTheirConnections: deleting an API token
// closes the connections it opened with 4001, and only those; a reused
// refresh token (a sign-out everywhere) closes every connection of that
// user opened with an access token, and the token cannot open a new one.
func TestRevokedCredentialsCloseTheirConnections(t *testing.T) {
	s := newStack(t, nil, nil)
	ctx := context.Background()
	ann, err := s.auth.Register(ctx, "ann@example.test", "password-ann", "ann")
	if err != nil {
		t.Fatal(err)
	}
	_, bobToken := s.user("bob")
	tok1, secret1, err := s.auth.CreateAPIToken(ctx, ann.User.ID, "one", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secret2, err := s.auth.CreateAPIToken(ctx, ann.User.ID, "two", nil)
	if err != nil {
		t.Fatal(err)
	}
	byToken1, _ := s.hello(secret1)
	byToken2, _ := s.hello(secret2)
	byAccess, _ := s.hello(ann.AccessToken)
	bob, _ := s.hello(bobToken)

	if err := s.auth.DeleteAPIToken(ctx, ann.User.ID, tok1.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := byToken1.closed(5 * time.Second); code != apierr.CloseUnauthorized {
		t.Fatalf("connection of the deleted token: got close %d; want %d", code, apierr.CloseUnauthorized)
	}
	for name, c := range map[string]*client{"other token": byToken2, "access token": byAccess, "other user": bob} {
		c.send(map[string]any{"type": "ping"})
		if f := c.until("pong"); f.Type != "pong" {
			t.Fatalf("%s: got %s; want pong", name, f.Raw)
		}
	}

	// The same refresh token twice: the second is a reuse, which signs ann
	// out everywhere.
	if _, err := s.auth.Refresh(ctx, ann.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.Refresh(ctx, ann.RefreshToken); err != auth.ErrRefreshReused {
		t.Fatalf("reuse: got %v; want ErrRefreshReused", err)
	}
	if code, _ := byAccess.closed(5 * time.Second); code != apierr.CloseUnauthorized {
		t.Fatalf("connection of the signed-out session: got close %d; want %d", code, apierr.CloseUnauthorized)
	}
	for name, c := range map[string]*client{"remaining API token": byToken2, "other user": bob} {
		c.send(map[string]any{"type": "ping"})
		if f := c.until("pong"); f.Type != "pong" {
			t.Fatalf("%s: got %s; want pong", name, f.Raw)
		}
	}
	for name, tok := range map[string]string{"deleted API token": secret1, "signed-out access token": ann.AccessToken} {
		c := s.dialWith(dialer(0), "?token="+tok)
		if code, frames := c.closed(5 * time.Second); code != apierr.CloseUnauthorized {
			t.Fatalf("%s: new connection got close %d (frames %v); want %d", name, code, frames, apierr.CloseUnauthorized)
		}
	}
}

// TestLogoutClosesItsSignIn: a logout closes the connections opened with
// that sign-in's access tokens with 4001, and only those: another sign-in
// of the same user and its API token keep theirs. The token cannot open a
// new connection.
func TestLogoutClosesItsSignIn(t *testing.T) {
	s := newStack(t, nil, nil)
	ctx := context.Background()
	first, err := s.auth.Register(ctx, "ann@example.test", "password-ann", "ann")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.auth.Login(ctx, "ann@example.test", "password-ann", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := s.auth.CreateAPIToken(ctx, first.User.ID, "one", nil)
	if err != nil {
		t.Fatal(err)
	}
	byFirst, _ := s.hello(first.AccessToken)
	byOther, _ := s.hello(other.AccessToken)
	byToken, _ := s.hello(secret)

	if err := s.auth.Logout(ctx, first.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if code, _ := byFirst.closed(5 * time.Second); code != apierr.CloseUnauthorized {
		t.Fatalf("connection of the signed-out sign-in: got close %d; want %d", code, apierr.CloseUnauthorized)
	}
	for name, c := range map[string]*client{"other sign-in": byOther, "API token": byToken} {
		c.send(map[string]any{"type": "ping"})
		if f := c.until("pong"); f.Type != "pong" {
			t.Fatalf("%s: got %s; want pong", name, f.Raw)
		}
	}
	c := s.dialWith(dialer(0), "?token="+first.AccessToken)
	if code, frames := c.closed(5 * time.Second); code != apierr.CloseUnauthorized {
		t.Fatalf("signed-out access token: new connection got close %d (frames %v); want %d", code, frames, apierr.CloseUnauthorized)
	}
}
