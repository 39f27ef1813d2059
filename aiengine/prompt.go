package aiengine

import (
	"fmt"
	"strconv"
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
// An image card is named in the text and not sent: buildRequest with an
// image source sends it.
func Request(job aicard.Job) ai.Request {
	return buildRequest(job, func(aicard.ContextCard) (*ai.Image, string) {
		return nil, "the image itself is not included"
	})
}

// buildRequest is Request with the images of image cards: image gives an
// upstream image card's image, or nil and the note that the model reads
// instead. The text marks each image sent as [image N], in the order of
// the message's Images.
func buildRequest(job aicard.Job, image func(aicard.ContextCard) (*ai.Image, string)) ai.Request {
	system := job.System
	if strings.TrimSpace(system) == "" {
		system = DefaultSystem
	}
	var b strings.Builder
	var images []ai.Image
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
			if c.File == "" {
				fmt.Fprintf(&b, "\n--- %s\n%s\n", label, c.Text)
				continue
			}
			name := ""
			if c.Text != "" {
				name = " " + strconv.Quote(c.Text)
			}
			if img, note := image(c); img != nil {
				images = append(images, *img)
				fmt.Fprintf(&b, "\n--- image%s: [image %d]\n", name, len(images))
			} else {
				fmt.Fprintf(&b, "\n--- image%s\n(%s.)\n", name, note)
			}
		}
		b.WriteString("\nQuestion:\n")
	}
	b.WriteString(job.Prompt)
	return ai.Request{
		Model: job.Model, System: system, Temperature: job.Temperature, MaxTokens: job.MaxTokens,
		Messages: []ai.Message{{Role: "user", Content: b.String(), Images: images}},
	}
}
