package ai

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// anthropicProvider streams messages from Anthropic through the official
// SDK, which speaks API version 2026-10-21. That version rejects
// temperature, top_p and top_k, so Request.Temperature is not sent.
type anthropicProvider struct {
	client    anthropic.Client
	key       string // only to redact it from messages
	models    []string
	maxTokens int
	retry     retrier
}

var _ Provider = (*anthropicProvider)(nil)

// newAnthropic builds the provider from a Config with defaults applied.
func newAnthropic(cfg Config, log *slog.Logger) *anthropicProvider {
	opts := []option.RequestOption{
		// The SDK would otherwise also read ANTHROPIC_* variables, profile
		// files and federation settings; SKER's Config is the one source.
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(cfg.AnthropicKey),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
		option.WithMiddleware(errorMiddleware("anthropic", cfg.AnthropicKey)),
	}
	if cfg.AnthropicBaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.AnthropicBaseURL))
	}
	return &anthropicProvider{
		client:    anthropic.NewClient(opts...),
		key:       cfg.AnthropicKey,
		models:    cfg.AnthropicModels,
		maxTokens: cfg.MaxTokens,
		retry:     retrier{provider: "anthropic", retries: cfg.MaxRetries, base: cfg.RetryBaseDelay, log: log},
	}
}

// Name returns "anthropic".
func (p *anthropicProvider) Name() string { return "anthropic" }

// Models returns a copy of the configured models, the default first.
func (p *anthropicProvider) Models() []string { return slices.Clone(p.models) }

// DefaultModel returns the first configured model.
func (p *anthropicProvider) DefaultModel() string { return p.models[0] }

// Stream implements Provider with a streaming Messages request.
func (p *anthropicProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Usage, error) {
	if err := validate(p.Name(), req); err != nil {
		return Usage{}, err
	}
	params := p.params(req)
	return p.retry.run(ctx, params.Model, onDelta, func(ctx context.Context, onDelta func(string) error) (Usage, error) {
		return p.attempt(ctx, params, onDelta)
	})
}

// params maps a Request onto the SDK's parameters. Anthropic takes the
// system prompt apart from the turns, so system-role messages join it.
func (p *anthropicProvider) params(req Request) anthropic.MessageNewParams {
	var system []string
	if req.System != "" {
		system = append(system, req.System)
	}
	msgs := make([]anthropic.MessageParam, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			system = append(system, m.Content)
		case RoleAssistant:
			msgs = append(msgs, anthropic.NewAssistantMessage(anthropic.NewTextBlock(m.Content)))
		default:
			blocks := []anthropic.ContentBlockParamUnion{anthropic.NewTextBlock(m.Content)}
			for _, img := range m.Images {
				blocks = append(blocks, anthropic.NewImageBlockBase64(img.MediaType, base64.StdEncoding.EncodeToString(img.Data)))
			}
			msgs = append(msgs, anthropic.NewUserMessage(blocks...))
		}
	}
	params := anthropic.MessageNewParams{
		Model:     modelOr(req.Model, p.DefaultModel()),
		MaxTokens: int64(maxTokensOr(req.MaxTokens, p.maxTokens)),
		Messages:  msgs,
	}
	if len(system) > 0 {
		params.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}
	return params
}

// attempt makes one streaming request. Input tokens come with
// message_start (and again, cumulatively, with message_delta on newer
// API versions), output tokens with message_delta; the answer is complete
// only at message_stop.
func (p *anthropicProvider) attempt(ctx context.Context, params anthropic.MessageNewParams, onDelta func(string) error) (Usage, error) {
	stream := p.client.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	var usage Usage
	complete := false
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "message_start":
			u := ev.Message.Usage
			usage.InputTokens = int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens)
			usage.OutputTokens = int(u.OutputTokens)
		case "content_block_delta":
			if ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
				if err := onDelta(ev.Delta.Text); err != nil {
					return usage, err
				}
			}
		case "message_delta":
			if in := ev.Usage.InputTokens + ev.Usage.CacheCreationInputTokens + ev.Usage.CacheReadInputTokens; in > 0 {
				usage.InputTokens = int(in)
			}
			usage.OutputTokens = int(ev.Usage.OutputTokens)
		case "message_stop":
			complete = true
		}
	}
	if err := stream.Err(); err != nil {
		return usage, p.streamErr(ctx, err)
	}
	if !complete {
		return usage, truncatedError(p.Name(), nil)
	}
	return usage, nil
}

// streamErr maps what the SDK's stream reports onto an *Error. HTTP error
// statuses never reach here as anthropic.Error (errorMiddleware turned
// them into *Error); an anthropic.Error here is an error event.
func (p *anthropicProvider) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var perr *Error
	if errors.As(err, &perr) {
		return perr
	}
	var aerr *anthropic.Error
	if errors.As(err, &aerr) {
		return streamError(p.Name(), p.key, string(aerr.Type()), aerr.Message)
	}
	if isJSONError(err) {
		return malformedError(p.Name(), err)
	}
	return truncatedError(p.Name(), err)
}
