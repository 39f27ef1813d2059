package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/ai/aitest"
)

// TestAIImageCardAsContext: on the real binary, a PNG uploaded to a canvas
// and shown by an image card upstream of an AI card reaches the model (a
// local OpenAI-compatible server) as an image content part of the user
// message, byte for byte, and the text names it as [image 1]. An image
// card on another canvas that names the same file id, by a user who does
// not hold that canvas, sends no image: its model reads a note instead.
// A model listed in AI_TEXT_ONLY_MODELS gets the note too.
func TestAIImageCardAsContext(t *testing.T) {
	srv := aitest.NewOpenAI(t)
	srv.SetDefault(aitest.Reply{Deltas: []string{"a blank picture"}, InputTokens: 900, OutputTokens: 3})
	s := StartSker(t, Options{Env: map[string]string{
		"OPENAI_BASE_URL": srv.URL, "OPENAI_MODELS": "vision-model,text-model", "AI_TEXT_ONLY_MODELS": "text-model",
	}})
	ctx := context.Background()
	ann := s.NewClient()
	sess, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Pictures")
	noErr(t, err)
	img := e2ePNG(t, 16, 9)
	f := wantFile(t, "upload", ans(uploadRaw(t, s, sess.AccessToken, cv.ID, img, "shot.png")))
	imageCard := func(id string) Op {
		return Op{Op: "node.add", ID: id, Kind: "image", Data: map[string]any{"file": f.ID, "name": "shot.png", "type": "image/png", "width": 16, "height": 9}}
	}
	_, err = ann.PostOps(ctx, cv.ID, "", imageCard("img"),
		Op{Op: "node.add", ID: "q", Kind: "ai", Data: map[string]any{"prompt": "Describe the picture.", "model": "vision-model"}},
		Op{Op: "edge.add", ID: "e", Source: "img", Target: "q"},
		Op{Op: "node.add", ID: "q2", Kind: "ai", Data: map[string]any{"prompt": "Describe the picture.", "model": "text-model"}},
		Op{Op: "edge.add", ID: "e2", Source: "img", Target: "q2"})
	noErr(t, err)

	type sent struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	type part struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	// lastRequest runs card on canvas as c and returns the user message's
	// parts as the model got them.
	run := func(c *Client, canvasID, card string) []part {
		t.Helper()
		before := len(srv.Requests())
		_, err := c.PostOps(ctx, canvasID, "", Op{Op: "ai.run", ID: card})
		noErr(t, err)
		waitCard(t, c, canvasID, card, "done", 30*time.Second)
		reqs := srv.Requests()
		if len(reqs) != before+1 {
			t.Fatalf("the model got %d requests; want %d", len(reqs), before+1)
		}
		var body sent
		noErr(t, reqs[len(reqs)-1].Decode(&body))
		user := body.Messages[len(body.Messages)-1]
		var parts []part
		if json.Unmarshal(user.Content, &parts) != nil {
			var text string
			noErr(t, json.Unmarshal(user.Content, &text))
			parts = []part{{Type: "text", Text: text}}
		}
		return parts
	}

	parts := run(ann, cv.ID, "q")
	if len(parts) != 2 || parts[0].Type != "text" || parts[1].Type != "image_url" {
		t.Fatalf("the vision model's message: got %+v; want a text part and an image_url part", parts)
	}
	if !strings.Contains(parts[0].Text, `image "shot.png": [image 1]`) || !strings.Contains(parts[0].Text, "Describe the picture.") {
		t.Errorf("the text: got %q; want the image named as [image 1] and the prompt", parts[0].Text)
	}
	data, ok := strings.CutPrefix(parts[1].ImageURL.URL, "data:image/png;base64,")
	got, err := base64.StdEncoding.DecodeString(data)
	if !ok || err != nil || !bytes.Equal(got, img) {
		t.Fatalf("the image part: %.60q…; want the uploaded PNG as a data: URL", parts[1].ImageURL.URL)
	}

	parts = run(ann, cv.ID, "q2")
	if len(parts) != 1 || !strings.Contains(parts[0].Text, "this model takes no images") {
		t.Errorf("the text-only model's message: got %+v; want the text alone, with the note", parts)
	}

	// Bob's own canvas names Ann's file: no image leaves Ann's canvas.
	bob := s.NewClient()
	_, err = bob.Register(ctx, "bob@example.com", "correct horse battery", "Bob")
	noErr(t, err)
	other, err := bob.CreateCanvas(ctx, "Not Ann's")
	noErr(t, err)
	_, err = bob.PostOps(ctx, other.ID, "", imageCard("img"),
		Op{Op: "node.add", ID: "q", Kind: "ai", Data: map[string]any{"prompt": "Describe the picture.", "model": "vision-model"}},
		Op{Op: "edge.add", ID: "e", Source: "img", Target: "q"})
	noErr(t, err)
	parts = run(bob, other.ID, "q")
	if len(parts) != 1 || !strings.Contains(parts[0].Text, "the image could not be read") {
		t.Errorf("another canvas naming the file: got %+v; want the text alone, with the note", parts)
	}
	s.Stop()
}
