package skerhttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
)

// exportBody is an export as it travels.
type exportBody struct {
	Version  int                        `json:"version"`
	ID       string                     `json:"id"`
	Title    string                     `json:"title"`
	Settings map[string]json.RawMessage `json:"settings"`
	Seq      uint64                     `json:"seq"`
	Nodes    []canvas.Node              `json:"nodes"`
	Edges    []canvas.Edge              `json:"edges"`
}

type importedBody struct {
	canvasBody
	Seq uint64 `json:"seq"`
}

// shape is what an import must keep of a canvas's content: ids, kinds,
// geometry, endpoints and data, not authors or times.
func shape(t *testing.T, nodes []canvas.Node, edges []canvas.Edge) string {
	t.Helper()
	data := func(m map[string]json.RawMessage) string {
		if len(m) == 0 {
			return "{}" // absent and empty data are the same
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "node %s %s %g %g %g %g %d %s\n", n.ID, n.Kind, n.X, n.Y, n.W, n.H, n.Z, data(n.Data))
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "edge %s %s %s->%s %s\n", e.ID, e.Kind, e.Source, e.Target, data(e.Data))
	}
	return b.String()
}

func (h *harness) canvasCount(token string) int {
	h.t.Helper()
	var list struct{ Canvases []canvasBody }
	h.get("/api/v1/canvases", token).decode(h.t, http.StatusOK, &list)
	return len(list.Canvases)
}

func TestExportImportRoundTrip(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	var src canvasBody
	h.post("/api/v1/canvases", c.owner.AccessToken, map[string]any{"title": "Road map: Q3", "settings": map[string]any{"grid": 8}}).
		decode(t, http.StatusCreated, &src)
	h.addMember(c.owner.AccessToken, src.ID, "viewer@example.com", "viewer")
	note := op{"op": "node.add", "id": "note-1", "kind": "note", "x": -5.5, "y": 7, "w": 300, "h": 90, "z": 3,
		"data": map[string]any{"text": "ship it", "color": "#ffcc00", "tags": []string{"a", "b"}}}
	h.submit(c.owner.AccessToken, src.ID, textNode("a", 10, 20), note, textNode("b", 1, 2))
	h.submit(c.owner.AccessToken, src.ID, edgeOp("e1", "a", "note-1"),
		op{"op": "edge.add", "id": "e2", "source": "note-1", "target": "b", "data": map[string]any{"label": "then"}})

	r := h.get("/api/v1/canvases/"+src.ID+"/export", c.viewer.AccessToken)
	var ex exportBody
	r.decode(t, http.StatusOK, &ex)
	if got, want := r.header.Get("Content-Disposition"), `attachment; filename="Road map_ Q3.sker.json"`; got != want {
		t.Fatalf("got Content-Disposition %q; want %q", got, want)
	}
	if ex.Version != canvas.ExportVersion || ex.ID != src.ID || ex.Title != "Road map: Q3" || ex.Seq != 2 ||
		len(ex.Nodes) != 3 || len(ex.Edges) != 2 || string(ex.Settings["grid"]) != "8" {
		t.Fatalf("got export %+v; want version 1 of %s at seq 2 with 3 nodes, 2 edges, grid 8", ex, src.ID)
	}

	// Anyone signed in may import; the importer owns the copy.
	var imp importedBody
	h.post("/api/v1/canvases/import", c.stranger.AccessToken, ex).decode(t, http.StatusCreated, &imp)
	if imp.ID == src.ID || imp.ID == "" || imp.Role != "owner" || imp.CreatedBy != c.stranger.User.ID ||
		imp.Title != "Road map: Q3" || string(imp.Settings) != `{"grid":8}` || imp.Seq != 2 {
		t.Fatalf("got import %+v; want a new canvas of the stranger's, same title and settings, seq 2 (settings, content)", imp)
	}
	got := h.snapshot(c.stranger.AccessToken, imp.ID)
	if a, b := shape(t, got.Nodes, got.Edges), shape(t, ex.Nodes, ex.Edges); a != b {
		t.Fatalf("imported content:\n%s\nwant:\n%s", a, b)
	}
	if got.Seq != 2 || got.Title != ex.Title || string(got.Settings) != `{"grid":8}` || got.Nodes[0].Author != c.stranger.User.ID {
		t.Fatalf("got snapshot seq %d, title %q, settings %s, author %s; want 2, %q, {\"grid\":8}, the importer",
			got.Seq, got.Title, got.Settings, got.Nodes[0].Author, ex.Title)
	}
	// The source is untouched and the stranger still cannot see it.
	h.get("/api/v1/canvases/"+src.ID, c.stranger.AccessToken).wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")

	// ?title= overrides the export's title.
	h.post("/api/v1/canvases/import?title=%20Copy%20", c.owner.AccessToken, ex).decode(t, http.StatusCreated, &imp)
	if imp.Title != "Copy" {
		t.Fatalf("got title %q; want Copy", imp.Title)
	}
}

func TestImportEmptyCanvas(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	var imp importedBody
	h.post("/api/v1/canvases/import", ann.AccessToken, `{"version":1,"nodes":[],"edges":[]}`).decode(t, http.StatusCreated, &imp)
	if imp.Title != "Imported canvas" || imp.Seq != 0 || string(imp.Settings) != "{}" {
		t.Fatalf("got %+v; want an empty canvas titled Imported canvas at seq 0", imp)
	}
	if s := h.snapshot(ann.AccessToken, imp.ID); len(s.Nodes) != 0 || s.Seq != 0 {
		t.Fatalf("got snapshot seq %d with %d nodes; want an empty canvas", s.Seq, len(s.Nodes))
	}
}

// TestImportLarge needs more than one batch: by op count (500 a batch) and,
// with a small journal record cap, by bytes.
func TestImportLarge(t *testing.T) {
	h := newHubHarness(t, func(cfg *actors.Config) { cfg.MaxRecordBytes = 48 << 10 })
	ann := h.user("ann@example.com")
	ex := exportBody{Version: 1, Title: "Big"}
	for i := range 620 {
		ex.Nodes = append(ex.Nodes, canvas.Node{ID: fmt.Sprintf("n%03d", i), Kind: "text", X: float64(i), W: 100, H: 50,
			Data: map[string]json.RawMessage{"text": json.RawMessage(`"` + strings.Repeat("x", 200) + `"`)}})
	}
	for i := range 619 {
		ex.Edges = append(ex.Edges, canvas.Edge{ID: fmt.Sprintf("e%03d", i), Kind: "default",
			Source: ex.Nodes[i].ID, Target: ex.Nodes[i+1].ID})
	}
	var imp importedBody
	h.post("/api/v1/canvases/import", ann.AccessToken, ex).decode(t, http.StatusCreated, &imp)
	got := h.snapshot(ann.AccessToken, imp.ID)
	if a, b := shape(t, got.Nodes, got.Edges), shape(t, ex.Nodes, ex.Edges); a != b {
		t.Fatalf("imported content differs: got %d nodes, %d edges; want 620, 619", len(got.Nodes), len(got.Edges))
	}
	if got.Seq != imp.Seq || imp.Seq < 4 {
		t.Fatalf("got seq %d (response %d); want the same, at least 4 batches", got.Seq, imp.Seq)
	}
}

func TestImportRejected(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	h.canvas(ann.AccessToken, "Keep")
	node := `{"id":"a","kind":"text","x":0,"y":0,"w":100,"h":50,"z":0,"data":{}}`
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
		inMsg  string
	}{
		{"edge to a missing node", `{"version":1,"title":"X","nodes":[` + node + `],"edges":[{"id":"e","source":"a","target":"ghost","kind":"default","data":{}}]}`,
			400, apierr.CodeMissingNode, "", `edges[0] (id "e")`},
		{"duplicate node", `{"version":1,"nodes":[` + node + `,` + node + `]}`, 400, apierr.CodeDuplicateID, "", `nodes[1] (id "a")`},
		{"bad kind", `{"version":1,"nodes":[{"id":"a","kind":"hologram","x":0,"y":0,"w":1,"h":1,"z":0}]}`, 400, apierr.CodeKindNotAllowed, "", "nodes[0]"},
		{"bad settings", `{"version":1,"settings":{"":1},"nodes":[` + node + `]}`, 400, apierr.CodeInvalidOp, "", "settings"},
		{"wrong version", `{"version":2,"nodes":[]}`, 400, apierr.CodeInvalidField, "version", ""},
		{"no version", `{"nodes":[]}`, 400, apierr.CodeInvalidField, "version", ""},
		{"unknown field", `{"version":1,"layers":[]}`, 400, apierr.CodeBadRequest, "layers", ""},
		{"null node", `{"version":1,"nodes":[null]}`, 400, apierr.CodeInvalidField, "nodes", ""},
		{"long title", `{"version":1,"title":"` + strings.Repeat("t", 201) + `"}`, 400, apierr.CodeInvalidField, "title", ""},
		{"not JSON", `{"version":1,`, 400, apierr.CodeBadRequest, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := h.post("/api/v1/canvases/import", ann.AccessToken, tt.body).wantError(t, tt.status, tt.code, tt.field)
			if !strings.Contains(e.Error.Message, tt.inMsg) {
				t.Fatalf("got message %q; want it to contain %q", e.Error.Message, tt.inMsg)
			}
			if n := h.canvasCount(ann.AccessToken); n != 1 {
				t.Fatalf("got %d canvases after a rejected import; want 1", n)
			}
		})
	}
	h.post("/api/v1/canvases/import?title=", ann.AccessToken, `{"version":1}`).
		wantError(t, http.StatusBadRequest, apierr.CodeInvalidField, "title")
	// The discarded canvases left nothing in the journal either.
	if n := h.journalSubjects(); n != 0 {
		t.Fatalf("got %d journal subjects with records; want 0", n)
	}
	h.post("/api/v1/canvases/import", "", `{"version":1}`).wantError(t, http.StatusUnauthorized, apierr.CodeUnauthorized, "")
}

func TestExportFileName(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	tests := []struct{ title, want string }{
		{"Plan", `attachment; filename="Plan.sker.json"`},
		{`a/b\c"d`, `attachment; filename="a_b_c_d.sker.json"`},
		{"../../etc/passwd", `attachment; filename="etc_passwd.sker.json"`},
		{"Café plan", `attachment; filename="Caf_ plan.sker.json"; filename*=UTF-8''Caf%C3%A9%20plan.sker.json`},
		{"***", `attachment; filename="canvas.sker.json"`},
	}
	for _, tt := range tests {
		id := h.canvas(ann.AccessToken, tt.title).ID
		r := h.get("/api/v1/canvases/"+id+"/export", ann.AccessToken)
		if got := r.header.Get("Content-Disposition"); r.status != http.StatusOK || got != tt.want {
			t.Fatalf("title %q: got %d %q; want 200 %q", tt.title, r.status, got, tt.want)
		}
	}
}
