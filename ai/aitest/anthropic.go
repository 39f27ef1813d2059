package aitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// anthropicSamplingVersion is the first API version that rejects the
// sampling parameters temperature, top_p and top_k.
const anthropicSamplingVersion = "2026-10-21"

// NewAnthropic starts a server for POST /v1/messages with stream: true.
// Its URL is the server root, as ANTHROPIC_BASE_URL is. A stream is the
// named events message_start (with usage.input_tokens),
// content_block_start, ping, one content_block_delta (text_delta) per
// delta, content_block_stop, message_delta (with usage.output_tokens) and
// message_stop; a failure mid-stream is "event: error". Requests need an
// anthropic-version header, max_tokens, a model and messages; from API
// version 2026-10-21 on, temperature, top_p and top_k are rejected, as
// Anthropic does. With a key set, the key goes in x-api-key or
// "Authorization: Bearer".
func NewAnthropic(tb testing.TB) *Server {
	tb.Helper()
	return newServer(tb, anthropicDialect{}, "")
}

// anthropicDialect is the Messages API wire format.
type anthropicDialect struct{}

func (anthropicDialect) path() string { return "/v1/messages" }

func (anthropicDialect) check(r *http.Request, body []byte, key string) (streamInfo, *failure) {
	if key != "" && authKey(r.Header) != key {
		return streamInfo{}, &failure{status: http.StatusUnauthorized, typ: "authentication_error", msg: "invalid x-api-key"}
	}
	version := r.Header.Get("Anthropic-Version")
	if version == "" {
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "anthropic-version: header is required"}
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "There was an issue with your request body: " + err.Error()}
	}
	var model string
	var maxTokens int
	var messages []json.RawMessage
	var stream bool
	_ = json.Unmarshal(req["model"], &model)
	_ = json.Unmarshal(req["max_tokens"], &maxTokens)
	_ = json.Unmarshal(req["messages"], &messages)
	_ = json.Unmarshal(req["stream"], &stream)
	switch {
	case model == "":
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "model: Field required"}
	case maxTokens <= 0:
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "max_tokens: Field required"}
	case len(messages) == 0:
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "messages: at least one message is required"}
	case !stream:
		return streamInfo{}, &failure{status: http.StatusBadRequest, msg: "aitest serves only stream: true"}
	}
	if version >= anthropicSamplingVersion {
		for _, p := range []string{"temperature", "top_p", "top_k"} {
			if _, ok := req[p]; ok {
				return streamInfo{}, &failure{status: http.StatusBadRequest, msg: p + ": Extra inputs are not permitted"}
			}
		}
	}
	return streamInfo{model: model}, nil
}

func (anthropicDialect) defaultErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529, http.StatusServiceUnavailable:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func (anthropicDialect) errorBody(f failure) []byte {
	return []byte(mustJSON(map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": f.typ, "message": f.msg},
		"request_id": "req_aitest",
	}))
}

// named is a named event whose data carries the same type.
func named(typ string, fields map[string]any) event {
	fields["type"] = typ
	return event{name: typ, data: mustJSON(fields)}
}

func (anthropicDialect) start(info streamInfo, reply Reply) []event {
	return []event{
		named("message_start", map[string]any{"message": map[string]any{
			"id": "msg_aitest", "type": "message", "role": "assistant", "content": []any{},
			"model": info.model, "stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": reply.InputTokens, "output_tokens": 1},
		}}),
		named("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}}),
		named("ping", map[string]any{}),
	}
}

func (anthropicDialect) delta(_ streamInfo, text string) event {
	return named("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": text}})
}

func (anthropicDialect) end(_ streamInfo, reply Reply) []event {
	return []event{
		named("content_block_stop", map[string]any{"index": 0}),
		named("message_delta", map[string]any{
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": reply.OutputTokens},
		}),
		named("message_stop", map[string]any{}),
	}
}

func (anthropicDialect) errorEvent(typ, msg string) event {
	return named("error", map[string]any{"error": map[string]any{"type": typ, "message": msg}})
}

func (anthropicDialect) malformed() event {
	return event{name: "content_block_delta", data: fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q`, "oops")}
}
