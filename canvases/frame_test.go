package canvases_test

import (
	"testing"

	"github.com/skerhq/sker/canvases"
)

// TestChangesFrame: the frame is the protocol's "changes" frame, the
// batches as given, the canvas id escaped as JSON.
func TestChangesFrame(t *testing.T) {
	got := string(canvases.ChangesFrame(`c"1`, [][]byte{[]byte(`{"seq":1}`), []byte(`{"seq":2}`)}))
	want := `{"type":"changes","canvas":"c\"1","batches":[{"seq":1},{"seq":2}]}`
	if got != want {
		t.Errorf("ChangesFrame: got %s; want %s", got, want)
	}
	got = string(canvases.ChangesFrame("c", nil))
	want = `{"type":"changes","canvas":"c","batches":[]}`
	if got != want {
		t.Errorf("ChangesFrame of no batches: got %s; want %s", got, want)
	}
}
