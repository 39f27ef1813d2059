package skerhttp_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/skerhq/sker/versions"
)

// versionHarness is a server with the history routes on a store of kind
// (sqlite or postgres).
func versionHarness(t *testing.T, kind string) *storeNode {
	t.Helper()
	h := newStoreNode(t, kind)
	svc, err := versions.New(versions.Config{Store: h.st, Journal: h.journal, Canvases: h.hub})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.ServeVersions(svc)
	return h
}

// TestVersionRoutes: the timeline, any seq (0 included), the diff, naming
// and restoring, with their permissions and refusals, on both stores.
func TestVersionRoutes(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { testVersionRoutes(t, kind) })
	}
}

func testVersionRoutes(t *testing.T, kind string) {
	h := versionHarness(t, kind)
	owner := h.user("owner@example.com").AccessToken
	viewer := h.user("viewer@example.com").AccessToken
	stranger := h.user("stranger@example.com").AccessToken
	c := h.canvas(owner, "Plan")
	h.addMember(owner, c.ID, "viewer@example.com", "viewer")
	base := "/api/v1/canvases/" + c.ID
	for i := range 3 {
		ops := []map[string]any{{"op": "node.add", "id": fmt.Sprintf("n%d", i), "kind": "note"}}
		h.post(base+"/ops", owner, map[string]any{"ops": ops}).decode(t, http.StatusOK, nil)
	}
	var named struct{ Seq uint64 }
	h.post(base+"/versions", owner, map[string]string{"name": "three cards"}).decode(t, http.StatusCreated, &named)
	if named.Seq != 3 {
		t.Fatalf("named version: got seq %d; want 3", named.Seq)
	}
	h.post(base+"/ops", owner, map[string]any{"ops": []map[string]any{{"op": "node.delete", "id": "n0"}}}).decode(t, http.StatusOK, nil)

	var tl struct {
		Versions []struct {
			Seq  uint64
			Kind string
			Name string
		}
	}
	h.get(base+"/versions", viewer).decode(t, http.StatusOK, &tl)
	if len(tl.Versions) != 2 || tl.Versions[0].Seq != 0 || tl.Versions[0].Kind != "auto" ||
		tl.Versions[1].Name != "three cards" || tl.Versions[1].Kind != "named" {
		t.Errorf("timeline: got %+v; want the canvas as created, then the named version", tl.Versions)
	}
	var at struct {
		Seq   uint64
		Nodes []struct{ ID string }
	}
	h.get(base+"/versions/2", viewer).decode(t, http.StatusOK, &at)
	if at.Seq != 2 || len(at.Nodes) != 2 {
		t.Errorf("versions/2: got seq %d with %d nodes; want 2 with 2", at.Seq, len(at.Nodes))
	}
	var d versions.Diff
	h.get(base+"/versions/diff?from=3&to=4", viewer).decode(t, http.StatusOK, &d)
	if fmt.Sprint(d.NodesRemoved) != "[n0]" {
		t.Errorf("diff 3..4: got removed %v; want [n0]", d.NodesRemoved)
	}
	// Seq 0 is the canvas as created, before any change.
	var created struct {
		Seq   *uint64
		Title string
		Nodes []struct{ ID string }
		Edges []struct{ ID string }
	}
	h.get(base+"/versions/0", viewer).decode(t, http.StatusOK, &created)
	if created.Seq == nil || *created.Seq != 0 || created.Title != "Plan" || len(created.Nodes) != 0 || len(created.Edges) != 0 {
		t.Errorf("versions/0: got seq %v, title %q, %d nodes, %d edges; want 0, \"Plan\", none, none",
			created.Seq, created.Title, len(created.Nodes), len(created.Edges))
	}
	var fromZero versions.Diff
	h.get(base+"/versions/diff?from=0&to=3", viewer).decode(t, http.StatusOK, &fromZero)
	if fmt.Sprint(fromZero.NodesAdded) != "[n0 n1 n2]" || len(fromZero.NodesRemoved) != 0 {
		t.Errorf("diff 0..3: got added %v, removed %v; want [n0 n1 n2], none", fromZero.NodesAdded, fromZero.NodesRemoved)
	}
	h.get(base+"/versions/99", viewer).wantError(t, http.StatusBadRequest, "invalid_field", "seq")
	h.get(base+"/versions/x", viewer).wantError(t, http.StatusBadRequest, "invalid_field", "seq")
	h.get(base+"/versions/diff?from=0&to=99", viewer).wantError(t, http.StatusBadRequest, "invalid_field", "to")
	h.get(base+"/versions/diff?from=99&to=1", viewer).wantError(t, http.StatusBadRequest, "invalid_field", "from")
	h.get(base+"/versions", stranger).wantError(t, http.StatusNotFound, "not_found", "")
	h.get(base+"/versions/1", stranger).wantError(t, http.StatusNotFound, "not_found", "")
	h.post(base+"/restore", stranger, map[string]any{"seq": 3}).wantError(t, http.StatusNotFound, "not_found", "")
	h.post(base+"/restore", viewer, map[string]any{"seq": 3}).wantError(t, http.StatusForbidden, "forbidden", "")
	h.post(base+"/versions", viewer, map[string]string{"name": "x"}).wantError(t, http.StatusForbidden, "forbidden", "")
	h.post(base+"/versions", owner, map[string]string{"name": " "}).wantError(t, http.StatusBadRequest, "invalid_field", "name")
	h.post(base+"/restore", owner, map[string]any{}).wantError(t, http.StatusBadRequest, "invalid_field", "seq")

	var restored struct{ Seq uint64 }
	h.post(base+"/restore", owner, map[string]any{"seq": 3}).decode(t, http.StatusOK, &restored)
	if restored.Seq != 5 {
		t.Fatalf("restore: got seq %d; want 5", restored.Seq)
	}
	h.get(base+"/versions/5", viewer).decode(t, http.StatusOK, &at)
	if len(at.Nodes) != 3 {
		t.Errorf("after restore: got %d nodes; want 3", len(at.Nodes))
	}

	// Renamed later, the canvas still shows its first title at the seqs
	// before the rename: the canvas as created is kept.
	h.patch(base, owner, map[string]string{"title": "Renamed"}).decode(t, http.StatusOK, nil)
	for _, seq := range []string{"0", "2"} {
		h.get(base+"/versions/"+seq, viewer).decode(t, http.StatusOK, &created)
		if created.Title != "Plan" {
			t.Errorf("versions/%s after the rename: title %q; want \"Plan\"", seq, created.Title)
		}
	}
	h.get(base+"/versions/6", viewer).decode(t, http.StatusOK, &created)
	if created.Title != "Renamed" {
		t.Errorf("versions/6, the rename: title %q; want \"Renamed\"", created.Title)
	}
}
