package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

// sign makes a token with the given method, key and claims.
func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// withSub replaces the sub claim of tok without re-signing it.
func withSub(t *testing.T, tok, sub string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("unmarshal payload: %v", err)
	}
	claims["sub"] = sub
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestAccessToken(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	uid := register(t, s, "ann@example.com").User.ID
	tok, exp, err := s.IssueAccess(uid)
	if err != nil {
		t.Fatalf("IssueAccess: %v", err)
	}
	if want := clk.Now().Add(auth.DefaultAccessTTL); !exp.Equal(want) {
		t.Fatalf("got expiry %v; want %v", exp, want)
	}
	p, err := s.Authenticate(ctx, tok)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.UserID != uid || p.Method != auth.MethodJWT || p.TokenID == "" {
		t.Fatalf("got principal %+v; want %s by jwt with a jti", p, uid)
	}

	now := clk.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": uid, "iss": auth.Issuer, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	tests := []struct {
		name string
		tok  string
		code string
	}{
		{"tampered subject", withSub(t, tok, "user-2"), apierr.CodeUnauthorized},
		{"other secret", sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long..."), valid()), apierr.CodeUnauthorized},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), apierr.CodeUnauthorized},
		{"alg HS512, right secret", sign(t, jwt.SigningMethodHS512, testSecret, valid()), apierr.CodeUnauthorized},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			c["iss"] = "someone"
			return c
		}()), apierr.CodeUnauthorized},
		{"no exp", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			delete(c, "exp")
			return c
		}()), apierr.CodeUnauthorized},
		{"no sub", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			delete(c, "sub")
			return c
		}()), apierr.CodeUnauthorized},
		{"no iat", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			delete(c, "iat")
			return c
		}()), apierr.CodeUnauthorized},
		{"user that does not exist", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			c["sub"] = "0190a0a0-0000-7000-8000-000000000000"
			return c
		}()), apierr.CodeUnauthorized},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := valid()
			c["exp"] = now.Add(-time.Minute).Unix()
			return c
		}()), apierr.CodeTokenExpired},
		{"expired, other secret", sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long..."), func() jwt.MapClaims {
			c := valid()
			c["exp"] = now.Add(-time.Minute).Unix()
			return c
		}()), apierr.CodeUnauthorized},
		{"garbage", "not.a.token", apierr.CodeUnauthorized},
		{"empty", "", apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, tt.tok)
			wantCode(t, err, tt.code)
		})
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		code    string // "" means accepted
	}{
		{"fresh", 0, ""},
		{"within leeway", auth.DefaultAccessTTL + 3*time.Second, ""},
		{"past leeway", auth.DefaultAccessTTL + auth.Leeway + time.Second, apierr.CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, clk := newService(t)
			tok, _, err := s.IssueAccess(register(t, s, "ann@example.com").User.ID)
			if err != nil {
				t.Fatalf("IssueAccess: %v", err)
			}
			clk.Advance(tt.advance)
			_, err = s.Authenticate(context.Background(), tok)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v; want success", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}
