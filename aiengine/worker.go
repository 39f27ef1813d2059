package aiengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// errCancelled is the cause of a run cancelled by a user or a deletion.
var errCancelled = errors.New("cancelled")

// Start makes this process a worker: it takes jobs from the queue, at most
// Workers at a time, and commits results through f.
func (e *Engine) Start(ctx context.Context, f Finisher) error {
	cons, err := e.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       natsname.AIWorkers,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: e.cfg.Workers * 4,
	})
	if err != nil {
		return fmt.Errorf("aiengine: consumer: %w", err)
	}
	e.consume, err = cons.Consume(func(msg jetstream.Msg) { e.take(msg, f) })
	if err != nil {
		return fmt.Errorf("aiengine: consume: %w", err)
	}
	return nil
}

// take waits for a free slot, acknowledges the job (a run is attempted at
// most once: a worker that dies mid-run leaves the card to expire) and
// runs it on its own goroutine.
func (e *Engine) take(msg jetstream.Msg, f Finisher) {
	select {
	case e.slots <- struct{}{}:
	case <-e.stopped:
		_ = msg.Nak()
		return
	}
	var job aicard.Job
	if err := json.Unmarshal(msg.Data(), &job); err != nil {
		e.log.Error("dropping a malformed job", "err", err)
		_ = msg.Term()
		<-e.slots
		return
	}
	_ = msg.Ack()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.slots }()
		e.run(job, f)
	}()
}

// Stop stops taking jobs, cancels the runs in progress (their cards get
// "cancelled" with the text so far) and waits for them, or for ctx.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() {
		close(e.stopped)
		if e.consume != nil {
			e.consume.Stop()
		}
		_ = e.cancelSub.Unsubscribe()
		e.mu.Lock()
		for _, cancel := range e.local {
			cancel()
		}
		e.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run executes one job: stream the answer, then commit it and record usage.
func (e *Engine) run(job aicard.Job, f Finisher) {
	start := time.Now()
	log := e.log.With("run", job.Run, "canvas_id", job.Canvas, "node", job.Node)
	ctx, cancel := context.WithCancelCause(context.Background())
	ctx, stopTimeout := context.WithTimeout(ctx, e.cfg.RunTimeout)
	defer stopTimeout()
	e.mu.Lock()
	e.local[job.Run] = func() { cancel(errCancelled) }
	if _, early := e.cancelled[job.Run]; early {
		delete(e.cancelled, job.Run)
		cancel(errCancelled)
	}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.local, job.Run)
		e.mu.Unlock()
		cancel(nil)
		e.Release(job.Run)
	}()

	out := newStreamer(e, job)
	usage, err := e.callProvider(ctx, job, out.add)
	out.flush()
	res := canvases.AIResult{Status: aicard.StatusDone, Text: out.text(), InputTokens: usage.InputTokens, OutputTokens: usage.OutputTokens}
	switch {
	case errors.Is(context.Cause(ctx), errCancelled):
		res.Status = aicard.StatusCancelled
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status, res.Error = aicard.StatusError, fmt.Sprintf("the model did not finish within %v", e.cfg.RunTimeout)
	case err != nil:
		res.Status, res.Error = aicard.StatusError, readable(err)
	}
	out.end()
	// Usage first: when the card shows the result, its usage is on record.
	e.record(job, res, time.Since(start), log)
	e.finish(job, res, f, log)
}

// callProvider streams the job from its provider, or from the outside
// workers when there are.
func (e *Engine) callProvider(ctx context.Context, job aicard.Job, onDelta func(string) error) (ai.Usage, error) {
	if e.cfg.Outside != nil {
		return e.cfg.Outside.Run(ctx, job, Request(job), onDelta)
	}
	p, err := e.cfg.Registry.Lookup(job.Provider)
	if err != nil {
		return ai.Usage{}, err
	}
	return p.Stream(ctx, buildRequest(job, e.imageFor(ctx, job)), onDelta)
}

// imageFor gives the images of job's image cards, or the note its model
// reads instead.
func (e *Engine) imageFor(ctx context.Context, job aicard.Job) func(aicard.ContextCard) (*ai.Image, string) {
	return func(c aicard.ContextCard) (*ai.Image, string) {
		switch {
		case slices.Contains(e.cfg.TextOnlyModels, job.Model):
			return nil, "the image is left out: this model takes no images"
		case e.cfg.Images == nil:
			return nil, "the image itself is not included"
		}
		img, err := e.cfg.Images.Image(ctx, job.Canvas, c.File)
		if err != nil {
			e.log.Warn("ai: an upstream image is left out", "run", job.Run, "canvas_id", job.Canvas, "card", c.Node, "err", err)
			return nil, "the image could not be read"
		}
		return &img, ""
	}
}

// finish commits the result, retrying while the canvas is unavailable (for
// example while it moves to another node).
func (e *Engine) finish(job aicard.Job, res canvases.AIResult, f Finisher, log interface {
	Warn(string, ...any)
}) {
	for attempt := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.FinishTimeout)
		err := f.FinishAIRun(ctx, job.Canvas, job.Node, job.Run, res)
		cancel()
		if err == nil || errors.Is(err, canvases.ErrStaleRun) || errors.Is(err, canvases.ErrNotFound) {
			return
		}
		log.Warn("ai: committing the result failed; retrying", "err", err, "attempt", attempt+1)
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
	}
}

func (e *Engine) record(job aicard.Job, res canvases.AIResult, d time.Duration, log interface {
	Warn(string, ...any)
}) {
	e.cfg.Metrics.observe(job.Provider, res.Status, d)
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RecordTimeout)
	defer cancel()
	err := e.cfg.Store.RecordAIRun(ctx, store.AIRun{
		ID: job.Run, UserID: job.User, CanvasID: job.Canvas, NodeID: job.Node,
		Provider: job.Provider, Model: job.Model, InputTokens: int64(res.InputTokens), OutputTokens: int64(res.OutputTokens),
		Duration: d, Outcome: res.Status, Error: res.Error, CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		log.Warn("ai: recording usage failed", "err", err)
	}
}

// readable is the message a card shows for a failed run.
func readable(err error) string {
	var pe *ai.Error
	if errors.As(err, &pe) {
		return pe.Error()
	}
	if errors.Is(err, ai.ErrNoProvider) {
		return err.Error()
	}
	return "the AI provider failed: " + err.Error()
}
