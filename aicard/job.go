package aicard

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/skerhq/sker/canvas"
)

// Job is one run of an AI card, with its context assembled: what the AI
// engine's work queue carries, as JSON.
type Job struct {
	Run      string        `json:"run"`
	Canvas   string        `json:"canvas"`
	Node     string        `json:"node"`
	User     string        `json:"user"`
	Provider string        `json:"provider"`
	Model    string        `json:"model"`
	System   string        `json:"system,omitempty"`
	Prompt   string        `json:"prompt"`
	Context  []ContextCard `json:"context"` // upstream cards, farthest first
	Omitted  int           `json:"omitted"` // cards left out to fit the budget
	// Temperature nil: the provider's default.
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Deadline    int64    `json:"deadline"` // unix ms after which the run is abandoned
}

// ContextCard is one upstream card's text.
type ContextCard struct {
	Node string `json:"node"`
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Spec is what a job takes besides its card.
type Spec struct {
	Run, User, Provider, Model string
	Now                        time.Time
	// RunTimeout is how long the run may take; the job's deadline adds
	// min(RunTimeout, 30s) of grace, after which the card is marked failed.
	RunTimeout time.Duration
	// ContextTokens is the budget of upstream text, estimated at four
	// bytes a token.
	ContextTokens int
}

// NewJob assembles the job of a run of card n of st: the card's settings
// and the texts of the cards upstream of it, the nearest kept first when
// cutting to the budget.
func NewJob(st *canvas.State, n *canvas.Node, s Spec) Job {
	job := Job{
		Run: s.Run, Canvas: st.ID, Node: n.ID, User: s.User, Provider: s.Provider, Model: s.Model,
		System: dataString(n, "system"), Prompt: dataString(n, "prompt"),
		Deadline: s.Now.Add(s.RunTimeout + min(30*time.Second, s.RunTimeout)).UnixMilli(),
	}
	if job.Prompt == "" {
		job.Prompt = dataString(n, "text")
	}
	var t float64
	if json.Unmarshal(n.Data["temperature"], &t) == nil && n.Data["temperature"] != nil {
		job.Temperature = &t
	}
	_ = json.Unmarshal(n.Data["max_tokens"], &job.MaxTokens)
	var items []ContextCard
	for _, up := range st.Upstream(n.ID) {
		text := dataString(up, "text")
		if up.Kind == Kind {
			text = dataString(up, "answer")
		}
		if strings.TrimSpace(text) != "" {
			items = append(items, ContextCard{Node: up.ID, Kind: up.Kind, Text: text})
		}
	}
	// Keep the nearest cards (the end of the list) within the budget.
	used, keepFrom := 0, len(items)
	for keepFrom > 0 {
		cost := estimateTokens(items[keepFrom-1].Text)
		if used+cost > s.ContextTokens {
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
