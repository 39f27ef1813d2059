package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/testkit"
)

// aiFixture is a bridge running only the AI workers mapping, and a
// worker written in the test on the test's own RabbitMQ connection.
type aiFixture struct {
	*fixture
	aw    *bridge.AIWorkers
	r     *running
	queue string
	jobs  <-chan amqp.Delivery
	out   *amqp.Channel
}

func newAIFixture(t *testing.T) *aiFixture {
	t.Helper()
	f := newFixture(t)
	queue := testkit.UniqueName("sker-test-ai")
	aw, err := bridge.NewAIWorkers(bridge.AIWorkersConfig{Queue: queue, Node: "n1", Logger: testkit.Logger(), CancelWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ch, err := f.rabbit.Channel()
		if err != nil {
			return
		}
		defer ch.Close()
		_, _ = ch.QueueDelete(queue, false, false, false)
		_, _ = ch.QueueDelete(bridge.ReplyQueue(queue, "n1"), false, false, false)
		_ = ch.ExchangeDelete(bridge.CancelExchange(queue), false, false)
	})
	cfg := f.config()
	cfg.DisableCommands, cfg.DisableEvents, cfg.AIWorkers = true, true, aw
	r := f.start(cfg)
	in, err := f.rabbit.Channel()
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := in.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.rabbit.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return &aiFixture{fixture: f, aw: aw, r: r, queue: queue, jobs: jobs, out: out}
}

// nextJob is the next job the bridge published, with its reply queue.
func (f *aiFixture) nextJob() (bridge.WorkerJob, string) {
	f.t.Helper()
	select {
	case d := <-f.jobs:
		var j bridge.WorkerJob
		if err := json.Unmarshal(d.Body, &j); err != nil {
			f.t.Fatalf("job: %v (%s)", err, d.Body)
		}
		if d.CorrelationId != j.Run || d.ReplyTo == "" {
			f.t.Fatalf("job %s: correlation_id %q, reply_to %q", j.Run, d.CorrelationId, d.ReplyTo)
		}
		return j, d.ReplyTo
	case <-time.After(15 * time.Second):
		f.t.Fatal("no job published within 15 s")
	}
	return bridge.WorkerJob{}, ""
}

// reply publishes body as the worker's reply to run on replyTo.
func (f *aiFixture) reply(replyTo, run, body string) {
	f.t.Helper()
	err := f.out.PublishWithContext(context.Background(), "", replyTo, false, false, amqp.Publishing{
		ContentType: "application/json", CorrelationId: run, DeliveryMode: amqp.Persistent, Body: []byte(body),
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

type runResult struct {
	usage  ai.Usage
	err    error
	deltas []string
}

// start runs job through the mapping in the background.
func (f *aiFixture) start(ctx context.Context, job aicard.Job) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		var res runResult
		req := ai.Request{System: "sys", Messages: []ai.Message{{Role: "user", Content: job.Prompt}}}
		res.usage, res.err = f.aw.Run(ctx, job, req, func(s string) error { res.deltas = append(res.deltas, s); return nil })
		done <- res
	}()
	return done
}

func waitResult(t *testing.T, done <-chan runResult) runResult {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end within 20 s")
	}
	return runResult{}
}

// TestAIWorkersStreamAcrossACut: a job goes to the queue with its run, the
// request and a reply queue; the worker's deltas reach the run in order,
// a repeated delta once; replies that are not replies, or are for a run
// that is not waiting, are dropped and counted; replies sent while the
// bridge's connection is cut wait in the reply queue and arrive after it
// reconnects; done ends the run with its usage.
func TestAIWorkersStreamAcrossACut(t *testing.T) {
	f := newAIFixture(t)
	job := aicard.Job{Run: "run-1", Canvas: f.canvas, Node: "q", User: f.owner, Provider: "worker", Prompt: "the question",
		Deadline: time.Now().Add(time.Minute).UnixMilli()}
	done := f.start(context.Background(), job)
	j, replyTo := f.nextJob()
	if j.Type != "job" || j.Run != "run-1" || j.Card != "q" || j.System != "sys" || len(j.Messages) != 1 ||
		j.Messages[0].Content != "the question" || j.CancelExchange != bridge.CancelExchange(f.queue) {
		t.Fatalf("job: got %+v", j)
	}
	if replyTo != bridge.ReplyQueue(f.queue, "n1") {
		t.Fatalf("reply_to: got %q; want %q", replyTo, bridge.ReplyQueue(f.queue, "n1"))
	}
	f.reply(replyTo, "run-1", `{"type":"delta","run":"run-1","seq":1,"text":"an "}`)
	f.reply(replyTo, "run-1", `{"type":"delta","run":"run-1","seq":1,"text":"an "}`)
	f.reply(replyTo, "run-1", `{"type":"delta","seq":2,"text":"answer","extra":1}`)
	f.reply(replyTo, "run-1", `not json`)
	f.reply(replyTo, "other", `{"type":"delta","run":"other","seq":1,"text":"x"}`)
	deadline := time.Now().Add(10 * time.Second)
	for f.aw.Status().DeadLettered < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the bad replies were not counted: %+v", f.aw.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.cut(f.r)
	f.reply(replyTo, "run-1", `{"type":"delta","run":"run-1","seq":2,"text":"answer"}`)
	f.reply(replyTo, "run-1", `{"type":"done","run":"run-1","usage":{"input_tokens":9,"output_tokens":2}}`)
	res := waitResult(t, done)
	if res.err != nil || strings.Join(res.deltas, "") != "an answer" || res.usage != (ai.Usage{InputTokens: 9, OutputTokens: 2}) {
		t.Fatalf("run: got %+v; want \"an answer\" with 9 in, 2 out", res)
	}
	st := f.aw.Status()
	if st.Duplicates != 1 || st.DeadLettered != 3 || st.Out != 1 || st.Lag != 0 || st.Reconnects != 1 {
		t.Errorf("status: got %+v; want 1 duplicate, 3 dropped, 1 job out, no lag, 1 reconnect", st)
	}
}

// TestAIWorkersCancelAndError: a cancelled run publishes a cancel on the
// cancel exchange and ends with its context's error once the worker
// answers cancelled, with the worker's usage; a run the worker fails ends
// with the worker's message; a run whose worker never answers the cancel
// ends after CancelWait.
func TestAIWorkersCancelAndError(t *testing.T) {
	f := newAIFixture(t)
	cq, err := f.admin.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.QueueBind(cq.Name, "", bridge.CancelExchange(f.queue), false, nil); err != nil {
		t.Fatal(err)
	}
	cancels, err := f.admin.Consume(cq.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := f.start(ctx, aicard.Job{Run: "run-c", Prompt: "p"})
	_, replyTo := f.nextJob()
	f.reply(replyTo, "run-c", `{"type":"delta","seq":1,"text":"so far"}`)
	deadline := time.Now().Add(10 * time.Second)
	for f.aw.Status().In < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the delta did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case d := <-cancels:
		var c struct{ Type, Run string }
		if err := json.Unmarshal(d.Body, &c); err != nil || c.Type != "cancel" || c.Run != "run-c" {
			t.Fatalf("cancel: got %s (%v)", d.Body, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no cancel published within 5 s")
	}
	f.reply(replyTo, "run-c", `{"type":"cancelled","usage":{"input_tokens":4,"output_tokens":1}}`)
	res := waitResult(t, done)
	if !errors.Is(res.err, context.Canceled) || strings.Join(res.deltas, "") != "so far" || res.usage.InputTokens != 4 {
		t.Fatalf("cancelled run: got %+v; want context.Canceled with the text so far and the usage", res)
	}

	done = f.start(context.Background(), aicard.Job{Run: "run-e", Prompt: "p"})
	_, replyTo = f.nextJob()
	f.reply(replyTo, "run-e", `{"type":"error","message":"the model is overloaded"}`)
	res = waitResult(t, done)
	var pe *ai.Error
	if !errors.As(res.err, &pe) || pe.Message != "the model is overloaded" {
		t.Fatalf("failed run: got %v; want the worker's message", res.err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	done = f.start(ctx, aicard.Job{Run: "run-silent", Prompt: "p"})
	f.nextJob()
	t0 := time.Now()
	cancel()
	res = waitResult(t, done)
	if !errors.Is(res.err, context.Canceled) {
		t.Fatalf("silent run: got %v; want context.Canceled", res.err)
	}
	if d := time.Since(t0); d < 1500*time.Millisecond {
		t.Errorf("silent run ended %v after its cancel; want it to wait about CancelWait (2 s) for the worker", d)
	}
}
