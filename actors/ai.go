package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/textcheck"
)

// AI ops. ai.run and ai.cancel come from clients, each alone in its batch;
// the actor turns them into node.update ops on the AI card (so the journal
// holds only ordinary ops) plus a side effect after the commit: a job on
// the engine's queue, or a cancel. ai.finish is internal: the engine's
// result, applied only while the card still runs that run.
const (
	OpAIRun    = "ai.run"
	OpAICancel = "ai.cancel"
)

// AI card statuses, in data.ai_status.
const (
	AIRunning   = "running"
	AIDone      = "done"
	AIError     = "error"
	AICancelled = "cancelled"
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
	Enqueue(ctx context.Context, job AIJob) error
	// Cancel asks the worker running runID to stop.
	Cancel(runID string)
}

// AIJob is one run of an AI card, with its context assembled.
type AIJob struct {
	Run      string      `json:"run"`
	Canvas   string      `json:"canvas"`
	Node     string      `json:"node"`
	User     string      `json:"user"`
	Provider string      `json:"provider"`
	Model    string      `json:"model"`
	System   string      `json:"system,omitempty"`
	Prompt   string      `json:"prompt"`
	Context  []AIContext `json:"context"` // upstream cards, farthest first
	Omitted  int         `json:"omitted"` // cards left out to fit the budget
	// Temperature nil: the provider's default.
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Deadline    int64    `json:"deadline"` // unix ms after which the run is abandoned
}

// AIContext is one upstream card's text.
type AIContext struct {
	Node string `json:"node"`
	Kind string `json:"kind"`
	Text string `json:"text"`
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

// translateAI turns a batch holding an AI op into node.update ops and its
// side effects. ok is false for ordinary batches.
func (a *canvasActor) translateAI(m *submit) (ops []canvas.Op, fx aiEffects, ok bool, err error) {
	isAI := false
	for _, op := range m.Ops {
		if strings.HasPrefix(op.Op, "ai.") {
			isAI = true
		}
	}
	if !isAI {
		return nil, fx, false, nil
	}
	if len(m.Ops) != 1 {
		return nil, fx, true, &canvas.OpError{Code: apierr.CodeInvalidOp, Message: "an ai op must be alone in its batch", Index: -1}
	}
	op := m.Ops[0]
	n := a.st.Nodes[op.ID]
	if n == nil {
		return nil, fx, true, &canvas.OpError{Code: apierr.CodeUnknownID, Message: "no node " + quote(op.ID), Index: 0}
	}
	if n.Kind != "ai" {
		return nil, fx, true, &canvas.OpError{Code: apierr.CodeKindNotAllowed, Message: op.Op + " needs an ai card", Index: 0}
	}
	switch op.Op {
	case OpAIRun:
		ops, fx, err = a.aiRun(n, m.Author)
	case OpAICancel:
		ops, fx.after, err = a.aiCancel(n)
	default:
		err = &canvas.OpError{Code: apierr.CodeUnknownOp, Message: "unknown op " + quote(op.Op), Index: 0}
	}
	return ops, fx, true, err
}

func (a *canvasActor) aiRun(n *canvas.Node, user string) ([]canvas.Op, aiEffects, error) {
	if dataString(n, "ai_status") == AIRunning {
		return nil, aiEffects{}, &canvas.OpError{Code: apierr.CodeAIRunning, Message: "the card is already running", Index: 0}
	}
	eng := a.hub.cfg.AI
	now := a.hub.cfg.Now()
	var provider, model string
	var resolveErr error
	if eng == nil {
		resolveErr = errors.New("the AI engine is not running on this server")
	} else {
		provider, model, resolveErr = eng.Resolve(dataString(n, "provider"), dataString(n, "model"))
	}
	if resolveErr != nil {
		// The card shows the reason; nothing else is affected.
		return []canvas.Op{aiUpdate(n.ID, map[string]any{
			"ai_status": AIError, "ai_error": resolveErr.Error(), "ai_finished_at": now.UnixMilli(),
		}, "ai_run")}, aiEffects{}, nil
	}
	run := newRunID()
	if err := eng.Admit(user, run); err != nil {
		return nil, aiEffects{}, err
	}
	job := a.aiJob(n, run, user, provider, model, now)
	ops := []canvas.Op{aiUpdate(n.ID, map[string]any{
		"ai_status": AIRunning, "ai_run": run, "answer": "", "ai_provider": provider, "ai_model": model,
		"ai_started_at": now.UnixMilli(), "ai_deadline": job.Deadline,
		"ai_context": map[string]int{"cards": len(job.Context), "omitted": job.Omitted},
	}, "ai_error", "ai_usage", "ai_finished_at")}
	after := func() {
		a.watchDeadline(job.Deadline)
		h, log, id, timeout := a.hub, a.log, a.id, a.hub.cfg.AIEnqueueTimeout
		h.background(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := eng.Enqueue(ctx, job); err != nil {
				log.Error("ai: enqueue failed", "run", run, "err", err)
				eng.Release(run)
				_ = h.FinishAIRun(ctx, id, n.ID, run, canvases.AIResult{Status: AIError, Error: "the run could not be queued; try again"})
			}
		})
	}
	return ops, aiEffects{after: after, rejected: func() { eng.Release(run) }}, nil
}

func (a *canvasActor) aiCancel(n *canvas.Node) ([]canvas.Op, afterCommit, error) {
	if dataString(n, "ai_status") != AIRunning {
		return nil, nil, &canvas.OpError{Code: apierr.CodeAINotRunning, Message: "the card is not running", Index: 0}
	}
	run := dataString(n, "ai_run")
	ops := []canvas.Op{aiUpdate(n.ID, map[string]any{"ai_status": AICancelled, "ai_finished_at": a.now()})}
	eng := a.hub.cfg.AI
	return ops, func() {
		if eng != nil {
			eng.Cancel(run)
		}
	}, nil
}

// onAIFinish applies a run's result if the card still runs that run (or
// was cancelled during it, to keep the partial answer).
func (a *canvasActor) onAIFinish(m *aiFinish) {
	if eng := a.hub.cfg.AI; eng != nil {
		eng.Release(m.Run)
	}
	n := a.st.Nodes[m.Node]
	status := ""
	if n != nil {
		status = dataString(n, "ai_status")
	}
	if n == nil || dataString(n, "ai_run") != m.Run || (status != AIRunning && status != AICancelled) {
		m.answer(&submitResult{Err: canvases.ErrStaleRun})
		return
	}
	r := m.Result
	// A provider's output is not a client's input: text that clients are
	// refused for (textcheck) is cleaned here, not refused, so that a run
	// always ends and its card holds only what every store keeps.
	r.Text, r.Error = textcheck.Clean(r.Text), textcheck.Clean(r.Error)
	set := map[string]any{"answer": r.Text, "ai_finished_at": a.now(),
		"ai_usage": map[string]int{"input": r.InputTokens, "output": r.OutputTokens}}
	if status == AIRunning {
		set["ai_status"] = r.Status
	}
	var unset []string
	if r.Error != "" && status == AIRunning {
		set["ai_error"] = r.Error
	} else {
		unset = append(unset, "ai_error")
	}
	a.commit(&submit{request: m.request, Canvas: a.id, Author: "ai", Ops: []canvas.Op{aiUpdate(n.ID, set, unset...)}}, nil)
}

// aiExpireTick checks for expired runs at a run's deadline.
type aiExpireTick struct{ epoch string }

// watchDeadline schedules an expiry check just after a run's deadline.
func (a *canvasActor) watchDeadline(deadline int64) {
	wait := time.Until(time.UnixMilli(deadline)) + 100*time.Millisecond
	a.after(max(wait, 0), &aiExpireTick{epoch: a.epoch})
}

// expireAIRuns ends runs whose deadline passed with no result: their worker
// stopped (or the process running it was killed), so the card must not
// stay "running" forever.
// With schedule, runs still within their deadline get a check at it.
func (a *canvasActor) expireAIRuns(schedule bool) {
	now := a.now()
	for _, n := range a.st.Nodes {
		if n.Kind != "ai" || dataString(n, "ai_status") != AIRunning {
			continue
		}
		var deadline int64
		_ = json.Unmarshal(n.Data["ai_deadline"], &deadline)
		if deadline > now {
			if schedule {
				a.watchDeadline(deadline)
			}
			continue
		}
		a.log.Warn("ai run expired without a result", "node", n.ID, "run", dataString(n, "ai_run"))
		a.onAIFinish(&aiFinish{Canvas: a.id, Node: n.ID, Run: dataString(n, "ai_run"), Result: canvases.AIResult{
			Status: AIError, Error: "the run did not finish in time (its worker may have stopped); run it again",
		}})
	}
}

// aiJob assembles a run's job: the card's settings and the upstream cards'
// texts, nearest kept first when cutting to the budget.
func (a *canvasActor) aiJob(n *canvas.Node, run, user, provider, model string, now time.Time) AIJob {
	job := AIJob{
		Run: run, Canvas: a.id, Node: n.ID, User: user, Provider: provider, Model: model,
		System: dataString(n, "system"), Prompt: dataString(n, "prompt"),
		Deadline: now.Add(a.hub.cfg.AIRunTimeout + min(30*time.Second, a.hub.cfg.AIRunTimeout)).UnixMilli(),
	}
	if job.Prompt == "" {
		job.Prompt = dataString(n, "text")
	}
	var t float64
	if json.Unmarshal(n.Data["temperature"], &t) == nil && n.Data["temperature"] != nil {
		job.Temperature = &t
	}
	_ = json.Unmarshal(n.Data["max_tokens"], &job.MaxTokens)
	var items []AIContext
	for _, up := range a.st.Upstream(n.ID) {
		text := dataString(up, "text")
		if up.Kind == "ai" {
			text = dataString(up, "answer")
		}
		if strings.TrimSpace(text) != "" {
			items = append(items, AIContext{Node: up.ID, Kind: up.Kind, Text: text})
		}
	}
	// Keep the nearest cards (the end of the list) within the budget.
	budget := a.hub.cfg.AIContextTokens
	used, keepFrom := 0, len(items)
	for keepFrom > 0 {
		cost := estimateTokens(items[keepFrom-1].Text)
		if used+cost > budget {
			break
		}
		used += cost
		keepFrom--
	}
	job.Context, job.Omitted = items[keepFrom:], keepFrom
	return job
}

// estimateTokens is a provider-neutral estimate: about four bytes a token.
func estimateTokens(s string) int { return (len(s) + 3) / 4 }

func aiUpdate(id string, set map[string]any, unset ...string) canvas.Op {
	op := canvas.Op{Op: canvas.OpNodeUpdate, ID: id, Set: map[string]json.RawMessage{}}
	for k, v := range set {
		b, _ := json.Marshal(v)
		op.Set["data."+k] = b
	}
	for _, k := range unset {
		op.Unset = append(op.Unset, "data."+k)
	}
	return op
}

func dataString(n *canvas.Node, key string) string {
	var s string
	_ = json.Unmarshal(n.Data[key], &s)
	return s
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func newRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
