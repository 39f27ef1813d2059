package skerhttp_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
)

func TestRegister(t *testing.T) {
	h := newHarness(t)
	var s sessionBody
	h.post("/api/v1/auth/register", "", map[string]string{"email": " Ann@Example.com ", "password": "correct horse battery", "name": "Ann"}).
		decode(t, http.StatusCreated, &s)
	if s.User.Email != "ann@example.com" || s.User.Name != "Ann" || s.User.ID == "" {
		t.Fatalf("got user %+v; want ann@example.com, Ann, an id", s.User)
	}
	if s.TokenType != "Bearer" || s.ExpiresIn != 900 || s.AccessToken == "" || s.RefreshToken == "" {
		t.Fatalf("got session %+v; want Bearer tokens expiring in 900s", s)
	}

	tests := []struct {
		name  string
		body  any
		code  int
		ecode string
		field string
	}{
		{"taken", map[string]string{"email": "ANN@example.com", "password": "long enough"}, 409, apierr.CodeEmailTaken, "email"},
		{"bad email", map[string]string{"email": "ann", "password": "long enough"}, 400, apierr.CodeInvalidField, "email"},
		{"short password", map[string]string{"email": "bob@example.com", "password": "short"}, 400, apierr.CodeInvalidField, "password"},
		{"wrong type", `{"email": 42, "password": "long enough"}`, 400, apierr.CodeInvalidField, "email"},
		{"unknown field", `{"email": "bob@example.com", "password": "long enough", "admin": true}`, 400, apierr.CodeBadRequest, "admin"},
		{"malformed", `{"email": `, 400, apierr.CodeBadRequest, ""},
		{"not an object", `["bob@example.com"]`, 400, apierr.CodeBadRequest, ""},
		{"two values", `{"email": "bob@example.com", "password": "long enough"} {}`, 400, apierr.CodeBadRequest, ""},
		{"empty", ``, 400, apierr.CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.post("/api/v1/auth/register", "", tt.body).wantError(t, tt.code, tt.ecode, tt.field)
		})
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	h := newHarness(t)
	r := h.do(request{method: "POST", path: "/api/v1/auth/login", body: `email=a&password=b`,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	r.wantError(t, http.StatusUnsupportedMediaType, apierr.CodeUnsupportedMedia, "")
	// A charset parameter is fine.
	r = h.do(request{method: "POST", path: "/api/v1/auth/login", body: `{"email":"a@b.c","password":"whatever1"}`,
		header: map[string]string{"Content-Type": "application/json; charset=utf-8"}})
	r.wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	h.user("ann@example.com")
	var s sessionBody
	h.post("/api/v1/auth/login", "", map[string]string{"email": "ann@example.com", "password": "correct horse battery"}).
		decode(t, http.StatusOK, &s)
	if s.User.Email != "ann@example.com" || s.AccessToken == "" || s.RefreshToken == "" {
		t.Fatalf("got session %+v; want ann's tokens", s)
	}
	h.get("/api/v1/me", s.AccessToken).decode(t, http.StatusOK, nil)

	tests := []struct {
		name  string
		body  map[string]string
		code  int
		ecode string
		field string
	}{
		{"wrong password", map[string]string{"email": "ann@example.com", "password": "wrong password"}, 401, apierr.CodeUnauthorized, ""},
		{"unknown email", map[string]string{"email": "bob@example.com", "password": "wrong password"}, 401, apierr.CodeUnauthorized, ""},
		{"no email", map[string]string{"password": "wrong password"}, 400, apierr.CodeInvalidField, "email"},
		{"no password", map[string]string{"email": "ann@example.com"}, 400, apierr.CodeInvalidField, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post("/api/v1/auth/login", "", tt.body)
			r.wantError(t, tt.code, tt.ecode, tt.field)
			if tt.code == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	h := newHarness(t)
	h.user("ann@example.com")
	wrong := map[string]string{"email": "ann@example.com", "password": "wrong password"}
	for i := range 5 {
		r := h.post("/api/v1/auth/login", "", wrong)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d; want 401", i+1, r.status)
		}
	}
	r := h.post("/api/v1/auth/login", "", map[string]string{"email": "ann@example.com", "password": "correct horse battery"})
	r.wantError(t, http.StatusTooManyRequests, apierr.CodeRateLimited, "")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 900 {
		t.Fatalf("got Retry-After %q; want 1..900 seconds", r.header.Get("Retry-After"))
	}
}

func TestRefreshAndLogout(t *testing.T) {
	h := newHarness(t)
	first := h.user("ann@example.com")

	var second sessionBody
	h.post("/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).decode(t, http.StatusOK, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.User.ID != first.User.ID {
		t.Fatalf("got %+v; want a rotated session for %s", second, first.User.ID)
	}
	// Reusing the rotated token is theft: 401, and the newer token dies too.
	h.post("/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}).
		wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
	h.post("/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}).
		wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")

	var third sessionBody
	h.post("/api/v1/auth/login", "", map[string]string{"email": "ann@example.com", "password": "correct horse battery"}).
		decode(t, http.StatusOK, &third)
	r := h.post("/api/v1/auth/logout", "", map[string]string{"refresh_token": third.RefreshToken})
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("logout: got %d %q; want 204 and no body", r.status, r.body)
	}
	h.post("/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}).
		wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")

	for _, path := range []string{"/api/v1/auth/refresh", "/api/v1/auth/logout"} {
		h.post(path, "", map[string]string{}).wantError(t, http.StatusBadRequest, apierr.CodeInvalidField, "refresh_token")
	}
}

func TestMe(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	var me struct {
		ID, Email, Name string
		CreatedAt       string `json:"created_at"`
	}
	h.get("/api/v1/me", ann.AccessToken).decode(t, http.StatusOK, &me)
	if me.ID != ann.User.ID || me.Email != "ann@example.com" || me.Name != "ann" || me.CreatedAt == "" {
		t.Fatalf("got %+v; want ann", me)
	}
	if r := h.get("/api/v1/me", ann.AccessToken); strings.Contains(strings.ToLower(string(r.body)), "password") {
		t.Fatalf("me leaks a password field: %s", r.body)
	}
}

// TestUnauthenticated covers the three 401 classes on a protected route.
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	bob := h.user("bob@example.com")
	tests := []struct {
		name, auth, code string
	}{
		{"no header", "", apierr.CodeUnauthorized},
		{"not bearer", "Basic YW5uOnB3", apierr.CodeUnauthorized},
		{"bearer without token", "Bearer ", apierr.CodeUnauthorized},
		{"expired", "Bearer " + h.expiredToken(ann.User.ID), apierr.CodeTokenExpired},
		{"tampered", "Bearer " + tamperedToken(t, ann.AccessToken, bob.User.ID), apierr.CodeUnauthorized},
		{"unknown api token", "Bearer sker_nope", apierr.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(request{method: "GET", path: "/api/v1/me", header: map[string]string{"Authorization": tt.auth}})
			r.wantError(t, http.StatusUnauthorized, tt.code, "")
		})
	}
}
