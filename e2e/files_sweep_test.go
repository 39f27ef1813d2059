package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestFilesSweep runs the real binary with a short FILE_GRACE: a file no
// card refers to is deleted (its row, then its content on disk) once the
// grace is over, a file on a card is never deleted, and deleting a canvas
// removes the content it alone held.
func TestFilesSweep(t *testing.T) {
	s := StartSker(t, Options{Env: map[string]string{"FILE_GRACE": "3s", "FILE_SWEEP_INTERVAL": "1s"}})
	ctx := t.Context()
	owner := s.NewClient()
	_, err := owner.Register(ctx, "owner@example.com", "correct horse battery", "Owner")
	noErr(t, err)
	tok := owner.Token
	cv, err := owner.CreateCanvas(ctx, "Swept")
	noErr(t, err)
	other, err := owner.CreateCanvas(ctx, "Deleted")
	noErr(t, err)
	uploads := filepath.Join(s.DataDir, "uploads")

	onCard := wantFile(t, "image on a card", ans(uploadRaw(t, s, tok, cv.ID, e2ePNG(t, 4, 3), "kept.png")))
	unused := wantFile(t, "file on no card", ans(uploadRaw(t, s, tok, cv.ID, []byte("never placed"), "unused.txt")))
	alone := wantFile(t, "file of the deleted canvas", ans(uploadRaw(t, s, tok, other.ID, []byte("only the deleted canvas"), "alone.txt")))
	_, err = owner.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "img", Kind: "image", X: F(0), Y: F(0),
		Data: map[string]any{"file": onCard.ID, "name": "kept.png", "width": 4, "height": 3}})
	noErr(t, err)
	status := func(canvasID, id string) int {
		resp, _ := fileReq(t, s, http.MethodGet, filesPath(canvasID)+"/"+id, tok, nil, nil)
		return resp.StatusCode
	}
	onDisk := func(id string) bool {
		return slices.ContainsFunc(contentFiles(t, uploads), func(p string) bool { return filepath.Base(p) == id })
	}
	if got := status(cv.ID, unused.ID); got != http.StatusOK {
		t.Fatalf("GET of the unused file within the grace: got %d; want 200", got)
	}
	noErr(t, owner.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+other.ID, nil, nil))

	deadline := time.Now().Add(30 * time.Second)
	for onDisk(unused.ID) || onDisk(alone.ID) || status(cv.ID, unused.ID) != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: unused file answers %d, on disk %v; deleted canvas's content on disk %v; want 404, false, false",
				status(cv.ID, unused.ID), onDisk(unused.ID), onDisk(alone.ID))
		}
		if got := status(cv.ID, onCard.ID); got != http.StatusOK {
			t.Fatalf("GET of the file on a card: got %d; want 200", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Several sweeps later, the file on a card is still served.
	time.Sleep(4 * time.Second)
	if got := status(cv.ID, onCard.ID); got != http.StatusOK || !onDisk(onCard.ID) {
		t.Fatalf("file on a card after the grace: got %d, on disk %v; want 200, true", got, onDisk(onCard.ID))
	}
	if !s.LogContains("unreferenced file deleted") {
		t.Fatalf("the log does not say the unreferenced file was deleted")
	}
}
