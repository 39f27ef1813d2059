package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

func TestAPIToken(t *testing.T) {
	s, st, clk := newService(t)
	ctx := context.Background()
	ann := register(t, s, "ann@example.com")
	bob := register(t, s, "bob@example.com")

	exp := clk.Now().Add(time.Hour)
	tok, secret, err := s.CreateAPIToken(ctx, ann.User.ID, "  ci  ", &exp)
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	if !strings.HasPrefix(secret, auth.APITokenPrefix) || len(secret) != len(auth.APITokenPrefix)+43 {
		t.Fatalf("got token %q; want sker_ and 43 base64url characters", secret)
	}
	if tok.Name != "ci" || tok.TokenHash != auth.HashToken(secret) {
		t.Fatalf("got name %q hash %q; want ci and the token's hash", tok.Name, tok.TokenHash)
	}
	p, err := s.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.UserID != ann.User.ID || p.Method != auth.MethodAPIToken || p.TokenID != tok.ID {
		t.Fatalf("got principal %+v; want ann by api_token %s", p, tok.ID)
	}
	list, err := s.ListAPITokens(ctx, ann.User.ID)
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("ListAPITokens = %+v, %v; want the one token", list, err)
	}
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(clk.Now()) {
		t.Fatalf("got last used %v; want %v", list[0].LastUsedAt, clk.Now())
	}

	wantCode(t, s.DeleteAPIToken(ctx, bob.User.ID, tok.ID), apierr.CodeNotFound)
	if _, err := s.Authenticate(ctx, secret+"x"); err != auth.ErrInvalidToken {
		t.Fatalf("altered token: got %v; want ErrInvalidToken", err)
	}

	clk.Advance(time.Hour)
	if _, err := s.Authenticate(ctx, secret); err != auth.ErrInvalidToken {
		t.Fatalf("expired token: got %v; want ErrInvalidToken", err)
	}
	if err := s.DeleteAPIToken(ctx, ann.User.ID, tok.ID); err != nil {
		t.Fatalf("DeleteAPIToken: %v", err)
	}
	if ts, _ := st.ListAPITokens(ctx, ann.User.ID); len(ts) != 0 {
		t.Fatalf("after delete: got %d tokens; want 0", len(ts))
	}
}

func TestAPITokenNoExpiry(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	ann := register(t, s, "ann@example.com")
	_, secret, err := s.CreateAPIToken(ctx, ann.User.ID, "forever", nil)
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	clk.Advance(10 * 365 * 24 * time.Hour)
	if _, err := s.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate ten years on: %v", err)
	}
}

func TestCreateAPITokenRejects(t *testing.T) {
	s, _, clk := newService(t)
	ann := register(t, s, "ann@example.com")
	past := clk.Now().Add(-time.Second)
	tests := []struct {
		name, tokName string
		exp           *time.Time
		field         string
	}{
		{"empty name", "  ", nil, "name"},
		{"long name", strings.Repeat("n", 101), nil, "name"},
		{"past expiry", "ci", &past, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateAPIToken(context.Background(), ann.User.ID, tt.tokName, tt.exp)
			wantCode(t, err, apierr.CodeInvalidField, tt.field)
		})
	}
}
