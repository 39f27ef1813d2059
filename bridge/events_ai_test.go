package bridge_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// runningCard adds an AI card that runs run, as aicard.Started leaves one,
// with a deadline far away so that nothing expires it.
func (f *fixture) runningCard(nodeID, run string) {
	f.t.Helper()
	data := map[string]json.RawMessage{}
	for k, v := range map[string]any{
		"prompt": "q", "ai_status": aicard.StatusRunning, "ai_run": run, "answer": "",
		"ai_provider": "openai", "ai_model": "gpt-test", "ai_deadline": time.Now().Add(time.Hour).UnixMilli(),
	} {
		data[k], _ = json.Marshal(v)
	}
	op := canvas.Op{Op: canvas.OpNodeAdd, ID: nodeID, Kind: aicard.Kind, Data: data}
	if _, err := f.node.Hub.Submit(context.Background(), f.canvas, f.owner, "", []canvas.Op{op}); err != nil {
		f.t.Fatalf("add card %s: %v", nodeID, err)
	}
}

// next is the next delivery of d, or fails the test after 20s.
func next(t *testing.T, d <-chan amqp.Delivery, what string) amqp.Delivery {
	t.Helper()
	select {
	case m := <-d:
		return m
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s in 20s", what)
		return amqp.Delivery{}
	}
}

// An AI run's result reaches canvas.<id>.ai right after the changes event
// of the batch that wrote it, with the run, status, answer and usage; a
// cancel is no result (the run's partial result that follows is); a run
// that could not start is one, in error.
func TestEventsAIRunFinished(t *testing.T) {
	f := newFixture(t)
	d := f.bindEvents("canvas." + f.canvas + ".*")
	cfg := f.config()
	cfg.DisableCommands = true
	f.start(cfg)
	ctx := context.Background()

	f.runningCard("q", "run-1")
	f.runningCard("c", "run-2")
	if err := f.node.Hub.FinishAIRun(ctx, f.canvas, "q", "run-1", canvases.AIResult{Status: aicard.StatusDone, Text: "42", InputTokens: 7, OutputTokens: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.Hub.Submit(ctx, f.canvas, f.owner, "", []canvas.Op{{Op: aicard.OpCancel, ID: "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.node.Hub.FinishAIRun(ctx, f.canvas, "c", "run-2", canvases.AIResult{Status: aicard.StatusCancelled, Text: "par", InputTokens: 5, OutputTokens: 1}); err != nil {
		t.Fatal(err)
	}
	// The fixture's node has no AI provider: the run cannot start.
	f.commit(f.canvas, "plain")
	b, _ := json.Marshal(map[string]string{"prompt": "x"})
	if _, err := f.node.Hub.Submit(ctx, f.canvas, f.owner, "", []canvas.Op{{Op: canvas.OpNodeAdd, ID: "u", Kind: aicard.Kind, Data: map[string]json.RawMessage{"prompt": b}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.Hub.Submit(ctx, f.canvas, f.owner, "", []canvas.Op{{Op: aicard.OpRun, ID: "u"}}); err != nil {
		t.Fatal(err)
	}

	// seq 1, 2: the cards; 3: q's result; 4: c's cancel; 5: c's result;
	// 6: a note; 7: card u; 8: u's run, which could not start.
	want := map[uint64]bridge.AIEvent{
		3: {Card: "q", Run: "run-1", Status: aicard.StatusDone, Answer: "42", Usage: &bridge.AIUsage{Input: 7, Output: 2}, Provider: "openai", Model: "gpt-test"},
		5: {Card: "c", Run: "run-2", Status: aicard.StatusCancelled, Answer: "par", Usage: &bridge.AIUsage{Input: 5, Output: 1}, Provider: "openai", Model: "gpt-test"},
		8: {Card: "u", Status: aicard.StatusError},
	}
	history, _, err := f.node.Hub.History(ctx, f.canvas, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 8; seq++ {
		m := next(t, d, "changes event of seq "+strconv.FormatUint(seq, 10))
		if m.RoutingKey != "canvas."+f.canvas+".changes" || m.MessageId != f.canvas+":"+strconv.FormatUint(seq, 10) {
			t.Fatalf("seq %d: got routing key %q message id %q; want its changes event", seq, m.RoutingKey, m.MessageId)
		}
		w, ok := want[seq]
		if !ok {
			continue
		}
		m = next(t, d, "AI event of seq "+strconv.FormatUint(seq, 10))
		if m.RoutingKey != "canvas."+f.canvas+".ai" || m.MessageId != bridge.AIMessageID(f.canvas, seq) || m.Type != "ai" ||
			m.DeliveryMode != amqp.Persistent || m.Headers[bridge.HeaderCanvas] != f.canvas || m.Headers[bridge.HeaderSeq] != int64(seq) {
			t.Fatalf("seq %d: got routing key %q message id %q type %q mode %d headers %v; want its AI event %q",
				seq, m.RoutingKey, m.MessageId, m.Type, m.DeliveryMode, m.Headers, bridge.AIMessageID(f.canvas, seq))
		}
		var got bridge.AIEvent
		if err := json.Unmarshal(m.Body, &got); err != nil {
			t.Fatalf("seq %d: body %s: %v", seq, m.Body, err)
		}
		var batch struct {
			At int64 `json:"at"`
		}
		_ = json.Unmarshal(history[seq-1], &batch)
		w.Canvas, w.Seq, w.At = f.canvas, seq, batch.At
		if w.Status == aicard.StatusError {
			w.Error = got.Error
			if got.Error == "" {
				t.Errorf("seq %d: got no error for a run that could not start", seq)
			}
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("seq %d: got AI event %s; want %s", seq, m.Body, wb)
		}
	}
	select {
	case m := <-d:
		t.Errorf("got a further event %q %s; want none", m.MessageId, m.Body)
	case <-time.After(300 * time.Millisecond):
	}
}
