package skerhttp_test

import (
	"net/http"
	"testing"

	"github.com/skerhq/sker/apierr"
)

// TestImportTakesNodeAddDefaults: a node an import file gives without
// geometry gets exactly what a node.add without it gets, and a geometry
// value node.add refuses is refused by import too.
func TestImportTakesNodeAddDefaults(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	byOp := h.canvas(ann.AccessToken, "By op")
	h.post("/api/v1/canvases/"+byOp.ID+"/ops", ann.AccessToken,
		`{"ops":[{"op":"node.add","id":"a","kind":"note"},{"op":"node.add","id":"b","kind":"text","x":5,"w":90}]}`).
		decode(t, http.StatusOK, &struct{}{})
	var imp importedBody
	h.post("/api/v1/canvases/import", ann.AccessToken,
		`{"version":1,"nodes":[{"id":"a","kind":"note"},{"id":"b","kind":"text","x":5,"w":90}]}`).
		decode(t, http.StatusCreated, &imp)

	want, got := h.snapshot(ann.AccessToken, byOp.ID).Nodes, h.snapshot(ann.AccessToken, imp.ID).Nodes
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("got %d imported and %d added nodes; want 2 and 2", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.ID != w.ID || g.X != w.X || g.Y != w.Y || g.W != w.W || g.H != w.H || g.Z != w.Z {
			t.Errorf("imported node %s: got x %v y %v w %v h %v z %v; want %v %v %v %v %v as node.add gives",
				g.ID, g.X, g.Y, g.W, g.H, g.Z, w.X, w.Y, w.W, w.H, w.Z)
		}
	}

	opErr := h.post("/api/v1/canvases/"+byOp.ID+"/ops", ann.AccessToken,
		`{"ops":[{"op":"node.add","id":"c","kind":"note","w":0}]}`).wantError(t, http.StatusBadRequest, apierr.CodeInvalidNumber, "")
	impErr := h.post("/api/v1/canvases/import", ann.AccessToken,
		`{"version":1,"nodes":[{"id":"c","kind":"note","w":0}]}`).wantError(t, http.StatusBadRequest, apierr.CodeInvalidNumber, "")
	if opErr.Error.Code != impErr.Error.Code {
		t.Errorf("w=0: node.add gives %s, import %s; want the same", opErr.Error.Code, impErr.Error.Code)
	}
}
