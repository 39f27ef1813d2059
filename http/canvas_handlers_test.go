package skerhttp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvases"
)

// cast is the set of callers every canvas route is tried with.
type cast struct {
	owner, editor, viewer, stranger, extra sessionBody
}

func newCast(h *harness) cast {
	return cast{
		owner:    h.user("owner@example.com"),
		editor:   h.user("editor@example.com"),
		viewer:   h.user("viewer@example.com"),
		stranger: h.user("stranger@example.com"),
		extra:    h.user("extra@example.com"),
	}
}

// sharedCanvas makes a canvas of c.owner with c.editor and c.viewer.
func (h *harness) sharedCanvas(c cast) string {
	h.t.Helper()
	id := h.canvas(c.owner.AccessToken, "Shared").ID
	h.addMember(c.owner.AccessToken, id, "editor@example.com", "editor")
	h.addMember(c.owner.AccessToken, id, "viewer@example.com", "viewer")
	return id
}

// TestCanvasRoutesByRole tries every canvas and member route as every kind
// of caller, each on a fresh canvas.
func TestCanvasRoutesByRole(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	type route struct {
		name, method, path string // path: {id}, {editor}, {viewer} are filled in
		body               any
		want               map[string]int // by caller; 401 for the anonymous ones always
	}
	routes := []route{
		{"get canvas", "GET", "/api/v1/canvases/{id}", nil,
			map[string]int{"owner": 200, "editor": 200, "viewer": 200, "stranger": 404}},
		{"rename canvas", "PATCH", "/api/v1/canvases/{id}", map[string]string{"title": "Renamed"},
			map[string]int{"owner": 200, "editor": 200, "viewer": 403, "stranger": 404}},
		{"delete canvas", "DELETE", "/api/v1/canvases/{id}", nil,
			map[string]int{"owner": 204, "editor": 403, "viewer": 403, "stranger": 404}},
		{"submit ops", "POST", "/api/v1/canvases/{id}/ops", opsBody("", textNode("n1", 0, 0)),
			map[string]int{"owner": 200, "editor": 200, "viewer": 403, "stranger": 404}},
		{"history", "GET", "/api/v1/canvases/{id}/history", nil,
			map[string]int{"owner": 200, "editor": 200, "viewer": 200, "stranger": 404}},
		{"export", "GET", "/api/v1/canvases/{id}/export", nil,
			map[string]int{"owner": 200, "editor": 200, "viewer": 200, "stranger": 404}},
		{"list members", "GET", "/api/v1/canvases/{id}/members", nil,
			map[string]int{"owner": 200, "editor": 200, "viewer": 200, "stranger": 404}},
		{"add member", "POST", "/api/v1/canvases/{id}/members", map[string]string{"email": "extra@example.com", "role": "viewer"},
			map[string]int{"owner": 201, "editor": 403, "viewer": 403, "stranger": 404}},
		{"change role", "PATCH", "/api/v1/canvases/{id}/members/{viewer}", map[string]string{"role": "editor"},
			map[string]int{"owner": 200, "editor": 403, "viewer": 403, "stranger": 404}},
		{"remove viewer", "DELETE", "/api/v1/canvases/{id}/members/{viewer}", nil,
			map[string]int{"owner": 204, "editor": 403, "viewer": 204, "stranger": 404}},
		{"remove editor", "DELETE", "/api/v1/canvases/{id}/members/{editor}", nil,
			map[string]int{"owner": 204, "editor": 204, "viewer": 403, "stranger": 404}},
	}
	callers := map[string]string{
		"owner": c.owner.AccessToken, "editor": c.editor.AccessToken,
		"viewer": c.viewer.AccessToken, "stranger": c.stranger.AccessToken,
	}
	anonymous := map[string]struct{ token, code string }{
		"no token": {"", apierr.CodeUnauthorized},
		"expired":  {h.expiredToken(c.owner.User.ID), apierr.CodeTokenExpired},
		"tampered": {tamperedToken(t, c.stranger.AccessToken, c.owner.User.ID), apierr.CodeUnauthorized},
	}
	for _, rt := range routes {
		for who, want := range rt.want {
			t.Run(rt.name+"/"+who, func(t *testing.T) {
				id := h.sharedCanvas(c)
				r := h.do(request{method: rt.method, path: fill(rt.path, id, c), body: rt.body, token: callers[who]})
				switch {
				case want == 404:
					r.wantError(t, 404, apierr.CodeNotFound, "")
				case want == 403:
					r.wantError(t, 403, apierr.CodeForbidden, "")
				case r.status != want:
					t.Fatalf("got %d (%s); want %d", r.status, r.body, want)
				}
			})
		}
		for who, a := range anonymous {
			t.Run(rt.name+"/"+who, func(t *testing.T) {
				id := h.sharedCanvas(c)
				h.do(request{method: rt.method, path: fill(rt.path, id, c), body: rt.body, token: a.token}).
					wantError(t, 401, a.code, "")
			})
		}
	}
}

func fill(path, id string, c cast) string {
	return strings.NewReplacer("{id}", id, "{editor}", c.editor.User.ID, "{viewer}", c.viewer.User.ID).Replace(path)
}

func TestCanvasNotFound(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	for _, id := range []string{"not-a-uuid", "0190f8d2-0000-7000-8000-000000000000", "0190F8D2-0000-7000-8000-00000000000X"} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			h.do(request{method: method, path: "/api/v1/canvases/" + id, token: ann.AccessToken, body: map[string]string{"title": "x"}}).
				wantError(t, 404, apierr.CodeNotFound, "")
		}
		for _, sub := range []string{"members", "history", "export"} {
			h.get("/api/v1/canvases/"+id+"/"+sub, ann.AccessToken).wantError(t, 404, apierr.CodeNotFound, "")
		}
		h.post("/api/v1/canvases/"+id+"/ops", ann.AccessToken, opsBody("", textNode("n1", 0, 0))).
			wantError(t, 404, apierr.CodeNotFound, "")
	}
}

func TestCanvasLifecycle(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	var created canvasBody
	h.post("/api/v1/canvases", c.owner.AccessToken, map[string]any{"title": "  Plan  ", "settings": map[string]any{"grid": true}}).
		decode(t, http.StatusCreated, &created)
	if created.Title != "Plan" || created.Role != "owner" || created.CreatedBy != c.owner.User.ID || string(created.Settings) != `{"grid":true}` {
		t.Fatalf("created %+v; want Plan, owner, settings {\"grid\":true}", created)
	}
	h.addMember(c.owner.AccessToken, created.ID, "viewer@example.com", "viewer")

	var got canvasBody
	h.get("/api/v1/canvases/"+created.ID, c.viewer.AccessToken).decode(t, http.StatusOK, &got)
	if got.ID != created.ID || got.Title != "Plan" || got.Role != "viewer" {
		t.Fatalf("viewer got %+v; want Plan as viewer", got)
	}

	var patched canvasBody
	h.patch("/api/v1/canvases/"+created.ID, c.owner.AccessToken, map[string]any{"settings": map[string]int{"zoom": 2}}).
		decode(t, http.StatusOK, &patched)
	if patched.Title != "Plan" || string(patched.Settings) != `{"zoom":2}` {
		t.Fatalf("patched %+v; want title kept, settings replaced", patched)
	}
	h.get("/api/v1/canvases/"+created.ID, c.owner.AccessToken).decode(t, http.StatusOK, &got)
	if got.Title != "Plan" || string(got.Settings) != `{"zoom":2}` {
		t.Fatalf("after patch got %+v; want the change stored", got)
	}

	type list struct{ Canvases []canvasBody }
	var owners, viewers, strangers list
	h.get("/api/v1/canvases", c.owner.AccessToken).decode(t, http.StatusOK, &owners)
	h.get("/api/v1/canvases", c.viewer.AccessToken).decode(t, http.StatusOK, &viewers)
	h.get("/api/v1/canvases", c.stranger.AccessToken).decode(t, http.StatusOK, &strangers)
	if len(owners.Canvases) != 1 || owners.Canvases[0].Role != "owner" {
		t.Fatalf("owner's list %+v; want the canvas as owner", owners)
	}
	if len(viewers.Canvases) != 1 || viewers.Canvases[0].Role != "viewer" {
		t.Fatalf("viewer's list %+v; want the canvas as viewer", viewers)
	}
	if strangers.Canvases == nil || len(strangers.Canvases) != 0 {
		t.Fatalf("stranger's list %+v; want an empty array", strangers)
	}

	if r := h.del("/api/v1/canvases/"+created.ID, c.owner.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("delete: got %d (%s); want 204", r.status, r.body)
	}
	h.get("/api/v1/canvases/"+created.ID, c.owner.AccessToken).wantError(t, 404, apierr.CodeNotFound, "")
	h.get("/api/v1/canvases/"+created.ID, c.viewer.AccessToken).wantError(t, 404, apierr.CodeNotFound, "")
}

func TestCanvasValidation(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	big := map[string]string{"blob": strings.Repeat("x", 16<<10)}
	tests := []struct {
		name   string
		method string
		body   any
		code   string
		field  string
	}{
		{"create without title", "POST", map[string]any{}, apierr.CodeInvalidField, "title"},
		{"create blank title", "POST", map[string]any{"title": "   "}, apierr.CodeInvalidField, "title"},
		{"create long title", "POST", map[string]any{"title": strings.Repeat("é", 201)}, apierr.CodeInvalidField, "title"},
		{"create title not string", "POST", map[string]any{"title": 7}, apierr.CodeInvalidField, "title"},
		{"create settings array", "POST", map[string]any{"title": "x", "settings": []int{1}}, apierr.CodeInvalidField, "settings"},
		{"create settings null", "POST", `{"title":"x","settings":null}`, apierr.CodeInvalidField, "settings"},
		{"create settings too big", "POST", map[string]any{"title": "x", "settings": big}, apierr.CodeInvalidField, "settings"},
		{"patch nothing", "PATCH", map[string]any{}, apierr.CodeBadRequest, ""},
		{"patch blank title", "PATCH", map[string]any{"title": ""}, apierr.CodeInvalidField, "title"},
		{"patch settings string", "PATCH", map[string]any{"settings": "x"}, apierr.CodeInvalidField, "settings"},
		{"patch unknown field", "PATCH", map[string]any{"owner": "me"}, apierr.CodeBadRequest, "owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/canvases"
			if tt.method == "PATCH" {
				path += "/" + id
			}
			h.do(request{method: tt.method, path: path, token: ann.AccessToken, body: tt.body}).
				wantError(t, http.StatusBadRequest, tt.code, tt.field)
		})
	}
	// 200 characters, and settings just under the cap, are fine.
	h.post("/api/v1/canvases", ann.AccessToken, map[string]any{"title": strings.Repeat("é", 200)}).decode(t, http.StatusCreated, nil)
	fits := map[string]string{"blob": strings.Repeat("x", 16<<10-12)}
	h.patch("/api/v1/canvases/"+id, ann.AccessToken, map[string]any{"settings": fits}).decode(t, http.StatusOK, nil)
}

// TestUpdateCanvasThroughActor: PATCH is a canvas.update op, seen by the
// snapshot and the history at once and by the canvas list (read from the
// store) after the actor's checkpoint.
func TestUpdateCanvasThroughActor(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)
	h.submit(c.owner.AccessToken, id, textNode("a", 0, 0))

	var patched struct {
		canvasBody
		Seq uint64 `json:"seq"`
	}
	h.patch("/api/v1/canvases/"+id, c.editor.AccessToken, map[string]any{"title": " Renamed ", "settings": map[string]any{"grid": 8, "dark": true}}).
		decode(t, http.StatusOK, &patched)
	if patched.Title != "Renamed" || string(patched.Settings) != `{"dark":true,"grid":8}` || patched.Seq != 2 || patched.Role != "editor" {
		t.Fatalf("got %+v; want Renamed, {\"dark\":true,\"grid\":8}, seq 2, as editor", patched)
	}
	s := h.snapshot(c.viewer.AccessToken, id)
	if s.Title != "Renamed" || string(s.Settings) != `{"dark":true,"grid":8}` || s.Seq != 2 || len(s.Nodes) != 1 {
		t.Fatalf("got snapshot %q %s seq %d with %d nodes; want the change at seq 2 and the node kept", s.Title, s.Settings, s.Seq, len(s.Nodes))
	}
	var hist historyBody
	h.get("/api/v1/canvases/"+id+"/history?since=1", c.viewer.AccessToken).decode(t, http.StatusOK, &hist)
	if len(hist.Batches) != 1 || hist.Batches[0].Ops[0].Op != "canvas.update" || hist.Batches[0].Author != c.editor.User.ID {
		t.Fatalf("got history %+v; want one canvas.update by the editor", hist)
	}
	// The canvas list reads the store, which the actor's checkpoint updates.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var list struct{ Canvases []canvasBody }
		h.get("/api/v1/canvases", c.viewer.AccessToken).decode(t, http.StatusOK, &list)
		if len(list.Canvases) == 1 && list.Canvases[0].Title == "Renamed" && string(list.Canvases[0].Settings) == `{"dark":true,"grid":8}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canvas list after 5s: got %+v; want Renamed with {\"dark\":true,\"grid\":8}", list.Canvases)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Settings are replaced as a whole: dark goes.
	h.patch("/api/v1/canvases/"+id, c.owner.AccessToken, map[string]any{"settings": map[string]any{"grid": 16}}).
		decode(t, http.StatusOK, &patched)
	if s := h.snapshot(c.owner.AccessToken, id); string(s.Settings) != `{"grid":16}` || s.Title != "Renamed" || s.Seq != 3 {
		t.Fatalf("got %q %s seq %d; want Renamed {\"grid\":16} at seq 3", s.Title, s.Settings, s.Seq)
	}
	// Values that are already there commit nothing.
	for _, body := range []map[string]any{
		{"settings": map[string]any{"grid": 16}},
		{"title": "Renamed", "settings": map[string]any{"grid": 16, "gone": nil}},
	} {
		h.patch("/api/v1/canvases/"+id, c.owner.AccessToken, body).decode(t, http.StatusOK, &patched)
		if patched.Seq != 3 || patched.Title != "Renamed" || string(patched.Settings) != `{"grid":16}` {
			t.Fatalf("PATCH %v: got %+v; want Renamed {\"grid\":16} still at seq 3", body, patched)
		}
	}

	h.patch("/api/v1/canvases/"+id, c.viewer.AccessToken, map[string]any{"title": "Mine"}).wantError(t, 403, apierr.CodeForbidden, "")
	h.patch("/api/v1/canvases/"+id, c.owner.AccessToken, map[string]any{"settings": map[string]any{"": 1}}).
		wantError(t, 400, apierr.CodeInvalidField, "settings")
}

// TestDeleteCanvasForgets: DELETE removes the row, stops the actor and
// empties the canvas's journal subject.
func TestDeleteCanvasForgets(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)
	h.submit(c.editor.AccessToken, id, textNode("a", 0, 0), textNode("b", 0, 0))
	ctx := context.Background()
	if last, err := h.journal.Last(ctx, id); err != nil || last == 0 {
		t.Fatalf("before delete: journal last %d, %v; want records", last, err)
	}
	h.del("/api/v1/canvases/"+id, c.editor.AccessToken).wantError(t, 403, apierr.CodeForbidden, "")
	if r := h.del("/api/v1/canvases/"+id, c.owner.AccessToken); r.status != http.StatusNoContent {
		t.Fatalf("delete: got %d (%s); want 204", r.status, r.body)
	}
	for _, who := range []sessionBody{c.owner, c.editor, c.viewer} {
		h.get("/api/v1/canvases/"+id, who.AccessToken).wantError(t, 404, apierr.CodeNotFound, "")
		h.get("/api/v1/canvases/"+id+"/history", who.AccessToken).wantError(t, 404, apierr.CodeNotFound, "")
	}
	h.post("/api/v1/canvases/"+id+"/ops", c.owner.AccessToken, opsBody("", textNode("c", 0, 0))).
		wantError(t, 404, apierr.CodeNotFound, "")
	if last, err := h.journal.Last(ctx, id); err != nil || last != 0 {
		t.Fatalf("after delete: journal last %d, %v; want an empty subject", last, err)
	}
	// The hub cannot bring the canvas back either.
	if _, err := h.hub.Snapshot(ctx, id); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("hub snapshot after delete: got %v; want canvases.ErrNotFound", err)
	}
}
