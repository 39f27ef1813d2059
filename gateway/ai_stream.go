package gateway

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/nats-io/nats.go"
)

// AI answers stream to clients as ephemeral "ai.delta" frames published by
// the AI engine on the canvas's AI subject (never journaled); the final text
// arrives as an ordinary committed change. The room keeps the text so far
// of each running answer, so that a client joining mid-run first gets an
// "ai.text" frame with it and then the deltas that follow.

// AI stream frame types.
const (
	typeAIDelta = "ai.delta"
	typeAIEnd   = "ai.end"
	typeAIText  = "ai.text"
)

// aiFrame is a delta or end published by the engine, and the ai.text frame
// sent to joiners.
type aiFrame struct {
	Type   string `json:"type"`
	Canvas string `json:"canvas"`
	Node   string `json:"node"`
	Run    string `json:"run"`
	Offset int    `json:"offset"`          // bytes of the answer before this delta
	Delta  string `json:"delta,omitempty"` // ai.delta
	Text   string `json:"text,omitempty"`  // ai.text
}

// aiText is a running answer's text so far.
type aiText struct {
	run  string
	text []byte
}

// onAI keeps the text so far and forwards the frame to every member.
func (r *room) onAI(msg *nats.Msg) {
	var f aiFrame
	if err := json.Unmarshal(msg.Data, &f); err != nil || f.Node == "" || f.Run == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ai == nil {
		r.ai = map[string]*aiText{}
	}
	switch f.Type {
	case typeAIDelta:
		cur := r.ai[f.Node]
		if cur == nil || cur.run != f.Run {
			cur = &aiText{run: f.Run}
			r.ai[f.Node] = cur
		}
		if f.Offset == len(cur.text) {
			cur.text = append(cur.text, f.Delta...)
		}
	case typeAIEnd:
		if cur := r.ai[f.Node]; cur != nil && cur.run == f.Run {
			delete(r.ai, f.Node)
		}
	default:
		return
	}
	for s := range r.members {
		s.offer(outMsg{data: msg.Data})
	}
}

// sendAITexts sends a new member the text so far of every running answer.
// Lock held.
func (r *room) sendAITexts(s *session) {
	for _, n := range slices.Sorted(maps.Keys(r.ai)) {
		t := r.ai[n]
		s.enqueue(outMsg{data: mustJSON(aiFrame{Type: typeAIText, Canvas: r.id, Node: n, Run: t.run, Text: string(t.text)})})
	}
}
