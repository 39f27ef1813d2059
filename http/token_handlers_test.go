package skerhttp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
)

type tokenBody struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  *string `json:"expires_at"`
	LastUsedAt *string `json:"last_used_at"`
	Token      string  `json:"token"`
}

func TestAPITokens(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	bob := h.user("bob@example.com")

	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var created tokenBody
	h.post("/api/v1/tokens", ann.AccessToken, map[string]string{"name": "ci", "expires_at": exp}).
		decode(t, http.StatusCreated, &created)
	if !strings.HasPrefix(created.Token, "sker_") || created.Name != "ci" || created.ExpiresAt == nil {
		t.Fatalf("created %+v; want a sker_ token named ci with an expiry", created)
	}

	// The token works as a bearer credential.
	var me struct{ ID string }
	h.get("/api/v1/me", created.Token).decode(t, http.StatusOK, &me)
	if me.ID != ann.User.ID {
		t.Fatalf("me with api token: got %s; want %s", me.ID, ann.User.ID)
	}
	h.get("/api/v1/canvases", created.Token).decode(t, http.StatusOK, nil)

	r := h.get("/api/v1/tokens", ann.AccessToken)
	var list struct{ Tokens []tokenBody }
	r.decode(t, http.StatusOK, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].ID != created.ID || list.Tokens[0].Token != "" || list.Tokens[0].LastUsedAt == nil {
		t.Fatalf("list %+v; want the token, used, without its secret", list)
	}
	if strings.Contains(string(r.body), created.Token[5:]) || strings.Contains(string(r.body), "hash") {
		t.Fatalf("list leaks the secret or its hash: %s", r.body)
	}
	h.get("/api/v1/tokens", bob.AccessToken).decode(t, http.StatusOK, &list)
	if len(list.Tokens) != 0 {
		t.Fatalf("bob's list %+v; want empty", list)
	}

	// An API token cannot manage API tokens.
	h.get("/api/v1/tokens", created.Token).wantError(t, http.StatusForbidden, apierr.CodeForbidden, "")
	h.post("/api/v1/tokens", created.Token, map[string]string{"name": "more"}).wantError(t, http.StatusForbidden, apierr.CodeForbidden, "")

	h.del("/api/v1/tokens/"+created.ID, bob.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	h.del("/api/v1/tokens/nope", ann.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	if r := h.del("/api/v1/tokens/"+created.ID, ann.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("delete: got %d (%s); want 204", r.status, r.body)
	}
	h.get("/api/v1/me", created.Token).wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
	h.del("/api/v1/tokens/"+created.ID, ann.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
}

func TestAPITokenErrors(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	tests := []struct {
		name        string
		body        any
		code, field string
	}{
		{"no name", map[string]string{}, apierr.CodeInvalidField, "name"},
		{"bad expiry", map[string]string{"name": "ci", "expires_at": "tomorrow"}, apierr.CodeInvalidField, "expires_at"},
		{"past expiry", map[string]string{"name": "ci", "expires_at": "2001-01-01T00:00:00Z"}, apierr.CodeInvalidField, "expires_at"},
		{"expiry not a string", map[string]any{"name": "ci", "expires_at": 5}, apierr.CodeInvalidField, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.post("/api/v1/tokens", ann.AccessToken, tt.body).wantError(t, http.StatusBadRequest, tt.code, tt.field)
		})
	}
	for _, r := range []request{
		{method: "GET", path: "/api/v1/tokens"},
		{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "ci"}},
		{method: "DELETE", path: "/api/v1/tokens/0190f8d2-0000-7000-8000-000000000000"},
	} {
		h.do(r).wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
		r.token = h.expiredToken(ann.User.ID)
		h.do(r).wantError(t, http.StatusUnauthorized, apierr.CodeTokenExpired, "")
	}
}
