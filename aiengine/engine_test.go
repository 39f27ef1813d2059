package aiengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit/testnode"
)

// The engine is what canvas actors need of one; app and testnode hand it to
// them as actors.Config.AI.
var _ actors.AIEngine = (*aiengine.Engine)(nil)

// fixture is a node whose OpenAI provider is a local wire-format server.
type fixture struct {
	t      *testing.T
	node   *testnode.Node
	srv    *aitest.Server
	canvas string
	owner  string
	token  string
}

func newFixture(t *testing.T, engine func(*aiengine.Config)) *fixture {
	t.Helper()
	srv := aitest.NewOpenAI(t)
	node := testnode.StartNode(t, testnode.NodeConfig{
		AI:     ai.Config{OpenAIBaseURL: srv.URL, OpenAIKey: "test-key", RetryBaseDelay: 10 * time.Millisecond},
		Engine: engine,
	})
	sess, err := node.Auth.Register(context.Background(), "owner@example.test", "password-owner", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := store.Canvas{ID: "c1", Title: "AI", Settings: json.RawMessage(`{}`), CreatedBy: sess.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := node.Store.CreateCanvas(context.Background(), c, sess.User.ID); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, node: node, srv: srv, canvas: c.ID, owner: sess.User.ID, token: sess.AccessToken}
}

func (f *fixture) submit(ops ...canvas.Op) (uint64, error) {
	return f.node.Hub.Submit(context.Background(), f.canvas, f.owner, "", ops)
}

func (f *fixture) must(ops ...canvas.Op) {
	f.t.Helper()
	if _, err := f.submit(ops...); err != nil {
		f.t.Fatalf("submit %s: %v", ops[0].Op, err)
	}
}

// card returns the data of a node.
func (f *fixture) card(id string) map[string]json.RawMessage {
	f.t.Helper()
	ex, err := f.node.Hub.Snapshot(context.Background(), f.canvas)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, n := range ex.Nodes {
		if n.ID == id {
			return n.Data
		}
	}
	f.t.Fatalf("no card %s", id)
	return nil
}

func (f *fixture) status(id string) string { return str(f.card(id)["ai_status"]) }

// waitStatus waits until the card's status is not running and returns it.
func (f *fixture) waitDone(id string, d time.Duration) string {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s := f.status(id); s != aicard.StatusRunning {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("card %s still running after %v", id, d)
	return ""
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func note(id, text string) canvas.Op {
	b, _ := json.Marshal(text)
	return canvas.Op{Op: canvas.OpNodeAdd, ID: id, Kind: "note", Data: map[string]json.RawMessage{"text": b}}
}

func aiCard(id, prompt string) canvas.Op {
	b, _ := json.Marshal(prompt)
	return canvas.Op{Op: canvas.OpNodeAdd, ID: id, Kind: "ai", Data: map[string]json.RawMessage{"prompt": b}}
}

func edge(id, from, to string) canvas.Op {
	return canvas.Op{Op: canvas.OpEdgeAdd, ID: id, Source: from, Target: to}
}

func run(id string) canvas.Op { return canvas.Op{Op: aicard.OpRun, ID: id} }

// userMessage returns the text of the last request's user message.
func (f *fixture) userMessage() (string, map[string]any) {
	f.t.Helper()
	reqs := f.srv.Requests()
	if len(reqs) == 0 {
		f.t.Fatal("the provider received no request")
	}
	var body map[string]any
	if err := reqs[len(reqs)-1].Decode(&body); err != nil {
		f.t.Fatal(err)
	}
	msgs, _ := body["messages"].([]any)
	last, _ := msgs[len(msgs)-1].(map[string]any)
	text, _ := last["content"].(string)
	return text, body
}

func TestRunCommitsAnswerUsageAndContextOrder(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SetDefault(aitest.Reply{Deltas: []string{"Forty", "-two"}, InputTokens: 11, OutputTokens: 4})
	f.must(note("far", "FAR TEXT"), note("near", "NEAR TEXT"), aiCard("q", "What is the answer?"),
		edge("e1", "far", "near"), edge("e2", "near", "q"))
	f.must(run("q"))
	if s := f.waitDone("q", 10*time.Second); s != aicard.StatusDone {
		t.Fatalf("status: got %s (%s); want done", s, str(f.card("q")["ai_error"]))
	}
	if got := str(f.card("q")["answer"]); got != "Forty-two" {
		t.Fatalf("answer: got %q; want Forty-two", got)
	}
	msg, body := f.userMessage()
	far, near, q := strings.Index(msg, "FAR TEXT"), strings.Index(msg, "NEAR TEXT"), strings.Index(msg, "What is the answer?")
	if far < 0 || near < far || q < near {
		t.Fatalf("user message order: got %q; want FAR, then NEAR, then the question", msg)
	}
	if body["stream"] != true || body["model"] == "" {
		t.Fatalf("request: got %v; want a streaming request with a model", body)
	}
	usage, err := f.node.Store.AIUsage(context.Background(), f.owner, time.Now().Add(-time.Hour))
	if err != nil || len(usage) != 1 || usage[0].InputTokens != 11 || usage[0].OutputTokens != 4 || usage[0].Runs != 1 {
		t.Fatalf("usage: got %+v, %v; want one run with 11 in, 4 out", usage, err)
	}
}

func TestContextIsCutToTheBudget(t *testing.T) {
	f := newFixture(t, nil)
	f.must(note("a", strings.Repeat("A", 40_000)), note("b", "B-NEAR"), aiCard("q", "Q?"),
		edge("e1", "a", "b"), edge("e2", "b", "q"))
	f.must(run("q"))
	f.waitDone("q", 10*time.Second)
	msg, _ := f.userMessage()
	if strings.Contains(msg, "AAAA") || !strings.Contains(msg, "B-NEAR") || !strings.Contains(msg, "1 farther cards were left out") {
		t.Fatalf("user message: got %d bytes %q…; want B-NEAR only with a note that 1 card was left out", len(msg), msg[:min(200, len(msg))])
	}
	if got := string(f.card("q")["ai_context"]); got != `{"cards":1,"omitted":1}` {
		t.Fatalf("ai_context: got %s", got)
	}
}

func TestCancelStopsTheProviderWithinASecond(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.SetDefault(aitest.Reply{Deltas: []string{"slow"}, Break: aitest.Hang})
	f.must(aiCard("q", "hi"))
	f.must(run("q"))
	deadline := time.Now().Add(5 * time.Second)
	for len(f.srv.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	f.must(canvas.Op{Op: aicard.OpCancel, ID: "q"})
	select {
	case <-f.srv.Disconnected():
	case <-time.After(time.Second):
		t.Fatalf("the provider connection was not closed within 1s of the cancel")
	}
	t.Logf("provider connection closed %v after the cancel", time.Since(start))
	if s := f.status("q"); s != aicard.StatusCancelled {
		t.Fatalf("status: got %s; want cancelled", s)
	}
}

func TestRetryAfter429ThenSuccess(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.Push(aitest.Reply{Status: 429, RetryAfter: "0"}, aitest.Reply{Deltas: []string{"ok"}, InputTokens: 1, OutputTokens: 1})
	f.must(aiCard("q", "hi"))
	f.must(run("q"))
	if s := f.waitDone("q", 10*time.Second); s != aicard.StatusDone || str(f.card("q")["answer"]) != "ok" {
		t.Fatalf("after a 429: got %s %q; want done ok", s, str(f.card("q")["answer"]))
	}
	if n := len(f.srv.Requests()); n != 2 {
		t.Fatalf("requests: got %d; want 2 (one retry)", n)
	}
}

func TestStreamFailuresEndInError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply aitest.Reply
		want  string
	}{
		{"mid-stream error", aitest.Reply{Deltas: []string{"part"}, Break: aitest.ErrorEvent, ErrorMessage: "the model is overloaded"}, "overloaded"},
		{"malformed", aitest.Reply{Deltas: []string{"part"}, Break: aitest.Malformed}, ""},
		{"server error", aitest.Reply{Status: 400, ErrorMessage: "bad model name"}, "bad model name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.srv.SetDefault(tc.reply)
			f.must(aiCard("q", "hi"))
			f.must(run("q"))
			if s := f.waitDone("q", 10*time.Second); s != aicard.StatusError {
				t.Fatalf("status: got %s; want error", s)
			}
			msg := str(f.card("q")["ai_error"])
			if msg == "" || !strings.Contains(msg, tc.want) || strings.Contains(msg, "test-key") {
				t.Fatalf("ai_error: got %q; want a readable message containing %q and no key", msg, tc.want)
			}
			// The canvas goes on working.
			f.must(note("after", "still fine"))
		})
	}
}

func TestPerUserConcurrencyLimit(t *testing.T) {
	f := newFixture(t, func(c *aiengine.Config) { c.MaxRunsPerUser = 1 })
	f.srv.SetDefault(aitest.Reply{Deltas: []string{"x"}, Break: aitest.Hang})
	f.must(aiCard("q1", "a"), aiCard("q2", "b"))
	f.must(run("q1"))
	_, err := f.submit(run("q2"))
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAILimit {
		t.Fatalf("second run: got %v; want %s", err, apierr.CodeAILimit)
	}
	if s := f.status("q2"); s != "" {
		t.Fatalf("rejected card status: got %q; want untouched", s)
	}
	f.must(canvas.Op{Op: aicard.OpCancel, ID: "q1"})
	f.waitDone("q1", 5*time.Second)
	// Once the first run has ended, a new one is admitted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = f.submit(run("q2"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("run after the first ended: %v", err)
	}
}

func TestNoProviderShowsAnErrorOnTheCard(t *testing.T) {
	node := testnode.StartNode(t, testnode.NodeConfig{})
	sess, _ := node.Auth.Register(context.Background(), "u@example.test", "password-u", "U")
	now := time.Now().UTC()
	_ = node.Store.CreateCanvas(context.Background(), store.Canvas{ID: "c", Title: "t", Settings: json.RawMessage(`{}`), CreatedBy: sess.User.ID, CreatedAt: now, UpdatedAt: now}, sess.User.ID)
	if _, err := node.Hub.Submit(context.Background(), "c", sess.User.ID, "", []canvas.Op{aiCard("q", "hi")}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Hub.Submit(context.Background(), "c", sess.User.ID, "", []canvas.Op{run("q")}); err != nil {
		t.Fatal(err)
	}
	ex, _ := node.Hub.Snapshot(context.Background(), "c")
	d := ex.Nodes[0].Data
	if str(d["ai_status"]) != aicard.StatusError || !strings.Contains(str(d["ai_error"]), "no AI provider") {
		t.Fatalf("card: got %s / %q; want error naming the missing provider", str(d["ai_status"]), str(d["ai_error"]))
	}
}

var _ = fmt.Sprint
