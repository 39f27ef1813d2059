package aiengine

import (
	"fmt"
	"strings"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aicard"
)

// DefaultSystem is the system prompt of a card that sets none.
const DefaultSystem = "You are an assistant on a shared canvas. Answer the question; " +
	"use the context cards when they are relevant."

// Request builds the provider request of a job: the card's system prompt
// and one user message with the upstream cards (farthest first, nearest
// last, so the closest context sits next to the question) and the prompt.
func Request(job aicard.Job) ai.Request {
	system := job.System
	if strings.TrimSpace(system) == "" {
		system = DefaultSystem
	}
	var b strings.Builder
	if len(job.Context) > 0 || job.Omitted > 0 {
		b.WriteString("Context from the cards connected to this one, farthest first:\n")
		if job.Omitted > 0 {
			fmt.Fprintf(&b, "(%d farther cards were left out to fit the context budget.)\n", job.Omitted)
		}
		for _, c := range job.Context {
			label := c.Kind
			if c.Kind == "ai" {
				label = "earlier AI answer"
			}
			fmt.Fprintf(&b, "\n--- %s\n%s\n", label, c.Text)
		}
		b.WriteString("\nQuestion:\n")
	}
	b.WriteString(job.Prompt)
	return ai.Request{
		Model: job.Model, System: system, Temperature: job.Temperature, MaxTokens: job.MaxTokens,
		Messages: []ai.Message{{Role: "user", Content: b.String()}},
	}
}
