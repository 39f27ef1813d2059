package auth_test

import (
	"context"
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
