package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/testkit"
)

// aiWorker is the example worker (examples/ai-worker) as a process.
type aiWorker struct {
	mu    sync.Mutex
	lines []string
	ready chan struct{}
}

func (w *aiWorker) logged(substr string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// startAIWorker runs `node examples/ai-worker/worker.mjs` on queue, asking
// the OpenAI-compatible server at base, until the test ends.
func startAIWorker(t *testing.T, queue, base string) *aiWorker {
	t.Helper()
	root, err := moduleRoot()
	noErr(t, err)
	dir := filepath.Join(root, "examples", "ai-worker")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "amqplib")); err != nil {
		t.Fatalf("the example AI worker's dependencies are not installed: run npm ci in %s (scripts/test.sh does): %v", dir, err)
	}
	cmd := exec.Command("node", "worker.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RABBITMQ_URL="+testkit.RabbitMQURL(t), "AI_WORKER_QUEUE="+queue,
		"OPENAI_BASE_URL="+base, "OPENAI_API_KEY=", "WORKER_MODEL=example-model")
	out, err := cmd.StdoutPipe()
	noErr(t, err)
	cmd.Stderr = cmd.Stdout
	noErr(t, cmd.Start())
	w := &aiWorker{ready: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
			if strings.Contains(sc.Text(), "ready on queue") {
				once.Do(func() { close(w.ready) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
		if t.Failed() {
			w.mu.Lock()
			t.Logf("AI worker output:\n%s", strings.Join(w.lines, "\n"))
			w.mu.Unlock()
		}
	})
	select {
	case <-w.ready:
	case <-done:
		t.Fatalf("the AI worker exited before it was ready:\n%s", strings.Join(w.lines, "\n"))
	case <-time.After(30 * time.Second):
		t.Fatalf("the AI worker was not ready within 30 s:\n%s", strings.Join(w.lines, "\n"))
	}
	return w
}

// TestAIOutsideWorker: with AI_WORKER_QUEUE set and no provider configured
// in SKER, an AI card's run goes over RabbitMQ to the example worker
// (Node, amqplib), which asks a local OpenAI-compatible server. The
// answer streams to two WebSocket clients as it arrives, is committed to
// the card once, and is recorded in usage; GET /bridge shows the mapping.
// A second run is cancelled mid-stream: the worker hears the cancel and
// drops its model request within a second, and the card ends cancelled
// with the text so far.
func TestAIOutsideWorker(t *testing.T) {
	srv := aitest.NewOpenAI(t)
	answer := []string{"an ", "answer ", "from ", "outside ", "SKER"}
	srv.SetDefault(aitest.Reply{Deltas: answer, Delay: 30 * time.Millisecond, InputTokens: 11, OutputTokens: 5})
	rabbit := testkit.RabbitMQ(t)
	queue := testkit.UniqueName("sker-e2e-ai")
	base := testkit.UniqueName("sker-e2e-aib")
	t.Cleanup(func() {
		c, err := rabbit.Channel()
		if err != nil {
			return
		}
		for _, q := range []string{queue, queue + ".replies.e2e-node", base + ".commands", base + ".dead"} {
			_, _ = c.QueueDelete(q, false, false, false)
		}
		_ = c.ExchangeDelete(queue+".cancel", false, false)
		_ = c.ExchangeDelete(base+".events", false, false)
		_ = c.Close()
	})
	s := StartSker(t, Options{Env: map[string]string{
		"RABBITMQ_URL": testkit.RabbitMQURL(t), "AI_WORKER_QUEUE": queue, "NODE_NAME": "e2e-node",
		"BRIDGE_COMMANDS_QUEUE": base + ".commands", "BRIDGE_DEAD_LETTER_QUEUE": base + ".dead", "BRIDGE_EVENTS_EXCHANGE": base + ".events",
	}})
	w := startAIWorker(t, queue, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ann := s.NewClient()
	sess, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	waitBridgeReady(t, ctx, ann)
	var providers struct {
		Providers []struct {
			Name string `json:"name"`
		} `json:"providers"`
	}
	noErr(t, ann.Do(ctx, http.MethodGet, "/api/v1/ai/providers", nil, &providers))
	if len(providers.Providers) != 1 || providers.Providers[0].Name != "worker" {
		t.Fatalf("providers: got %+v; want the outside workers alone", providers.Providers)
	}
	cv, err := ann.CreateCanvas(ctx, "Outside AI")
	noErr(t, err)
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "n", Kind: "note", Data: map[string]any{"text": "the context card"}},
		Op{Op: "node.add", ID: "q", Kind: "ai", Data: map[string]any{"prompt": "the question"}},
		Op{Op: "edge.add", ID: "e", Source: "n", Target: "q"})
	noErr(t, err)
	a := dialCanvas(t, "A", s, sess.AccessToken, cv.ID)
	b := dialCanvas(t, "B", s, sess.AccessToken, cv.ID)

	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "ai.run", ID: "q"})
	noErr(t, err)
	want := strings.Join(answer, "")
	for _, c := range []*wsClient{a, b} {
		c.waitFor(t, 30*time.Second, "the streamed answer", func() bool {
			for run, text := range c.ai {
				if text == want && c.aiEnded[run] {
					return true
				}
			}
			return false
		})
	}
	waitCard(t, ann, cv.ID, "q", "done", 15*time.Second)
	card := cardData(t, ann, cv.ID, "q")
	var got string
	_ = json.Unmarshal(card["answer"], &got)
	if got != want {
		t.Fatalf("the card's answer: got %q; want %q", got, want)
	}
	var usage struct{ Input, Output int }
	_ = json.Unmarshal(card["ai_usage"], &usage)
	if usage.Input != 11 || usage.Output != 5 {
		t.Errorf("the card's usage: got %+v; want 11 in, 5 out", usage)
	}
	// What the worker sent the model: the card's context and prompt.
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the model got %d requests; want 1", len(reqs))
	}
	var sent struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	noErr(t, reqs[0].Decode(&sent))
	if len(sent.Messages) != 2 || sent.Messages[0].Role != "system" || sent.Messages[1].Role != "user" {
		t.Fatalf("the model's messages: got %+v; want the system prompt and one user message", sent.Messages)
	}
	last := sent.Messages[1].Content
	if sent.Model != "example-model" || !strings.Contains(last, "the context card") || !strings.Contains(last, "the question") {
		t.Errorf("the model's request: model %q, last message %q; want the worker's model, the context and the prompt", sent.Model, last)
	}
	var rows struct {
		Usage []struct {
			Provider string `json:"provider"`
			Runs     int64  `json:"runs"`
			In       int64  `json:"input_tokens"`
			Out      int64  `json:"output_tokens"`
		} `json:"usage"`
	}
	noErr(t, ann.Do(ctx, http.MethodGet, "/api/v1/ai/usage?days=1", nil, &rows))
	if len(rows.Usage) != 1 || rows.Usage[0].Provider != "worker" || rows.Usage[0].Runs != 1 || rows.Usage[0].In != 11 || rows.Usage[0].Out != 5 {
		t.Errorf("usage: got %+v; want one worker run of 11 in, 5 out", rows.Usage)
	}
	code, view := getBridgeAI(t, s)
	if code != http.StatusOK || !view.AIWorkers.Enabled || !view.AIWorkers.Consuming || view.AIWorkers.In < uint64(len(answer)+1) {
		t.Errorf("GET /bridge: %d %+v; want the AI workers mapping consuming, with the replies counted", code, view.AIWorkers)
	}

	// A run cancelled mid-stream.
	srv.SetDefault(aitest.Reply{Deltas: []string{"first words"}, Break: aitest.Hang})
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "ai.run", ID: "q"})
	noErr(t, err)
	a.waitFor(t, 30*time.Second, "the first words of the second run", func() bool {
		for run, text := range a.ai {
			if text == "first words" && !a.aiEnded[run] {
				return true
			}
		}
		return false
	})
	t0 := time.Now()
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "ai.cancel", ID: "q"})
	noErr(t, err)
	select {
	case <-srv.Disconnected():
		t.Logf("cancel: the worker dropped its model request %v after the cancel", time.Since(t0).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatalf("the worker still held its model request a second after the cancel")
	}
	waitCard(t, ann, cv.ID, "q", "cancelled", 15*time.Second)
	// The cancel marks the card at once; the run's text so far follows
	// when the engine has ended the run.
	deadline := time.Now().Add(15 * time.Second)
	for {
		card = cardData(t, ann, cv.ID, "q")
		_ = json.Unmarshal(card["answer"], &got)
		if got == "first words" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled card's answer: got %q; want the text so far", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := cardStatus(t, ann, cv.ID, "q"); st != "cancelled" {
		t.Errorf("the cancelled card's status after its text came: %q", st)
	}
	deadline = time.Now().Add(5 * time.Second)
	for !w.logged("cancelled") {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not log the cancelled run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
}

// waitCard waits until the card's ai_status is status.
func waitCard(t *testing.T, c *Client, canvasID, node, status string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := cardStatus(t, c, canvasID, node)
		if st == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("card %s: status %q after %v; want %q", node, st, d, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cardData is the data of a card.
func cardData(t *testing.T, c *Client, canvasID, node string) map[string]json.RawMessage {
	t.Helper()
	cv, err := c.GetCanvas(context.Background(), canvasID)
	noErr(t, err)
	for _, n := range cv.Nodes {
		if n.ID == node {
			return n.Data
		}
	}
	t.Fatalf("no node %s", node)
	return nil
}

// bridgeAIView is what the test reads of GET /bridge's AI workers.
type bridgeAIView struct {
	AIWorkers struct {
		Enabled   bool   `json:"enabled"`
		Disabled  string `json:"disabled"`
		Consuming bool   `json:"consuming"`
		In        uint64 `json:"in"`
		Out       uint64 `json:"out"`
		Lag       int64  `json:"lag"`
	} `json:"ai_workers"`
}

// getBridgeAI is GET /bridge on s from loopback.
func getBridgeAI(t *testing.T, s *Sker) (int, bridgeAIView) {
	t.Helper()
	resp, err := s.HTTP().Get(s.URL() + "/bridge")
	noErr(t, err)
	defer resp.Body.Close()
	var v bridgeAIView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET /bridge: %v", err)
	}
	return resp.StatusCode, v
}
