// Package ai is the provider layer of SKER's AI cards: one Provider
// interface that streams a chat completion, implemented for OpenAI (and any
// OpenAI-compatible server such as Ollama, vLLM or LM Studio) and for
// Anthropic, and a Registry of the providers the configuration enables.
//
// Providers retry 429 and 5xx answers with backoff, honouring Retry-After,
// but only before the first text delta has reached the caller: once text is
// on a card, a failure ends the stream and the engine decides what to do.
// No error, log line or ProviderInfo ever carries an API key.
package ai

import "context"

// Message is one chat message; Role is "system", "user" or "assistant".
// A user message may carry Images, sent after its text to the models that
// take images (OpenAI image content parts, Anthropic image blocks); the
// text refers to them in order.
type Message struct {
	Role, Content string
	Images        []Image
}

// Image is an image sent with a message: its bytes and media type, one of
// ImageTypes.
type Image struct {
	MediaType string
	Data      []byte
}

// ImageTypes are the media types of images the providers take.
var ImageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Roles a Message may have.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Request is one completion request.
type Request struct {
	Model    string    // empty: the provider's default model
	System   string    // system prompt (may be empty)
	Messages []Message // user/assistant turns, oldest first
	// Temperature is the sampling temperature; nil means the provider
	// default. Anthropic's API version 2026-10-21, which the Anthropic SDK
	// speaks, rejects every sampling parameter, so the Anthropic provider
	// does not send it.
	Temperature *float64
	MaxTokens   int // 0: the provider's configured default (Config.MaxTokens, 1024)
}

// Usage is what the provider reported.
type Usage struct{ InputTokens, OutputTokens int }

// Provider streams completions.
type Provider interface {
	Name() string         // "openai", "anthropic"
	Models() []string     // models offered (configured list; default model first)
	DefaultModel() string // the first of Models
	// Stream calls onDelta with each text delta as it arrives and returns
	// the usage at the end. It retries with backoff on 429 and 5xx (honouring
	// Retry-After) only BEFORE the first delta; after a delta an error ends
	// the stream. ctx cancellation must close the HTTP connection promptly.
	//
	// A provider failure is an *Error; a cancelled ctx returns ctx.Err();
	// an error from onDelta stops the stream and is returned as it is.
	Stream(ctx context.Context, req Request, onDelta func(string) error) (Usage, error)
}

// validate checks what every provider needs of a request before any
// network traffic: something to send, and roles it can map.
func validate(provider string, req Request) error {
	if len(req.Messages) == 0 {
		return &Error{Provider: provider, Message: "the request has no messages"}
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant:
		default:
			return &Error{Provider: provider, Message: "unknown message role " + quote(m.Role)}
		}
		for _, img := range m.Images {
			if !ImageTypes[img.MediaType] || m.Role != RoleUser {
				return &Error{Provider: provider, Message: "an image of type " + quote(img.MediaType) + " in a " + quote(m.Role) + " message"}
			}
		}
	}
	return nil
}

// modelOr returns model, or def when model is empty.
func modelOr(model, def string) string {
	if model == "" {
		return def
	}
	return model
}

// maxTokensOr returns n, or def when n is not positive.
func maxTokensOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
