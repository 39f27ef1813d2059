package skerhttp_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
)

// zipOf builds a zip of the entries, in order.
func zipOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e[0])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (h *fileHarness) importZip(token string, body []byte) response {
	h.t.Helper()
	return h.send(http.MethodPost, "/api/v1/canvases/import", token, bytes.NewReader(body), "application/zip", nil)
}

// TestExportBundleRoundTrip: ?files=1 gives a zip of the export and of
// the files the cards refer to that the canvas holds, and importing it
// gives another user a canvas holding those files, sniffed again, with the
// cards pointing at them.
func TestExportBundleRoundTrip(t *testing.T) {
	h := newFileHarness(t)
	img, txt := pngOf(t, 12, 8), []byte("notes for the file card")
	var fi, ft fileJSON
	h.upload(h.cv.ID, h.owner.AccessToken, img, "shot.png").decode(t, http.StatusCreated, &fi)
	h.upload(h.cv.ID, h.owner.AccessToken, txt, "notes.txt").decode(t, http.StatusCreated, &ft)
	absent := sha([]byte("a file this canvas never held"))
	h.submit(h.owner.AccessToken, h.cv.ID,
		op{"op": "node.add", "id": "img", "kind": "image", "data": map[string]any{"file": fi.ID, "name": "shot.png"}},
		op{"op": "node.add", "id": "doc", "kind": "file", "data": map[string]any{"file": ft.ID, "name": "notes.txt"}},
		op{"op": "node.add", "id": "gone", "kind": "file", "data": map[string]any{"file": absent, "name": "gone.pdf"}})

	r := h.get("/api/v1/canvases/"+h.cv.ID+"/export?files=1", h.owner.AccessToken)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export ?files=1: got %d %q (%.200s); want 200 application/zip", r.status, r.header.Get("Content-Type"), r.body)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatalf("the bundle is not a zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{"canvas.sker.json", "files/" + fi.ID, "files/" + ft.ID}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("bundle entries: got %v; want %v (not the file the canvas does not hold)", names, want)
	}

	bob := h.user("bob@example.com")
	var imported importedBody
	h.importZip(bob.AccessToken, r.body).decode(t, http.StatusCreated, &imported)
	var list struct{ Files []fileJSON }
	h.get("/api/v1/canvases/"+imported.ID+"/files", bob.AccessToken).decode(t, http.StatusOK, &list)
	got := map[string]fileJSON{}
	for _, f := range list.Files {
		got[f.ID] = f
	}
	if g := got[fi.ID]; len(list.Files) != 2 || g.Type != "image/png" || g.Width != 12 || g.Name != "shot.png" || got[ft.ID].Size != int64(len(txt)) {
		t.Fatalf("files of the imported canvas: got %+v; want the PNG (12×8, shot.png) and the text file", list.Files)
	}
	if b := h.fileGet(imported.ID, fi.ID, bob.AccessToken, nil); b.status != http.StatusOK || !bytes.Equal(b.body, img) {
		t.Fatalf("GET of the imported image: got %d with %d bytes; want 200 with the %d uploaded", b.status, len(b.body), len(img))
	}
	if b := h.fileGet(imported.ID, absent, bob.AccessToken, nil); b.status != http.StatusNotFound {
		t.Fatalf("GET of the file the source never held: got %d; want 404", b.status)
	}
	var ex exportBody
	h.get("/api/v1/canvases/"+imported.ID+"/export", bob.AccessToken).decode(t, http.StatusOK, &ex)
	for _, n := range ex.Nodes {
		if n.ID == "img" && string(n.Data["file"]) != `"`+fi.ID+`"` {
			t.Fatalf("imported image card: data %s; want file %s", n.Data["file"], fi.ID)
		}
	}
}

// TestImportBundleRefused: a bundle with a name that is not one of its
// two forms, content that is not its name's hash, a file over
// MAX_FILE_SIZE, a bomb, no export or not a zip at all is refused with a
// message naming what is wrong, and creates nothing.
func TestImportBundleRefused(t *testing.T) {
	h := newFileHarness(t)
	ex := `{"version":1,"title":"B","nodes":[{"id":"n","kind":"file","data":{"file":"` + sha([]byte("x")) + `"}}],"edges":[]}`
	big := strings.Repeat("z", fileLimit+1)
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("files/" + strings.Repeat("0", 64))
	zeros := make([]byte, 1<<20)
	for range 64 { // 64 MiB that compress to about 64 KiB
		w.Write(zeros)
	}
	zw.Close()
	cases := []struct {
		name, want string
		body       []byte
	}{
		{"zip slip", `"../../etc/passwd"`, zipOf(t, [2]string{"canvas.sker.json", ex}, [2]string{"../../etc/passwd", "x"})},
		{"absolute path", `"/tmp/x"`, zipOf(t, [2]string{"canvas.sker.json", ex}, [2]string{"/tmp/x", "x"})},
		{"file not named by its hash", "not its name", zipOf(t, [2]string{"canvas.sker.json", ex}, [2]string{"files/" + sha([]byte("y")), "x"})},
		{"file over MAX_FILE_SIZE", "MAX_FILE_SIZE", zipOf(t, [2]string{"canvas.sker.json", ex}, [2]string{"files/" + sha([]byte(big)), big})},
		{"bomb", "bytes left", append([]byte(nil), bomb.Bytes()...)},
		{"no export", "no entry canvas.sker.json", zipOf(t, [2]string{"files/" + sha([]byte("x")), "x"})},
		{"export twice", "twice", zipOf(t, [2]string{"canvas.sker.json", ex}, [2]string{"canvas.sker.json", ex})},
		{"truncated zip", "not a readable zip", zipOf(t, [2]string{"canvas.sker.json", ex})[:30]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.canvasCount(h.owner.AccessToken)
			e := h.importZip(h.owner.AccessToken, tc.body).wantError(t, http.StatusBadRequest, apierr.CodeInvalidField, "bundle")
			if !strings.Contains(e.Error.Message, tc.want) {
				t.Fatalf("message %q; want it to mention %q", e.Error.Message, tc.want)
			}
			if n := h.canvasCount(h.owner.AccessToken); n != before {
				t.Fatalf("canvases after a refused import: %d; want %d", n, before)
			}
		})
	}
}

// TestImportJSONNamingAbsentFiles: a plain JSON import whose cards name
// files the new canvas does not hold is imported; the files answer 404.
func TestImportJSONNamingAbsentFiles(t *testing.T) {
	h := newFileHarness(t)
	id := sha([]byte("held by another canvas only"))
	body := `{"version":1,"title":"No files","nodes":[{"id":"i","kind":"image","data":{"file":"` + id + `","name":"a.png"}}],"edges":[]}`
	var imported importedBody
	h.post("/api/v1/canvases/import", h.owner.AccessToken, json.RawMessage(body)).decode(t, http.StatusCreated, &imported)
	if r := h.fileGet(imported.ID, id, h.owner.AccessToken, nil); r.status != http.StatusNotFound {
		t.Fatalf("GET of a file the imported canvas does not hold: got %d; want 404", r.status)
	}
}
