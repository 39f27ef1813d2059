package skerhttp_test

import (
	"net/http"
	"testing"

	"github.com/skerhq/sker/apierr"
)

type memberBody struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

func TestMembers(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)
	base := "/api/v1/canvases/" + id + "/members"

	var list struct{ Members []memberBody }
	h.get(base, c.viewer.AccessToken).decode(t, http.StatusOK, &list)
	want := []memberBody{
		{c.owner.User.ID, "owner@example.com", "owner", "owner"},
		{c.editor.User.ID, "editor@example.com", "editor", "editor"},
		{c.viewer.User.ID, "viewer@example.com", "viewer", "viewer"},
	}
	if len(list.Members) != len(want) {
		t.Fatalf("got members %+v; want %+v", list.Members, want)
	}
	for i := range want {
		if list.Members[i] != want[i] {
			t.Fatalf("member %d: got %+v; want %+v", i, list.Members[i], want[i])
		}
	}

	var added memberBody
	h.post(base, c.owner.AccessToken, map[string]string{"email": " EXTRA@example.com", "role": "editor"}).
		decode(t, http.StatusCreated, &added)
	if added.UserID != c.extra.User.ID || added.Role != "editor" || added.Email != "extra@example.com" {
		t.Fatalf("added %+v; want extra as editor", added)
	}
	var changed memberBody
	h.patch(base+"/"+c.extra.User.ID, c.owner.AccessToken, map[string]string{"role": "viewer"}).
		decode(t, http.StatusOK, &changed)
	if changed.UserID != c.extra.User.ID || changed.Role != "viewer" {
		t.Fatalf("changed %+v; want extra as viewer", changed)
	}
	// The new role holds: a viewer cannot rename.
	h.patch("/api/v1/canvases/"+id, c.extra.AccessToken, map[string]string{"title": "x"}).
		wantError(t, http.StatusForbidden, apierr.CodeForbidden, "")
	if r := h.del(base+"/"+c.extra.User.ID, c.owner.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("remove: got %d (%s); want 204", r.status, r.body)
	}
	// Removed: the canvas no longer exists for them.
	h.get("/api/v1/canvases/"+id, c.extra.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
}

func TestMemberErrors(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)
	base := "/api/v1/canvases/" + id + "/members"
	owner := c.owner.AccessToken
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"add unknown email", "POST", base, map[string]string{"email": "nobody@example.com", "role": "viewer"}, 404, apierr.CodeUserNotFound, "email"},
		{"add existing member", "POST", base, map[string]string{"email": "viewer@example.com", "role": "editor"}, 409, apierr.CodeAlreadyMember, ""},
		{"add bad role", "POST", base, map[string]string{"email": "extra@example.com", "role": "admin"}, 400, apierr.CodeInvalidField, "role"},
		{"add bad email", "POST", base, map[string]string{"email": "extra", "role": "viewer"}, 400, apierr.CodeInvalidField, "email"},
		{"demote last owner", "PATCH", base + "/" + c.owner.User.ID, map[string]string{"role": "editor"}, 409, apierr.CodeLastOwner, ""},
		{"last owner leaves", "DELETE", base + "/" + c.owner.User.ID, nil, 409, apierr.CodeLastOwner, ""},
		{"change non-member", "PATCH", base + "/" + c.stranger.User.ID, map[string]string{"role": "editor"}, 404, apierr.CodeNotFound, ""},
		{"remove non-member", "DELETE", base + "/" + c.stranger.User.ID, nil, 404, apierr.CodeNotFound, ""},
		{"change malformed id", "PATCH", base + "/nope", map[string]string{"role": "editor"}, 404, apierr.CodeNotFound, ""},
		{"remove malformed id", "DELETE", base + "/nope", nil, 404, apierr.CodeNotFound, ""},
		{"change bad role", "PATCH", base + "/" + c.viewer.User.ID, map[string]string{"role": ""}, 400, apierr.CodeInvalidField, "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.do(request{method: tt.method, path: tt.path, body: tt.body, token: owner}).
				wantError(t, tt.status, tt.code, tt.field)
		})
	}
}

func TestOwnerHandsOver(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)
	base := "/api/v1/canvases/" + id + "/members/"
	h.patch(base+c.editor.User.ID, c.owner.AccessToken, map[string]string{"role": "owner"}).decode(t, http.StatusOK, nil)
	if r := h.del(base+c.owner.User.ID, c.owner.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("first owner leaves: got %d (%s); want 204", r.status, r.body)
	}
	h.get("/api/v1/canvases/"+id, c.owner.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	if r := h.del("/api/v1/canvases/"+id, c.editor.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("new owner deletes: got %d (%s); want 204", r.status, r.body)
	}
}
