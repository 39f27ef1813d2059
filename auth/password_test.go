package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"golang.org/x/crypto/bcrypt"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"7 bytes", strings.Repeat("a", 7), false},
		{"8 bytes", strings.Repeat("a", 8), true},
		{"256 bytes", strings.Repeat("a", 256), true},
		{"257 bytes", strings.Repeat("a", 257), false},
		{"4 runes of 2 bytes", "éééé", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.ValidatePassword(tt.pw)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ValidatePassword ok = %v (%v); want %v", got, err, tt.ok)
			}
			if err != nil {
				wantCode(t, err, apierr.CodeInvalidField, "password")
			}
		})
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Ann@Example.COM ", "ann@example.com", true},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org", true},
		{"", "", false},
		{"ann", "", false},
		{"ann@", "", false},
		{"Ann <ann@example.com>", "", false},
		{"<ann@example.com>", "", false},
		{strings.Repeat("a", 250) + "@example.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ValidateEmail(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateEmail(%q) error = %v; want ok %v", tt.in, err, tt.ok)
			}
			if err != nil {
				wantCode(t, err, apierr.CodeInvalidField, "email")
				return
			}
			if got != tt.want {
				t.Fatalf("ValidateEmail(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in, email, want string
		ok                    bool
	}{
		{"trimmed", "  Ann Lee ", "ann@example.com", "Ann Lee", true},
		{"default is local part", " ", "ann.lee@example.com", "ann.lee", true},
		{"100 runes", strings.Repeat("é", 100), "a@b.c", strings.Repeat("é", 100), true},
		{"101 runes", strings.Repeat("é", 101), "a@b.c", "", false},
		{"invalid utf-8", "a\xffb", "a@b.c", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ValidateName(tt.in, tt.email)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateName(%q) error = %v; want ok %v", tt.in, err, tt.ok)
			}
			if err == nil && got != tt.want {
				t.Fatalf("ValidateName(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRegisterHashesPassword(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	ses, err := s.Register(ctx, " Ann@Example.com", "correct horse battery", "")
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if ses.User.Email != "ann@example.com" || ses.User.Name != "ann" {
		t.Fatalf("got user %q %q; want ann@example.com ann", ses.User.Email, ses.User.Name)
	}
	u, err := st.UserByID(ctx, ses.User.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if strings.Contains(u.PasswordHash, "correct horse") {
		t.Fatalf("stored hash %q contains the password", u.PasswordHash)
	}
	cost, err := bcrypt.Cost([]byte(u.PasswordHash))
	if err != nil || cost != bcrypt.MinCost {
		t.Fatalf("got bcrypt cost %d (%v); want %d", cost, err, bcrypt.MinCost)
	}
}

func TestRegisterRejects(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	register(t, s, "ann@example.com")
	tests := []struct {
		name, email, pw, userName string
		code, field               string
	}{
		{"taken, other case", "ANN@example.com", "long enough", "", apierr.CodeEmailTaken, "email"},
		{"bad email", "ann", "long enough", "", apierr.CodeInvalidField, "email"},
		{"short password", "bob@example.com", "short", "", apierr.CodeInvalidField, "password"},
		{"long name", "bob@example.com", "long enough", strings.Repeat("x", 101), apierr.CodeInvalidField, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Register(ctx, tt.email, tt.pw, tt.userName)
			wantCode(t, err, tt.code, tt.field)
		})
	}
}

func TestLogin(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	long := strings.Repeat("p", 100)
	if _, err := s.Register(ctx, "ann@example.com", long+"1", "Ann"); err != nil {
		t.Fatalf("Register: %v", err)
	}
	tests := []struct {
		name, email, pw string
		ok              bool
	}{
		{"right", " ANN@example.com ", long + "1", true},
		// Differs only after byte 72, where bare bcrypt stops reading.
		{"differs after byte 72", "ann@example.com", long + "2", false},
		{"wrong", "ann@example.com", "nope nope", false},
		{"unknown email", "bob@example.com", long + "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses, err := s.Login(ctx, tt.email, tt.pw, "192.0.2.1")
			if !tt.ok {
				wantCode(t, err, apierr.CodeUnauthorized)
				return
			}
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if ses.User.Email != "ann@example.com" || ses.AccessToken == "" || ses.RefreshToken == "" {
				t.Fatalf("got session %+v; want ann's with tokens", ses)
			}
		})
	}
}
