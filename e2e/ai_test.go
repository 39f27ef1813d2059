package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/skerhq/sker/ai/aitest"
)

// TestAIRunSurvivesKill: the binary runs an AI card against a local
// OpenAI-compatible server; killed with -9 mid-run and restarted, the card
// is not left "running" forever: once its deadline passes it shows an
// error and can be run again, which then completes.
func TestAIRunSurvivesKill(t *testing.T) {
	srv := aitest.NewOpenAI(t)
	srv.SetDefault(aitest.Reply{Deltas: []string{"thinking"}, Break: aitest.Hang})
	s := StartSker(t, Options{Env: map[string]string{"OPENAI_BASE_URL": srv.URL, "AI_RUN_TIMEOUT": "2s"}})
	ctx := context.Background()
	c := s.NewClient()
	_, err := c.Register(ctx, "ai@example.test", "password-ai", "AI")
	noErr(t, err)
	cv, err := c.CreateCanvas(ctx, "AI canvas")
	noErr(t, err)
	_, err = c.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "n", Kind: "note", Data: map[string]any{"text": "context"}},
		Op{Op: "node.add", ID: "q", Kind: "ai", Data: map[string]any{"prompt": "question"}},
		Op{Op: "edge.add", ID: "e", Source: "n", Target: "q"})
	noErr(t, err)
	_, err = c.PostOps(ctx, cv.ID, "", Op{Op: "ai.run", ID: "q"})
	noErr(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Requests()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the provider never received the run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := cardStatus(t, c, cv.ID, "q"); st != "running" {
		t.Fatalf("status before the kill: got %q; want running", st)
	}
	s.Kill()
	srv.SetDefault(aitest.Reply{Deltas: []string{"an ", "answer"}, InputTokens: 3, OutputTokens: 2})
	s.Start()
	// Past the run's deadline (2s timeout + 2s grace) the card is in error.
	deadline = time.Now().Add(15 * time.Second)
	for cardStatus(t, c, cv.ID, "q") == "running" {
		if time.Now().After(deadline) {
			t.Fatal("the card is still running 15s after the restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := cardStatus(t, c, cv.ID, "q"); st != "error" {
		t.Fatalf("status after the restart: got %q; want error", st)
	}
	_, err = c.PostOps(ctx, cv.ID, "", Op{Op: "ai.run", ID: "q"})
	noErr(t, err)
	deadline = time.Now().Add(10 * time.Second)
	for cardStatus(t, c, cv.ID, "q") != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("the second run did not complete: status %q", cardStatus(t, c, cv.ID, "q"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var usage struct {
		Total struct {
			Runs         int64 `json:"runs"`
			OutputTokens int64 `json:"output_tokens"`
		} `json:"total"`
	}
	noErr(t, c.Do(ctx, "GET", "/api/v1/ai/usage", nil, &usage))
	if usage.Total.Runs != 1 || usage.Total.OutputTokens != 2 {
		t.Fatalf("usage: got %+v; want the completed run only (the killed one was never recorded)", usage.Total)
	}
	s.Stop()
}

func cardStatus(t *testing.T, c *Client, canvasID, node string) string {
	t.Helper()
	cv, err := c.GetCanvas(context.Background(), canvasID)
	noErr(t, err)
	for _, n := range cv.Nodes {
		if n.ID == node {
			var s string
			_ = json.Unmarshal(n.Data["ai_status"], &s)
			return s
		}
	}
	t.Fatalf("no node %s", node)
	return ""
}
