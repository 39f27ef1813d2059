package aicard

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/textcheck"
)

// Kind is the node kind of an AI card.
const Kind = "ai"

// The ops a client sends to an AI card, each alone in its batch. They are
// never journaled: the canvas actor turns each into a node.update of the
// card (Started, Cancelled) plus a side effect after the commit.
const (
	OpRun    = "ai.run"
	OpCancel = "ai.cancel"
)

// The statuses of an AI card, in data.ai_status; a card never run has
// none.
const (
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusError     = "error"
	StatusCancelled = "cancelled"
)

// Author is the author of the batch that writes a run's result.
const Author = "ai"

// HasOp reports whether a batch holds an AI op.
func HasOp(ops []canvas.Op) bool {
	for _, op := range ops {
		if strings.HasPrefix(op.Op, "ai.") {
			return true
		}
	}
	return false
}

// Check returns the one AI op of a batch that HasOp and the card of st it
// is for, or the *canvas.OpError the batch is rejected with.
func Check(st *canvas.State, ops []canvas.Op) (canvas.Op, *canvas.Node, error) {
	if len(ops) != 1 {
		return canvas.Op{}, nil, &canvas.OpError{Code: apierr.CodeInvalidOp, Message: "an ai op must be alone in its batch", Index: -1}
	}
	op := ops[0]
	n := st.Nodes[op.ID]
	if n == nil {
		return op, nil, &canvas.OpError{Code: apierr.CodeUnknownID, Message: "no node " + quote(op.ID), Index: 0}
	}
	if n.Kind != Kind {
		return op, nil, &canvas.OpError{Code: apierr.CodeKindNotAllowed, Message: op.Op + " needs an ai card", Index: 0}
	}
	switch op.Op {
	case OpRun:
		if Status(n) == StatusRunning {
			return op, nil, &canvas.OpError{Code: apierr.CodeAIRunning, Message: "the card is already running", Index: 0}
		}
	case OpCancel:
		if Status(n) != StatusRunning {
			return op, nil, &canvas.OpError{Code: apierr.CodeAINotRunning, Message: "the card is not running", Index: 0}
		}
	default:
		return op, nil, &canvas.OpError{Code: apierr.CodeUnknownOp, Message: "unknown op " + quote(op.Op), Index: 0}
	}
	return op, n, nil
}

// Status is the card's status ("" for a card never run).
func Status(n *canvas.Node) string { return dataString(n, "ai_status") }

// Run is the id of the card's last run.
func Run(n *canvas.Node) string { return dataString(n, "ai_run") }

// Running reports whether n is an AI card that is running, and its run.
func Running(n *canvas.Node) (run string, ok bool) {
	if n.Kind != Kind || Status(n) != StatusRunning {
		return "", false
	}
	return Run(n), true
}

// Deadline is the unix ms after which the card's run is abandoned.
func Deadline(n *canvas.Node) int64 {
	var deadline int64
	_ = json.Unmarshal(n.Data["ai_deadline"], &deadline)
	return deadline
}

// Choice is the provider and model the card asks for; "" means the
// engine's default.
func Choice(n *canvas.Node) (provider, model string) {
	return dataString(n, "provider"), dataString(n, "model")
}

// NewRunID returns a new, random run id.
func NewRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Unresolved is the update of a card that cannot run (no provider or model
// for it): it shows why, and nothing else is affected.
func Unresolved(n *canvas.Node, reason error, now time.Time) canvas.Op {
	return update(n.ID, map[string]any{
		"ai_status": StatusError, "ai_error": reason.Error(), "ai_finished_at": now.UnixMilli(),
	}, "ai_run")
}

// Started is the update of the card of a job that starts at now: running
// that run, with no answer yet.
func Started(job Job, now time.Time) canvas.Op {
	return update(job.Node, map[string]any{
		"ai_status": StatusRunning, "ai_run": job.Run, "answer": "", "ai_provider": job.Provider, "ai_model": job.Model,
		"ai_started_at": now.UnixMilli(), "ai_deadline": job.Deadline,
		"ai_context": map[string]int{"cards": len(job.Context), "omitted": job.Omitted},
	}, "ai_error", "ai_usage", "ai_finished_at")
}

// Cancelled is the update of a running card whose run a client cancels;
// the engine's result for the run still comes, to keep the partial answer.
func Cancelled(n *canvas.Node, now time.Time) canvas.Op {
	return update(n.ID, map[string]any{"ai_status": StatusCancelled, "ai_finished_at": now.UnixMilli()})
}

// Finished is the update that writes run's result r on card n, or
// canvases.ErrStaleRun when n (nil when deleted) no longer runs that run.
// A card cancelled during the run keeps its status and takes the partial
// answer.
//
// A provider's output is not a client's input: text that clients are
// refused for (package textcheck) is cleaned here, not refused, so that a
// run always ends and its card holds only what every store keeps.
func Finished(n *canvas.Node, run string, r canvases.AIResult, now time.Time) (canvas.Op, error) {
	if n == nil || Run(n) != run {
		return canvas.Op{}, canvases.ErrStaleRun
	}
	status := Status(n)
	if status != StatusRunning && status != StatusCancelled {
		return canvas.Op{}, canvases.ErrStaleRun
	}
	r.Text, r.Error = textcheck.Clean(r.Text), textcheck.Clean(r.Error)
	// The run, provider and model are set again, unchanged, so that the
	// batch alone says which run ended (the bridge's events read it).
	set := map[string]any{"answer": r.Text, "ai_finished_at": now.UnixMilli(),
		"ai_usage": map[string]int{"input": r.InputTokens, "output": r.OutputTokens},
		"ai_run":   run, "ai_provider": dataString(n, "ai_provider"), "ai_model": dataString(n, "ai_model")}
	if status == StatusRunning {
		set["ai_status"] = r.Status
	}
	var unset []string
	if r.Error != "" && status == StatusRunning {
		set["ai_error"] = r.Error
	} else {
		unset = append(unset, "ai_error")
	}
	return update(n.ID, set, unset...), nil
}

// Expired is the result of a run whose deadline passed with none from the
// engine: its worker stopped, or the process running it was killed, and
// the card must not stay running forever.
func Expired() canvases.AIResult {
	return canvases.AIResult{
		Status: StatusError, Error: "the run did not finish in time (its worker may have stopped); run it again",
	}
}

// update is a node.update of node id that sets and unsets data fields.
func update(id string, set map[string]any, unset ...string) canvas.Op {
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
