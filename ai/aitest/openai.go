package aitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// NewOpenAI starts a server for POST /v1/chat/completions with
// stream: true. Its URL ends in /v1, as OPENAI_BASE_URL does for
// compatible servers. A stream is data-only chat.completion.chunk events:
// a role chunk, one chunk per delta, a chunk with finish_reason "stop",
// the usage chunk when stream_options.include_usage is true, then
// [DONE]. With a key set, a wrong key gets a 401 whose message repeats
// the key in full, as a careless proxy might, so tests can check that
// it is redacted.
func NewOpenAI(tb testing.TB) *Server {
	tb.Helper()
	return newServer(tb, openAIDialect{}, "/v1")
}

// openAIDialect is the chat completions wire format.
type openAIDialect struct{}

func (openAIDialect) path() string { return "/v1/chat/completions" }

func (openAIDialect) check(r *http.Request, body []byte, key string) (streamInfo, *failure) {
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		got := authKey(r.Header)
		return streamInfo{}, &failure{status: http.StatusUnauthorized, typ: "invalid_request_error",
			msg: fmt.Sprintf("Incorrect API key provided: %s.", got)}
	}
	var req struct {
		Model         string            `json:"model"`
		Messages      []json.RawMessage `json:"messages"`
		Stream        bool              `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "We could not parse the JSON body of your request."}
	}
	switch {
	case req.Model == "":
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "you must provide a model parameter"}
	case len(req.Messages) == 0:
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "[] is too short - 'messages'"}
	case !req.Stream:
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "aitest serves only stream: true"}
	}
	return streamInfo{model: req.Model, includeUsage: req.StreamOptions.IncludeUsage}, nil
}

func (openAIDialect) defaultErrorType(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "requests"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

func (d openAIDialect) errorBody(f failure) []byte {
	var code any
	switch {
	case f.status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case f.status == http.StatusTooManyRequests && f.typ == "requests":
		code = "rate_limit_exceeded"
	case f.typ == "insufficient_quota":
		code = "insufficient_quota"
	}
	return []byte(mustJSON(map[string]any{"error": map[string]any{
		"message": f.msg, "type": f.typ, "param": nil, "code": code,
	}}))
}

// chunk is a chat.completion.chunk with the given choices and usage.
func (openAIDialect) chunk(info streamInfo, choices []any, usage any) event {
	c := map[string]any{
		"id": "chatcmpl-aitest", "object": "chat.completion.chunk", "created": time.Now().Unix(),
		"model": info.model, "system_fingerprint": "fp_aitest", "choices": choices,
	}
	if info.includeUsage {
		c["usage"] = usage
	}
	return event{data: mustJSON(c)}
}

// choice is one choice of a chunk.
func choice(delta map[string]any, finish any) any {
	return map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}
}

func (d openAIDialect) start(info streamInfo, _ Reply) []event {
	return []event{d.chunk(info, []any{choice(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)}, nil)}
}

func (d openAIDialect) delta(info streamInfo, text string) event {
	return d.chunk(info, []any{choice(map[string]any{"content": text}, nil)}, nil)
}

func (d openAIDialect) end(info streamInfo, reply Reply) []event {
	evs := []event{d.chunk(info, []any{choice(map[string]any{}, "stop")}, nil)}
	if info.includeUsage {
		evs = append(evs, d.chunk(info, []any{}, map[string]any{
			"prompt_tokens": reply.InputTokens, "completion_tokens": reply.OutputTokens,
			"total_tokens": reply.InputTokens + reply.OutputTokens,
		}))
	}
	return append(evs, event{data: "[DONE]"})
}

func (openAIDialect) errorEvent(typ, msg string) event {
	return event{data: mustJSON(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})}
}

func (openAIDialect) malformed() event {
	return event{data: `{"id":"chatcmpl-aitest","object":"chat.completion.chunk","choices":[{"delta":{"content":"oops`}
}
