package ai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"slices"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// openAIBaseURL is OpenAI's own API.
const openAIBaseURL = "https://api.openai.com/v1/"

// openAIProvider streams chat completions from OpenAI or an
// OpenAI-compatible server, through the official SDK.
type openAIProvider struct {
	client    openai.Client
	key       string // only to redact it from messages
	models    []string
	maxTokens int
	// legacyMaxTokens sends max_tokens instead of max_completion_tokens.
	// OpenAI deprecated max_tokens and its newer models reject it, while
	// compatible servers (Ollama, vLLM, LM Studio) all read max_tokens.
	legacyMaxTokens bool
	retry           retrier
}

var _ Provider = (*openAIProvider)(nil)

// newOpenAI builds the provider from a Config with defaults applied.
func newOpenAI(cfg Config, log *slog.Logger) *openAIProvider {
	base := cfg.OpenAIBaseURL
	if base == "" {
		base = openAIBaseURL
	}
	client := openai.NewClient(
		option.WithBaseURL(base),
		// Always set, even empty: the SDK would otherwise read
		// OPENAI_API_KEY itself and send it to a compatible server.
		option.WithAPIKey(cfg.OpenAIKey),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
		option.WithMiddleware(errorMiddleware("openai", cfg.OpenAIKey)),
	)
	return &openAIProvider{
		client:          client,
		key:             cfg.OpenAIKey,
		models:          cfg.OpenAIModels,
		maxTokens:       cfg.MaxTokens,
		legacyMaxTokens: !isOpenAIHost(base),
		retry:           retrier{provider: "openai", retries: cfg.MaxRetries, base: cfg.RetryBaseDelay, log: log},
	}
}

// isOpenAIHost reports whether base is OpenAI's own API.
func isOpenAIHost(base string) bool {
	u, err := url.Parse(base)
	return err == nil && u.Hostname() == "api.openai.com"
}

// Name returns "openai".
func (p *openAIProvider) Name() string { return "openai" }

// Models returns a copy of the configured models, the default first.
func (p *openAIProvider) Models() []string { return slices.Clone(p.models) }

// DefaultModel returns the first configured model.
func (p *openAIProvider) DefaultModel() string { return p.models[0] }

// Stream implements Provider with a streaming chat completion that asks
// for usage in the last chunk.
func (p *openAIProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Usage, error) {
	if err := validate(p.Name(), req); err != nil {
		return Usage{}, err
	}
	params := p.params(req)
	return p.retry.run(ctx, params.Model, onDelta, func(ctx context.Context, onDelta func(string) error) (Usage, error) {
		return p.attempt(ctx, params, onDelta)
	})
}

// params maps a Request onto the SDK's parameters.
func (p *openAIProvider) params(req Request) openai.ChatCompletionNewParams {
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, openai.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case RoleAssistant:
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		default:
			if len(m.Images) == 0 {
				msgs = append(msgs, openai.UserMessage(m.Content))
				continue
			}
			parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart(m.Content)}
			for _, img := range m.Images {
				parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{
					URL: "data:" + img.MediaType + ";base64," + base64.StdEncoding.EncodeToString(img.Data),
				}))
			}
			msgs = append(msgs, openai.UserMessage(parts))
		}
	}
	params := openai.ChatCompletionNewParams{
		Model:         modelOr(req.Model, p.DefaultModel()),
		Messages:      msgs,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	maxTokens := int64(maxTokensOr(req.MaxTokens, p.maxTokens))
	if p.legacyMaxTokens {
		params.MaxTokens = openai.Int(maxTokens)
	} else {
		params.MaxCompletionTokens = openai.Int(maxTokens)
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	return params
}

// attempt makes one streaming request. The stream is complete only when a
// choice has finished or the usage chunk has arrived; a connection that
// closes before either is a truncated answer, not a short one.
func (p *openAIProvider) attempt(ctx context.Context, params openai.ChatCompletionNewParams, onDelta func(string) error) (Usage, error) {
	stream := p.client.Chat.Completions.NewStreaming(ctx, params)
	defer stream.Close()
	var usage Usage
	complete := false
	for stream.Next() {
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() {
			usage = Usage{InputTokens: int(chunk.Usage.PromptTokens), OutputTokens: int(chunk.Usage.CompletionTokens)}
			complete = true
		}
		for _, choice := range chunk.Choices {
			if text := choice.Delta.Content + choice.Delta.Refusal; text != "" {
				if err := onDelta(text); err != nil {
					return usage, err
				}
			}
			if choice.FinishReason != "" {
				complete = true
			}
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

// streamErr maps what the SDK's stream reports onto an *Error.
func (p *openAIProvider) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var perr *Error
	if errors.As(err, &perr) {
		return perr
	}
	var serr *ssestream.StreamError
	if errors.As(err, &serr) {
		var body struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		_ = json.Unmarshal(serr.Event.Data, &body)
		return streamError(p.Name(), p.key, body.Error.Type, body.Error.Message)
	}
	if isJSONError(err) {
		return malformedError(p.Name(), err)
	}
	return truncatedError(p.Name(), err)
}

// isJSONError reports whether err is a chunk that does not decode.
func isJSONError(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}
