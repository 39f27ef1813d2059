package actors

import (
	"context"
	"errors"
	"time"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// AIEngine is what canvas actors need of the AI engine.
type AIEngine interface {
	// Resolve picks the provider and model for a card (empty: defaults)
	// or returns an error whose message the card shows.
	Resolve(provider, model string) (string, string, error)
	// Admit counts a new run against the user's limits, or returns an
	// *canvas.OpError with apierr.CodeAILimit or apierr.CodeAIRateLimited.
	Admit(userID, runID string) error
	// Release ends a run's count; calling it twice is harmless.
	Release(runID string)
	// Enqueue puts a job on the work queue.
	Enqueue(ctx context.Context, job aicard.Job) error
	// Cancel asks the worker running runID to stop.
	Cancel(runID string)
}

// aiFinish is the engine's result for a run, routed like any request.
type aiFinish struct {
	request
	Canvas, Node, Run string
	Result            canvases.AIResult
}

func (m *aiFinish) canvasID() string { return m.Canvas }

// FinishAIRun commits a run's result to its card, or answers
// canvases.ErrStaleRun when the card no longer runs that run.
func (h *Hub) FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, r canvases.AIResult) error {
	res, err := ask[*submitResult](ctx, h, &aiFinish{Canvas: canvasID, Node: nodeID, Run: runID, Result: r})
	if err != nil {
		return err
	}
	return res.Err
}

// afterCommit is a side effect of a batch, run once the journal has it.
type afterCommit func()

// aiEffects are an AI op's side effects: after its commit, and if its
// translated batch is rejected.
type aiEffects struct {
	after    afterCommit
	rejected func()
}

// translateAI turns a batch holding an AI op (package aicard) into the
// node.update of its card and its side effects. ok is false for ordinary
// batches.
func (a *canvasActor) translateAI(m *submit) (ops []canvas.Op, fx aiEffects, ok bool, err error) {
	if !aicard.HasOp(m.Ops) {
		return nil, fx, false, nil
	}
	op, card, err := aicard.Check(a.st, m.Ops)
	if err != nil {
		return nil, fx, true, err
	}
	switch op.Op {
	case aicard.OpRun:
		ops, fx, err = a.aiRun(card, m.Author)
	case aicard.OpCancel:
		ops, fx.after = a.aiCancel(card)
	}
	return ops, fx, true, err
}

// aiRun starts a run of card n: the engine admits it, and once the card's
// update is committed its job goes on the engine's queue and its deadline
// is watched.
func (a *canvasActor) aiRun(n *canvas.Node, user string) ([]canvas.Op, aiEffects, error) {
	eng := a.hub.cfg.AI
	now := a.hub.cfg.Now()
	var provider, model string
	var resolveErr error
	if eng == nil {
		resolveErr = errors.New("the AI engine is not running on this server")
	} else {
		provider, model, resolveErr = eng.Resolve(aicard.Choice(n))
	}
	if resolveErr != nil {
		return []canvas.Op{aicard.Unresolved(n, resolveErr, now)}, aiEffects{}, nil
	}
	run := aicard.NewRunID()
	if err := eng.Admit(user, run); err != nil {
		return nil, aiEffects{}, err
	}
	job := aicard.NewJob(a.st, n, aicard.Spec{
		Run: run, User: user, Provider: provider, Model: model, Now: now,
		RunTimeout: a.hub.cfg.AIRunTimeout, ContextTokens: a.hub.cfg.AIContextTokens,
	})
	after := func() {
		a.watchDeadline(job.Deadline)
		h, log, id, timeout := a.hub, a.log, a.id, a.hub.cfg.AIEnqueueTimeout
		h.background(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := eng.Enqueue(ctx, job); err != nil {
				log.Error("ai: enqueue failed", "run", run, "err", err)
				eng.Release(run)
				_ = h.FinishAIRun(ctx, id, job.Node, run, canvases.AIResult{Status: aicard.StatusError, Error: "the run could not be queued; try again"})
			}
		})
	}
	return []canvas.Op{aicard.Started(job, now)}, aiEffects{after: after, rejected: func() { eng.Release(run) }}, nil
}

// aiCancel cancels the run of card n; once that is committed the engine
// is told.
func (a *canvasActor) aiCancel(n *canvas.Node) ([]canvas.Op, afterCommit) {
	run := aicard.Run(n)
	eng := a.hub.cfg.AI
	return []canvas.Op{aicard.Cancelled(n, a.hub.cfg.Now())}, func() {
		if eng != nil {
			eng.Cancel(run)
		}
	}
}

// onAIFinish applies a run's result if the card still runs that run (or
// was cancelled during it, to keep the partial answer).
func (a *canvasActor) onAIFinish(m *aiFinish) {
	if eng := a.hub.cfg.AI; eng != nil {
		eng.Release(m.Run)
	}
	op, err := aicard.Finished(a.st.Nodes[m.Node], m.Run, m.Result, a.hub.cfg.Now())
	if err != nil {
		m.answer(&submitResult{Err: err})
		return
	}
	a.commit(&submit{request: m.request, Canvas: a.id, Author: aicard.Author, Ops: []canvas.Op{op}}, nil)
}

// aiExpireTick checks for expired runs at a run's deadline.
type aiExpireTick struct{ epoch string }

// watchDeadline schedules an expiry check just after a run's deadline.
func (a *canvasActor) watchDeadline(deadline int64) {
	wait := time.Until(time.UnixMilli(deadline)) + 100*time.Millisecond
	a.after(max(wait, 0), &aiExpireTick{epoch: a.epoch})
}

// expireAIRuns ends runs whose deadline passed with no result (see
// aicard.Expired). With schedule, runs still within their deadline get a
// check at it.
func (a *canvasActor) expireAIRuns(schedule bool) {
	now := a.now()
	for _, n := range a.st.Nodes {
		run, ok := aicard.Running(n)
		if !ok {
			continue
		}
		if deadline := aicard.Deadline(n); deadline > now {
			if schedule {
				a.watchDeadline(deadline)
			}
			continue
		}
		a.log.Warn("ai run expired without a result", "node", n.ID, "run", run)
		a.onAIFinish(&aiFinish{Canvas: a.id, Node: n.ID, Run: run, Result: aicard.Expired()})
	}
}
