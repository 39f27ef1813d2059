package actors

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/textcheck"
)

// TestAIAnswerCleaned: an AI answer and its error are a provider's output,
// not a client's input, so they are cleaned rather than refused: NUL is
// dropped and invalid UTF-8 becomes U+FFFD before the result is committed,
// and the card holds only text that every store and client accepts.
func TestAIAnswerCleaned(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{}
	h := e.hub(func(c *Config) { c.AI = eng })
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "What?"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	job := eng.job(t, 0)
	res := canvases.AIResult{Status: aicard.StatusError, Text: "a\x00b\xffc", Error: "bad\x00 \xfe"}
	if err := h.FinishAIRun(context.Background(), id, "q", job.Run, res); err != nil {
		t.Fatalf("FinishAIRun: %v", err)
	}
	d := cardData(t, h, id, "q")
	if got, want := str(d["answer"]), "ab\uFFFDc"; got != want {
		t.Errorf("answer: got %q (%s); want %q", got, d["answer"], want)
	}
	if got, want := str(d["ai_error"]), "bad \uFFFD"; got != want {
		t.Errorf("ai_error: got %q (%s); want %q", got, d["ai_error"], want)
	}
	snap, _ := json.Marshal(snapshot(t, h, id))
	if p := textcheck.JSON(snap); p != nil {
		t.Errorf("snapshot %s: holds refused text at %s", snap, p)
	}
}
