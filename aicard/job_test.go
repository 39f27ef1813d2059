package aicard_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
)

func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// An image card upstream is an image in the job's context (its file and
// type, its name as text) and counts ImageTokens against the budget; a file
// card is a line naming the file; an image or file card without a valid
// file id is no context at all.
func TestJobContextOfFileCards(t *testing.T) {
	id := strings.Repeat("ab", 32)
	st := canvas.NewState("c", canvas.Meta{}, canvas.Limits{})
	put := func(n *canvas.Node, to string) {
		st.PutNode(n)
		if to != "" {
			st.PutEdge(&canvas.Edge{ID: "e-" + n.ID, Source: n.ID, Target: to, Kind: "default"})
		}
	}
	put(&canvas.Node{ID: "q", Kind: "ai", Data: map[string]json.RawMessage{"prompt": raw("what is it?")}}, "")
	put(&canvas.Node{ID: "img", Kind: "image", Data: map[string]json.RawMessage{"file": raw(id), "name": raw("shot.png"), "type": raw("image/png")}}, "q")
	put(&canvas.Node{ID: "doc", Kind: "file", Data: map[string]json.RawMessage{"file": raw(id), "name": raw("spec.pdf"), "type": raw("application/pdf")}}, "q")
	put(&canvas.Node{ID: "bad", Kind: "image", Data: map[string]json.RawMessage{"file": raw("../etc/passwd")}}, "q")
	spec := aicard.Spec{Run: "r", Now: time.Now(), RunTimeout: time.Minute, ContextTokens: 6000}
	job := aicard.NewJob(st, st.Nodes["q"], spec)
	byNode := map[string]aicard.ContextCard{}
	for _, c := range job.Context {
		byNode[c.Node] = c
	}
	if c := byNode["img"]; c.File != id || c.Type != "image/png" || c.Text != "shot.png" {
		t.Errorf("image card: got %+v", c)
	}
	if c := byNode["doc"]; c.File != "" || !strings.Contains(c.Text, `"spec.pdf"`) || !strings.Contains(c.Text, "application/pdf") {
		t.Errorf("file card: got %+v", c)
	}
	if _, ok := byNode["bad"]; ok || len(job.Context) != 2 {
		t.Errorf("context: got %+v; want the image and the file card only", job.Context)
	}
	spec.ContextTokens = aicard.ImageTokens - 1
	if job := aicard.NewJob(st, st.Nodes["q"], spec); job.Omitted == 0 {
		t.Errorf("a budget under one image: got %+v; want the image left out", job.Context)
	}
}
