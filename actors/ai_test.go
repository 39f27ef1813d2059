package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// fakeEngine records what the actors ask of the AI engine. The engine is
// SKER's own interface, so a recording stand-in is enough here; the real
// engine is tested against wire-format provider servers.
type fakeEngine struct {
	mu        sync.Mutex
	jobs      []aicard.Job
	cancelled []string
	released  []string
	admitErr  error
	resolve   error
}

func (f *fakeEngine) Resolve(p, m string) (string, string, error) {
	if f.resolve != nil {
		return "", "", f.resolve
	}
	if p == "" {
		p = "openai"
	}
	if m == "" {
		m = "model-1"
	}
	return p, m, nil
}
func (f *fakeEngine) Admit(user, run string) error { return f.admitErr }
func (f *fakeEngine) Release(run string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, run)
}
func (f *fakeEngine) Enqueue(_ context.Context, j aicard.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = append(f.jobs, j)
	return nil
}
func (f *fakeEngine) Cancel(run string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, run)
}
func (f *fakeEngine) job(t *testing.T, i int) aicard.Job {
	t.Helper()
	waitFor(t, "a job", 5*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.jobs) > i
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[i]
}

func textNode(id, text string) canvas.Op {
	b, _ := json.Marshal(text)
	return canvas.Op{Op: canvas.OpNodeAdd, ID: id, Kind: "note", Data: map[string]json.RawMessage{"text": b}}
}

func aiNode(id, prompt string) canvas.Op {
	b, _ := json.Marshal(prompt)
	return canvas.Op{Op: canvas.OpNodeAdd, ID: id, Kind: "ai", Data: map[string]json.RawMessage{"prompt": b}}
}

func edge(id, from, to string) canvas.Op {
	return canvas.Op{Op: canvas.OpEdgeAdd, ID: id, Source: from, Target: to}
}

func cardData(t *testing.T, h *Hub, canvasID, node string) map[string]json.RawMessage {
	t.Helper()
	for _, n := range snapshot(t, h, canvasID).Nodes {
		if n.ID == node {
			return n.Data
		}
	}
	t.Fatalf("no node %s", node)
	return nil
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func TestAIRunAssemblesContextAndFinishes(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{}
	h := e.hub(func(c *Config) { c.AI = eng; c.AIContextTokens = 10 })
	id := e.canvas("c1")
	// far (2 hops) → near → q; the far card does not fit a 10-token budget.
	mustSubmit(t, h, id, textNode("far", strings.Repeat("x", 30)), textNode("near", "near text"), aiNode("q", "What?"),
		edge("e1", "far", "near"), edge("e2", "near", "q"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	d := cardData(t, h, id, "q")
	if str(d["ai_status"]) != aicard.StatusRunning || str(d["ai_run"]) == "" {
		t.Fatalf("card after ai.run: got %v; want running with a run id", d)
	}
	job := eng.job(t, 0)
	if job.Prompt != "What?" || len(job.Context) != 1 || job.Context[0].Node != "near" || job.Omitted != 1 || job.User != "author-1" {
		t.Fatalf("job: got %+v; want prompt What?, context [near], 1 omitted", job)
	}
	if job.Run != str(d["ai_run"]) {
		t.Fatalf("job run %s; card run %s", job.Run, str(d["ai_run"]))
	}
	// Running again while running is refused.
	_, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{{Op: aicard.OpRun, ID: "q"}})
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAIRunning {
		t.Fatalf("second run: got %v; want ai_running", err)
	}
	err = h.FinishAIRun(context.Background(), id, "q", job.Run, canvases.AIResult{Status: aicard.StatusDone, Text: "42", InputTokens: 7, OutputTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	d = cardData(t, h, id, "q")
	if str(d["ai_status"]) != aicard.StatusDone || str(d["answer"]) != "42" || string(d["ai_usage"]) != `{"input":7,"output":2}` {
		t.Fatalf("card after finish: got %v", d)
	}
	// A late result of the same run is dropped.
	if err := h.FinishAIRun(context.Background(), id, "q", job.Run, canvases.AIResult{Status: aicard.StatusDone, Text: "late"}); !errors.Is(err, canvases.ErrStaleRun) {
		t.Fatalf("late finish: got %v; want canvases.ErrStaleRun", err)
	}
}

func TestAIRunWithoutProviderShowsErrorOnCard(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{resolve: errors.New("no AI provider is configured")}
	h := e.hub(func(c *Config) { c.AI = eng })
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "hi"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	d := cardData(t, h, id, "q")
	if str(d["ai_status"]) != aicard.StatusError || !strings.Contains(str(d["ai_error"]), "no AI provider") {
		t.Fatalf("card: got %v; want error naming the missing provider", d)
	}
	if len(eng.jobs) != 0 {
		t.Fatalf("jobs: got %d; want none", len(eng.jobs))
	}
}

func TestAIRunRejections(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{}
	h := e.hub(func(c *Config) { c.AI = eng })
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "hi"), textNode("t", "x"))
	before := exportJSON(t, snapshot(t, h, id))
	for _, tc := range []struct {
		ops  []canvas.Op
		code string
	}{
		{[]canvas.Op{{Op: aicard.OpRun, ID: "t"}}, apierr.CodeKindNotAllowed},
		{[]canvas.Op{{Op: aicard.OpRun, ID: "nope"}}, apierr.CodeUnknownID},
		{[]canvas.Op{{Op: aicard.OpRun, ID: "q"}, textNode("u", "x")}, apierr.CodeInvalidOp},
		{[]canvas.Op{{Op: aicard.OpCancel, ID: "q"}}, apierr.CodeAINotRunning},
		{[]canvas.Op{{Op: "ai.finish", ID: "q"}}, apierr.CodeUnknownOp},
	} {
		_, err := h.Submit(context.Background(), id, "a", "", tc.ops)
		var opErr *canvas.OpError
		if !errors.As(err, &opErr) || opErr.Code != tc.code {
			t.Fatalf("%v: got %v; want %s", tc.ops[0].Op, err, tc.code)
		}
	}
	eng.admitErr = &canvas.OpError{Code: apierr.CodeAILimit, Message: "too many", Index: 0}
	_, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{{Op: aicard.OpRun, ID: "q"}})
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAILimit {
		t.Fatalf("over the limit: got %v; want ai_limit", err)
	}
	if after := exportJSON(t, snapshot(t, h, id)); after != before {
		t.Fatalf("rejected ai ops changed the canvas")
	}
}

func TestAICancelAndDelete(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{}
	h := e.hub(func(c *Config) { c.AI = eng })
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "hi"), aiNode("r", "hi"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	job := eng.job(t, 0)
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpCancel, ID: "q"})
	waitFor(t, "the cancel", 5*time.Second, func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return fmt.Sprint(eng.cancelled) == fmt.Sprint([]string{job.Run})
	})
	// The worker's result after a cancel keeps the partial text; the card
	// stays cancelled.
	if err := h.FinishAIRun(context.Background(), id, "q", job.Run, canvases.AIResult{Status: aicard.StatusCancelled, Text: "part"}); err != nil {
		t.Fatal(err)
	}
	d := cardData(t, h, id, "q")
	if str(d["ai_status"]) != aicard.StatusCancelled || str(d["answer"]) != "part" {
		t.Fatalf("card after cancel: got %v", d)
	}
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "r"})
	job2 := eng.job(t, 1)
	mustSubmit(t, h, id, canvas.Op{Op: canvas.OpNodeDelete, ID: "r"})
	waitFor(t, "the cancel of a deleted card's run", 5*time.Second, func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return len(eng.cancelled) == 2 && eng.cancelled[1] == job2.Run
	})
	if err := h.FinishAIRun(context.Background(), id, "r", job2.Run, canvases.AIResult{Status: aicard.StatusDone, Text: "x"}); !errors.Is(err, canvases.ErrStaleRun) {
		t.Fatalf("finish of a deleted card: got %v; want canvases.ErrStaleRun", err)
	}
}

// TestStuckRunExpires: a run whose worker never answers ends in error after
// its deadline instead of staying running forever.
func TestStuckRunExpires(t *testing.T) {
	e := newEnv(t)
	eng := &fakeEngine{}
	h := e.hub(func(c *Config) {
		c.AI = eng
		c.AIRunTimeout = time.Millisecond
		c.CheckpointInterval = 200 * time.Millisecond
	})
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "hi"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	job := eng.job(t, 0)
	// The deadline is the timeout plus 30s of grace: move the clock.
	h.cfg.Now = func() time.Time { return time.Now().Add(time.Minute) }
	waitFor(t, "the run to expire", 5*time.Second, func() bool {
		return str(cardData(t, h, id, "q")["ai_status"]) == aicard.StatusError
	})
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.released) == 0 || eng.released[len(eng.released)-1] != job.Run {
		t.Fatalf("released: got %v; want the expired run", eng.released)
	}
}
