package skerhttp_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestTokenOfUserWhoIsGone: a well-signed access token whose user is not in
// the store (removed, or a store restored from before the account) is 401
// on every route, never a 500 from a foreign key.
func TestTokenOfUserWhoIsGone(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	c := h.canvas(ann.AccessToken, "Ann's")
	ghost, _, err := h.auth.IssueAccess("0190a0a0-0000-7000-8000-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/me", nil},
		{"POST", "/api/v1/canvases", map[string]any{"title": "x"}},
		{"GET", "/api/v1/canvases", nil},
		{"POST", "/api/v1/tokens", map[string]any{"name": "x"}},
		{"GET", "/api/v1/tokens", nil},
		{"POST", "/api/v1/canvases/import", `{"version":1,"nodes":[],"edges":[]}`},
		{"GET", "/api/v1/canvases/" + c.ID, nil},
		{"POST", "/api/v1/canvases/" + c.ID + "/ops", map[string]any{"ops": []any{map[string]any{"op": "node.add", "id": "n1", "kind": "text"}}}},
		{"GET", "/api/v1/ai/usage", nil},
	}
	for _, r := range requests {
		t.Run(fmt.Sprintf("%s %s", r.method, r.path), func(t *testing.T) {
			h.do(request{method: r.method, path: r.path, token: ghost, body: r.body}).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		})
	}
}
