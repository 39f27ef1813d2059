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

// ContextCard is one upstream card's text; for an image card, the image
// it shows (File, the file's id on the canvas, and its Type) and its name
// as Text.
type ContextCard struct {
	Node string `json:"node"`
	Kind string `json:"kind"`
	Text string `json:"text"`
	File string `json:"file,omitempty"`
	Type string `json:"type,omitempty"`
}

// ImageTokens is what an image counts for against the context budget: a
// provider-neutral estimate of a downscaled image (OpenAI's high detail
// tiles and Anthropic's width×height/750 come to about this for 1024 px).
const ImageTokens = 1000

// cost is what c counts for against the context budget.
func (c ContextCard) cost() int {
	if c.File != "" {
		return ImageTokens + estimateTokens(c.Text)
	}
	return estimateTokens(c.Text)
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
		if c, ok := fileCard(up); ok {
			items = append(items, c)
			continue
		}
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
		cost := items[keepFrom-1].cost()
		if used+cost > s.ContextTokens {
			break
		}
		used += cost
		keepFrom--
	}
	job.Context, job.Omitted = items[keepFrom:], keepFrom
	return job
}

// fileCard is the context of an image or file card: an image card that
// shows a file (data.file, a hex SHA-256) is an image with its name; a
// file card is a line naming the file. Other cards are not file cards.
func fileCard(n *canvas.Node) (ContextCard, bool) {
	if n.Kind != "image" && n.Kind != "file" {
		return ContextCard{}, false
	}
	id, name, typ := dataString(n, "file"), dataString(n, "name"), dataString(n, "type")
	if !validFileID(id) {
		return ContextCard{}, false
	}
	if n.Kind == "file" {
		text := "a file"
		if name != "" {
			text += " named " + quote(name)
		}
		if typ != "" {
			text += " (" + typ + ")"
		}
		return ContextCard{Node: n.ID, Kind: n.Kind, Text: text + "; its content is not included"}, true
	}
	return ContextCard{Node: n.ID, Kind: n.Kind, Text: name, File: id, Type: typ}, true
}

// validFileID: a file id is a hex SHA-256 in lower case.
func validFileID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// estimateTokens is a provider-neutral estimate: about four bytes a token.
func estimateTokens(s string) int { return (len(s) + 3) / 4 }
