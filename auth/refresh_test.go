package auth_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

func TestRefreshRotates(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	first := register(t, s, "ann@example.com")

	second, err := s.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
		t.Fatalf("got refresh token %q; want a new one", second.RefreshToken)
	}
	if second.User.ID != first.User.ID {
		t.Fatalf("got user %s; want %s", second.User.ID, first.User.ID)
	}
	if _, err := s.Authenticate(ctx, second.AccessToken); err != nil {
		t.Fatalf("Authenticate new access token: %v", err)
	}
	third, err := s.Refresh(ctx, second.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh rotated token: %v", err)
	}
	if third.RefreshToken == second.RefreshToken {
		t.Fatal("got the same refresh token twice; want rotation")
	}
}

func TestRefreshReuseRevokesAll(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	first := register(t, s, "ann@example.com")
	other, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	second, err := s.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	_, err = s.Refresh(ctx, first.RefreshToken) // the thief, or the victim, comes second
	if err != auth.ErrRefreshReused {
		t.Fatalf("reuse: got %v; want ErrRefreshReused", err)
	}
	for name, tok := range map[string]string{"rotated-into": second.RefreshToken, "other session": other.RefreshToken} {
		_, err := s.Refresh(ctx, tok)
		wantCode(t, err, apierr.CodeUnauthorized)
		if err == auth.ErrRefreshReused {
			t.Fatalf("%s: got ErrRefreshReused; want ErrRefreshInvalid (revoked, not rotated)", name)
		}
	}
	// Signed out everywhere: the access tokens already issued stop
	// working too, not only the refresh tokens.
	for name, tok := range map[string]string{"first": first.AccessToken, "other": other.AccessToken, "second": second.AccessToken} {
		_, err := s.Authenticate(ctx, tok)
		wantCode(t, err, apierr.CodeUnauthorized)
		if err == nil {
			t.Fatalf("access token of session %s: still accepted after the sign-out", name)
		}
	}
}

// TestSignInAfterSignOut: an access token signed after a sign-out
// everywhere works, one signed in the same second does not.
func TestSignInAfterSignOut(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	first := register(t, s, "ann@example.com")
	if _, err := s.Refresh(ctx, first.RefreshToken); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	clk.Advance(300 * time.Millisecond)
	if _, err := s.Refresh(ctx, first.RefreshToken); err != auth.ErrRefreshReused {
		t.Fatalf("reuse: got %v; want ErrRefreshReused", err)
	}
	clk.Advance(100 * time.Millisecond)
	same, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	// The test clock starts on a whole second: this login came 400 ms
	// after it, in the second of the sign-out.
	_, err = s.Authenticate(ctx, same.AccessToken)
	wantCode(t, err, apierr.CodeUnauthorized)
	clk.Advance(time.Second)
	later, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if _, err := s.Authenticate(ctx, later.AccessToken); err != nil {
		t.Fatalf("access token signed a second after the sign-out: %v; want accepted", err)
	}
}

func TestRefreshInvalid(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *auth.Service, clk *clock, ses auth.Session) string
	}{
		{"unknown", func(*testing.T, *auth.Service, *clock, auth.Session) string { return "no-such-token" }},
		{"empty", func(*testing.T, *auth.Service, *clock, auth.Session) string { return "" }},
		{"access token", func(_ *testing.T, _ *auth.Service, _ *clock, ses auth.Session) string { return ses.AccessToken }},
		{"expired", func(_ *testing.T, _ *auth.Service, clk *clock, ses auth.Session) string {
			clk.Advance(auth.DefaultRefreshTTL + time.Second)
			return ses.RefreshToken
		}},
		{"logged out", func(t *testing.T, s *auth.Service, _ *clock, ses auth.Session) string {
			if err := s.Logout(context.Background(), ses.RefreshToken); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			return ses.RefreshToken
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, clk := newService(t)
			ses := register(t, s, "ann@example.com")
			_, err := s.Refresh(context.Background(), tt.setup(t, s, clk, ses))
			if err != auth.ErrRefreshInvalid {
				t.Fatalf("got %v; want ErrRefreshInvalid", err)
			}
		})
	}
}

func TestLogoutTwice(t *testing.T) {
	s, _, _ := newService(t)
	ses := register(t, s, "ann@example.com")
	for i := range 2 {
		if err := s.Logout(context.Background(), ses.RefreshToken); err != nil {
			t.Fatalf("Logout #%d: %v", i+1, err)
		}
	}
}

// recorder is a RevocationListener that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	sessions []string // "user/session" of each SessionEnded
	revoked  []string // "user/token" of each Revoked
}

func (r *recorder) Revoked(userID, tokenID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked = append(r.revoked, userID+"/"+tokenID)
}

func (r *recorder) SessionEnded(userID, sessionID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions = append(r.sessions, userID+"/"+sessionID)
}

// TestLogoutEndsItsSignIn: a logout refuses the access tokens of its
// sign-in, those issued before a refresh too, and tells the listeners its
// session; another sign-in of the same user keeps working, and logging
// out twice tells nothing more.
func TestLogoutEndsItsSignIn(t *testing.T) {
	s, _, _ := newService(t)
	rec := &recorder{}
	s.OnRevoke(rec)
	ctx := context.Background()
	first := register(t, s, "ann@example.com")
	other, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	second, err := s.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	p1, err := s.Authenticate(ctx, first.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate first: %v", err)
	}
	p2, _ := s.Authenticate(ctx, second.AccessToken)
	po, _ := s.Authenticate(ctx, other.AccessToken)
	if p1.SessionID == "" || p2.SessionID != p1.SessionID || po.SessionID == p1.SessionID {
		t.Fatalf("sessions: first %q, refreshed %q, other sign-in %q; want the first two equal, the third another",
			p1.SessionID, p2.SessionID, po.SessionID)
	}

	if err := s.Logout(ctx, second.RefreshToken); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	for name, tok := range map[string]string{"before the refresh": first.AccessToken, "after it": second.AccessToken} {
		_, err := s.Authenticate(ctx, tok)
		wantCode(t, err, apierr.CodeUnauthorized)
		if err == nil {
			t.Fatalf("access token %s: still accepted after the logout", name)
		}
	}
	_, err = s.Refresh(ctx, second.RefreshToken)
	wantCode(t, err, apierr.CodeUnauthorized)
	if _, err := s.Authenticate(ctx, other.AccessToken); err != nil {
		t.Fatalf("the other sign-in: %v; want it to keep working", err)
	}
	if err := s.Logout(ctx, second.RefreshToken); err != nil {
		t.Fatalf("second Logout: %v", err)
	}
	if err := s.Logout(ctx, first.RefreshToken); err != nil { // rotated: ends nothing
		t.Fatalf("Logout of a rotated token: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{first.User.ID + "/" + p1.SessionID}; !slices.Equal(rec.sessions, want) {
		t.Fatalf("listeners told %v; want %v", rec.sessions, want)
	}
}

// TestLogoutEverywhere: every sign-in of the user ends, and the listeners
// are told of the user.
func TestLogoutEverywhere(t *testing.T) {
	s, _, clk := newService(t)
	rec := &recorder{}
	s.OnRevoke(rec)
	ctx := context.Background()
	first := register(t, s, "ann@example.com")
	other, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if err := s.LogoutEverywhere(ctx, first.User.ID); err != nil {
		t.Fatalf("LogoutEverywhere: %v", err)
	}
	for _, ses := range []auth.Session{first, other} {
		_, err := s.Authenticate(ctx, ses.AccessToken)
		wantCode(t, err, apierr.CodeUnauthorized)
		_, err = s.Refresh(ctx, ses.RefreshToken)
		wantCode(t, err, apierr.CodeUnauthorized)
	}
	clk.Advance(2 * time.Second)
	again, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login after: %v", err)
	}
	if _, err := s.Authenticate(ctx, again.AccessToken); err != nil {
		t.Fatalf("a sign-in after: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{first.User.ID + "/"}; !slices.Equal(rec.revoked, want) {
		t.Fatalf("listeners told %v; want %v", rec.revoked, want)
	}
}
