package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

// stuckRoles answers no role lookup until its ctx ends.
type stuckRoles struct{}

func (stuckRoles) Role(ctx context.Context, _, _ string) (store.Role, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// stuckAuth checks no credential until its ctx ends.
type stuckAuth struct{}

func (stuckAuth) Authenticate(ctx context.Context, _ string) (auth.Principal, error) {
	<-ctx.Done()
	return auth.Principal{}, ctx.Err()
}

// TestJoinTimeoutFromConfig: a join whose role lookup does not answer
// ends after Config.JoinTimeout, not the 15 s default.
func TestJoinTimeoutFromConfig(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Roles, c.JoinTimeout = stuckRoles{}, 300*time.Millisecond }, nil)
	uid, tok := s.user("ann")
	id := s.canvas(uid, nil)
	c, _ := s.hello(tok)
	c.send(map[string]any{"type": "join", "canvas": id})
	f, err := c.nextErr(5 * time.Second)
	if err != nil || f.Type != "error" || f.Canvas != id {
		t.Fatalf("join with a stuck role lookup: got %s, %v; want an error frame within 5s (JoinTimeout 300ms)", f.Raw, err)
	}
}

// TestCheckTimeoutFromConfig: a credential check that does not answer
// refuses the connection after Config.CheckTimeout, not the 5 s default.
func TestCheckTimeoutFromConfig(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Auth, c.CheckTimeout = stuckAuth{}, 300*time.Millisecond }, nil)
	c := s.dialWith(dialer(0), "?token=anything")
	if code, frames := c.closed(3 * time.Second); code != 4001 {
		t.Fatalf("stuck credential check: got close %d (frames %v); want 4001 within 3s (CheckTimeout 300ms)", code, frames)
	}
}
