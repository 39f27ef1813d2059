package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aicard"
)

// MappingAIWorkers names the AI workers mapping in Status and the metrics.
const MappingAIWorkers = "ai_workers"

// AIWorkersConfig configures the AI jobs that go to workers outside SKER
// (AI_WORKER_QUEUE); docs/bridge.md gives the messages.
type AIWorkersConfig struct {
	// Queue is the durable queue of jobs; required.
	Queue string
	// Node names this node's reply queue, Queue + ".replies." + Node.
	Node string
	// Logger is where the mapping logs; nil means slog.Default().
	Logger *slog.Logger
	// CancelWait is how long a cancelled run waits for the worker's last
	// reply before it ends anyway; default 2s.
	CancelWait time.Duration
	// PublishTimeout bounds waiting for RabbitMQ to confirm a job or a
	// cancel; default 10s.
	PublishTimeout time.Duration
	// ReplyQueueExpiry is how long the reply queue outlives the last node
	// that used it (RabbitMQ's x-expires); default 1h.
	ReplyQueueExpiry time.Duration
}

// CancelExchange is the fanout exchange that a cancel of a job of queue
// goes to: every worker binds a queue of its own to it.
func CancelExchange(queue string) string { return queue + ".cancel" }

// ReplyQueue is the queue that the workers answer a node's jobs on.
func ReplyQueue(queue, node string) string { return queue + ".replies." + node }

// AIWorkers sends AI jobs to workers over RabbitMQ and hands their answers
// to the runs waiting for them: an aiengine.Runner, run as one of the
// bridge's mappings (Config.AIWorkers), on the bridge's connection.
type AIWorkers struct {
	cfg        AIWorkersConfig
	log        *slog.Logger
	st         *stats
	replyQueue string

	mu   sync.Mutex
	ch   *amqp.Channel // for jobs and cancels; nil while not connected
	up   chan struct{} // closed when ch is set; replaced when it goes
	runs map[string]*outsideRun
}

// NewAIWorkers returns the mapping; it moves nothing until the bridge that
// holds it runs.
func NewAIWorkers(cfg AIWorkersConfig) (*AIWorkers, error) {
	if cfg.Node == "" {
		return nil, errors.New("bridge: AIWorkersConfig needs Node")
	}
	for _, n := range []struct{ field, v string }{
		{"Queue", cfg.Queue}, {"Queue's cancel exchange", CancelExchange(cfg.Queue)}, {"Queue's reply queue", ReplyQueue(cfg.Queue, cfg.Node)},
	} {
		if err := checkName("AI workers: "+n.field, n.v); err != nil {
			return nil, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CancelWait <= 0 {
		cfg.CancelWait = 2 * time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.ReplyQueueExpiry <= 0 {
		cfg.ReplyQueueExpiry = time.Hour
	}
	return &AIWorkers{
		cfg: cfg, log: cfg.Logger.With("component", "bridge", "mapping", MappingAIWorkers),
		st: newStats(MappingAIWorkers), replyQueue: ReplyQueue(cfg.Queue, cfg.Node),
		up: make(chan struct{}), runs: map[string]*outsideRun{},
	}, nil
}

func (w *AIWorkers) stats() *stats { return w.st }

// WorkerJob is the body of a job message on the AI worker queue.
type WorkerJob struct {
	Type     string `json:"type"` // "job"
	Run      string `json:"run"`
	Canvas   string `json:"canvas"`
	Card     string `json:"card"`
	User     string `json:"user"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// System and Messages are the request as SKER's own providers would
	// send it: the card's system prompt, and one user message with the
	// upstream cards' text and the prompt.
	System   string          `json:"system"`
	Messages []WorkerMessage `json:"messages"`
	// Prompt, Context and Omitted are the card's prompt and upstream cards
	// as they are, for a worker that builds its own request.
	Prompt      string               `json:"prompt"`
	Context     []aicard.ContextCard `json:"context"`
	Omitted     int                  `json:"omitted"`
	Temperature *float64             `json:"temperature,omitempty"`
	MaxTokens   int                  `json:"max_tokens,omitempty"`
	// Deadline is when SKER gives the run up, unix milliseconds.
	Deadline int64 `json:"deadline"`
	// CancelExchange is where a cancel of this run is published.
	CancelExchange string `json:"cancel_exchange"`
}

// WorkerMessage is one turn of a job's request, as chat APIs take it.
type WorkerMessage struct {
	Role    string `json:"role"` // "user" or "assistant"
	Content string `json:"content"`
}

// WorkerReply is the body of a worker's answer on a job's reply_to.
type WorkerReply struct {
	Type    string       `json:"type"` // "delta", "done", "error" or "cancelled"
	Run     string       `json:"run"`
	Seq     uint64       `json:"seq,omitempty"`  // delta: 1, 2, … in order
	Text    string       `json:"text,omitempty"` // delta: the next piece of the answer
	Usage   *WorkerUsage `json:"usage,omitempty"`
	Message string       `json:"message,omitempty"` // error: for the card
}

// WorkerUsage is the usage a worker reports with done or cancelled.
type WorkerUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Reply types.
const (
	replyDelta     = "delta"
	replyDone      = "done"
	replyError     = "error"
	replyCancelled = "cancelled"
)

// outsideRun is a run waiting for its worker's replies.
type outsideRun struct {
	mu      sync.Mutex
	replies []WorkerReply
	signal  chan struct{} // cap 1: replies grew
}

func (r *outsideRun) push(rep WorkerReply) {
	r.mu.Lock()
	r.replies = append(r.replies, rep)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *outsideRun) take() []WorkerReply {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.replies
	r.replies = nil
	return out
}

// Run implements aiengine.Runner: it publishes the job (waiting for the
// connection while there is none), then streams the worker's deltas to
// onDelta until its done, error or cancelled. When ctx ends it publishes
// a cancel and waits CancelWait for the worker's last reply.
func (w *AIWorkers) Run(ctx context.Context, job aicard.Job, req ai.Request, onDelta func(string) error) (ai.Usage, error) {
	r := &outsideRun{signal: make(chan struct{}, 1)}
	w.mu.Lock()
	if _, dup := w.runs[job.Run]; dup {
		w.mu.Unlock()
		return ai.Usage{}, fmt.Errorf("bridge: run %s is already with a worker", job.Run)
	}
	w.runs[job.Run] = r
	w.mu.Unlock()
	w.st.lag.Add(1)
	defer func() {
		w.mu.Lock()
		delete(w.runs, job.Run)
		w.mu.Unlock()
		w.st.lag.Add(-1)
	}()
	if err := w.publishJob(ctx, job, req); err != nil && ctx.Err() == nil {
		return ai.Usage{}, err
	}
	// A run cancelled while its job's confirm was awaited may be with a
	// worker already: the loop below cancels it as it cancels any other.
	var last uint64
	var cancelled <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case <-r.signal:
		case <-done:
			done = nil
			w.publishCancel(job.Run)
			t := time.NewTimer(w.cfg.CancelWait)
			defer t.Stop()
			cancelled = t.C
			continue
		case <-cancelled:
			return ai.Usage{}, ctx.Err()
		}
		for _, rep := range r.take() {
			switch rep.Type {
			case replyDelta:
				if rep.Seq <= last {
					w.st.duplicates.Add(1)
					continue
				}
				last = rep.Seq
				if err := onDelta(rep.Text); err != nil {
					return ai.Usage{}, err
				}
			case replyDone, replyCancelled:
				u := rep.usage()
				if rep.Type == replyCancelled || ctx.Err() != nil {
					return u, cmpErr(ctx.Err(), errors.New("the AI worker cancelled the run"))
				}
				return u, nil
			case replyError:
				return rep.usage(), &ai.Error{Provider: "worker", Message: rep.Message}
			}
		}
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (rep WorkerReply) usage() ai.Usage {
	if rep.Usage == nil {
		return ai.Usage{}
	}
	return ai.Usage{InputTokens: rep.Usage.InputTokens, OutputTokens: rep.Usage.OutputTokens}
}

// publishJob publishes the job until RabbitMQ confirms it, connecting
// again as often as it takes, or until ctx ends.
func (w *AIWorkers) publishJob(ctx context.Context, job aicard.Job, req ai.Request) error {
	msgs := make([]WorkerMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = WorkerMessage{Role: m.Role, Content: m.Content}
	}
	body, err := json.Marshal(WorkerJob{
		Type: "job", Run: job.Run, Canvas: job.Canvas, Card: job.Node, User: job.User,
		Provider: job.Provider, Model: job.Model, System: req.System, Messages: msgs,
		Prompt: job.Prompt, Context: job.Context, Omitted: job.Omitted,
		Temperature: job.Temperature, MaxTokens: job.MaxTokens, Deadline: job.Deadline,
		CancelExchange: CancelExchange(w.cfg.Queue),
	})
	if err != nil {
		return err
	}
	msg := amqp.Publishing{
		ContentType: "application/json", Type: "job", MessageId: job.Run, CorrelationId: job.Run,
		ReplyTo: w.replyQueue, DeliveryMode: amqp.Persistent, Timestamp: time.Now(), Body: body,
	}
	if job.Deadline > 0 {
		// A job no worker took before SKER gives it up is dropped.
		msg.Expiration = strconv.FormatInt(max(job.Deadline-time.Now().UnixMilli(), 1), 10)
	}
	for attempt := 0; ; attempt++ {
		ch, up := w.channel()
		if ch != nil {
			err = w.publish(ctx, ch, "", w.cfg.Queue, msg)
			if err == nil {
				w.st.out.Add(1)
				w.st.moved()
				return nil
			}
			w.log.Warn("publishing an AI job failed; trying again", "run", job.Run, "err", err)
		}
		select {
		case <-up:
		case <-time.After(backoff(100*time.Millisecond, 2*time.Second, attempt+1)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publishCancel tells every worker that run is cancelled; best effort.
func (w *AIWorkers) publishCancel(run string) {
	ch, _ := w.channel()
	if ch == nil {
		return
	}
	body, _ := json.Marshal(map[string]string{"type": "cancel", "run": run})
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.CancelWait)
	defer cancel()
	err := w.publish(ctx, ch, CancelExchange(w.cfg.Queue), run, amqp.Publishing{
		ContentType: "application/json", Type: "cancel", CorrelationId: run, Timestamp: time.Now(), Body: body,
	})
	if err != nil {
		w.log.Warn("publishing a cancel failed", "run", run, "err", err)
		return
	}
	w.st.out.Add(1)
}

// publish publishes msg and waits for its confirm, at most PublishTimeout
// (a confirm can be lost with its connection: amqp091-go#92).
func (w *AIWorkers) publish(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.PublishTimeout)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("RabbitMQ refused the message (nack)")
	}
	return nil
}

func (w *AIWorkers) channel() (*amqp.Channel, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch, w.up
}

func (w *AIWorkers) setChannel(ch *amqp.Channel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ch = ch
	if ch != nil {
		close(w.up)
	} else {
		w.up = make(chan struct{})
	}
}

// declare declares the jobs queue, the cancel exchange and this node's
// reply queue, which outlives a lost connection (the workers' answers wait
// there) and goes ReplyQueueExpiry after the last node using it.
func (w *AIWorkers) declare(ch *amqp.Channel) error {
	if _, err := ch.QueueDeclare(w.cfg.Queue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("bridge: declare queue %s: %w", w.cfg.Queue, err)
	}
	if err := ch.ExchangeDeclare(CancelExchange(w.cfg.Queue), amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("bridge: declare exchange %s: %w", CancelExchange(w.cfg.Queue), err)
	}
	args := amqp.Table{"x-expires": w.cfg.ReplyQueueExpiry.Milliseconds()}
	if _, err := ch.QueueDeclare(w.replyQueue, true, false, false, false, args); err != nil {
		return fmt.Errorf("bridge: declare queue %s: %w", w.replyQueue, err)
	}
	return nil
}

// run is the mapping: it consumes the reply queue and hands each reply to
// its run, and keeps a confirmed channel for Run's jobs and cancels.
func (w *AIWorkers) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	in, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: ai workers: open channel: %w", err)
	}
	defer in.Close()
	if err := w.declare(in); err != nil {
		return err
	}
	out, err := confirmChannel(conn, "ai workers")
	if err != nil {
		return err
	}
	defer out.Close()
	returned := out.NotifyReturn(make(chan amqp.Return, 16))
	if err := in.Qos(256, 0, false); err != nil {
		return fmt.Errorf("bridge: ai workers: prefetch: %w", err)
	}
	tag := "sker-bridge-" + uuid.NewString()
	deliveries, err := in.Consume(w.replyQueue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("bridge: ai workers: consume %s: %w", w.replyQueue, err)
	}
	w.setChannel(out)
	defer w.setChannel(nil)
	w.st.started()
	w.st.consuming.Store(true)
	defer w.st.consuming.Store(false)
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("bridge: ai workers: the reply consumer ended")
			}
			w.deliver(d)
		case r, ok := <-returned:
			if ok {
				w.log.Warn("RabbitMQ returned an AI message unrouted", "exchange", r.Exchange, "key", r.RoutingKey, "text", r.ReplyText)
			}
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliver hands one reply to its run and acks it. A reply that is not
// one, or whose run is not waiting here (it finished, or this node
// restarted since), is dropped and counted as dead-lettered.
func (w *AIWorkers) deliver(d amqp.Delivery) {
	w.st.in.Add(1)
	if d.Redelivered {
		w.st.redelivered.Add(1)
	}
	rep, err := parseReply(d.Body)
	if err == nil && rep.Run == "" {
		rep.Run = d.CorrelationId
	}
	if err == nil && d.CorrelationId != "" && rep.Run != d.CorrelationId {
		err = fmt.Errorf("run %q does not match correlation_id %q", rep.Run, d.CorrelationId)
	}
	var r *outsideRun
	if err == nil {
		w.mu.Lock()
		r = w.runs[rep.Run]
		w.mu.Unlock()
		if r == nil {
			err = fmt.Errorf("run %q is not waiting on this node", rep.Run)
		}
	}
	if err != nil {
		w.st.deadLettered.Add(1)
		w.log.Warn("dropping an AI worker's reply", "err", err)
	} else {
		r.push(rep)
		w.st.moved()
	}
	if d.Ack(false) == nil {
		w.st.acked.Add(1)
	}
}

// parseReply reads a reply strictly: one JSON object of a known type.
func parseReply(body []byte) (WorkerReply, error) {
	var rep WorkerReply
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		return rep, fmt.Errorf("reply is not JSON of a reply: %w", err)
	}
	if dec.More() {
		return rep, errors.New("reply: data after the JSON object")
	}
	switch rep.Type {
	case replyDelta:
		if rep.Seq == 0 {
			return rep, errors.New("reply: a delta needs seq 1 or more")
		}
	case replyDone, replyError, replyCancelled:
	default:
		return rep, fmt.Errorf("reply: unknown type %q (want delta, done, error or cancelled)", rep.Type)
	}
	return rep, nil
}

// Status is the mapping's counters: In counts the replies, Out the jobs
// and cancels published, Lag the runs waiting on their workers,
// DeadLettered the replies dropped.
func (w *AIWorkers) Status() MappingStatus { return w.st.status() }
