package skerhttp_test

import (
	"net/http"
	"testing"
)

// TestCreatedSettingsHoldNoNegativeZero: settings given at creation read
// the same in the canvas list as in the snapshot, -0 as 0.
func TestCreatedSettingsHoldNoNegativeZero(t *testing.T) {
	h := newHarness(t)
	ann := h.user("ann@example.com")
	var created canvasBody
	h.post("/api/v1/canvases", ann.AccessToken, `{"title":"Z","settings":{"zoom":-0,"grid":{"step":-0.0}}}`).
		decode(t, http.StatusCreated, &created)
	want := `{"grid":{"step":0.0},"zoom":0}`
	if got := string(h.snapshot(ann.AccessToken, created.ID).Settings); got != want {
		t.Errorf("snapshot settings: got %s; want %s", got, want)
	}
	var list struct {
		Canvases []canvasBody `json:"canvases"`
	}
	h.get("/api/v1/canvases", ann.AccessToken).decode(t, http.StatusOK, &list)
	if len(list.Canvases) != 1 {
		t.Fatalf("got %d canvases; want 1", len(list.Canvases))
	}
	if got := string(list.Canvases[0].Settings); got != `{"zoom":0,"grid":{"step":0.0}}` && got != want {
		t.Errorf("listed settings: got %s; want %s (keys in any order)", got, want)
	}
}
