package bridge

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
)

// AIEvent is the body of an event with routing key canvas.<id>.ai: an AI
// run's result written to its card (package aicard: Finished, or
// Unresolved for a run that could not start). Its message_id is
// "<canvas>:<seq>:ai", seq the batch that wrote it, published after that
// batch's changes event.
type AIEvent struct {
	Canvas string `json:"canvas"`
	// Card is the AI card's node id.
	Card string `json:"card"`
	// Run is the run's id; "" for a run that could not start (no provider
	// or model for it).
	Run string `json:"run,omitempty"`
	// Status is done, error or cancelled (a run cancelled by a client,
	// with its partial answer).
	Status string `json:"status"`
	Answer string `json:"answer"`
	Error  string `json:"error,omitempty"`
	// Usage is the run's tokens; absent for a run that could not start.
	Usage    *AIUsage `json:"usage,omitempty"`
	Provider string   `json:"provider,omitempty"`
	Model    string   `json:"model,omitempty"`
	// Seq and At are the batch's seq on its canvas and commit time (unix
	// ms).
	Seq uint64 `json:"seq"`
	At  int64  `json:"at"`
}

// AIUsage is the tokens an AI run used.
type AIUsage struct {
	Input  int `json:"input"`
	Output int `json:"output"`
}

// AIMessageID is the message_id of the AI event of canvasID's batch seq.
func AIMessageID(canvasID string, seq uint64) string {
	return canvasID + ":" + strconv.FormatUint(seq, 10) + ":ai"
}

var aiFinishedKey = []byte(`"data.ai_finished_at"`)

// aiEvents returns the AI events of a committed batch (raw, as
// journaled): one per node.update that writes a run's result. A result
// sets data.ai_finished_at with data.ai_usage (aicard.Finished) or with
// data.ai_error (aicard.Unresolved); a client's cancel sets neither (the
// run's result, with the partial answer, comes after it). A batch that
// does not decode has none.
func aiEvents(canvasID string, raw []byte) []AIEvent {
	if !bytes.Contains(raw, aiFinishedKey) {
		return nil // the usual case, without decoding the batch
	}
	var b struct {
		Seq uint64      `json:"seq"`
		At  int64       `json:"at"`
		Ops []canvas.Op `json:"ops"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil
	}
	var out []AIEvent
	for _, op := range b.Ops {
		if op.Op != canvas.OpNodeUpdate || op.Set["data.ai_finished_at"] == nil {
			continue
		}
		usage, failed := op.Set["data.ai_usage"], op.Set["data.ai_error"]
		if usage == nil && failed == nil {
			continue // a cancel: the run's result follows
		}
		ev := AIEvent{Canvas: canvasID, Card: op.ID, Seq: b.Seq, At: b.At,
			Run: setString(op, "ai_run"), Status: setString(op, "ai_status"), Answer: setString(op, "answer"),
			Error: setString(op, "ai_error"), Provider: setString(op, "ai_provider"), Model: setString(op, "ai_model")}
		if ev.Status == "" {
			// aicard.Finished leaves the status of a card cancelled
			// during its run as it was.
			ev.Status = aicard.StatusCancelled
		}
		if usage != nil {
			ev.Usage = &AIUsage{}
			if err := json.Unmarshal(usage, ev.Usage); err != nil {
				ev.Usage = nil
			}
		}
		out = append(out, ev)
	}
	return out
}

// setString is the string op sets data.key to, "" when it sets none.
func setString(op canvas.Op, key string) string {
	var s string
	_ = json.Unmarshal(op.Set["data."+key], &s)
	return s
}
