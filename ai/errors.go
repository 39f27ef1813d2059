package ai

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNoProvider means no provider is configured; the engine shows it on
// the card and nothing else breaks.
var ErrNoProvider = errors.New("no AI provider is configured: set OPENAI_API_KEY, OPENAI_BASE_URL or ANTHROPIC_API_KEY")

// ErrUnknownProvider means a request named a provider that is not
// configured (or does not exist). Registry.Lookup wraps it with the name.
var ErrUnknownProvider = errors.New("AI provider not configured")

// Error is a provider failure with a readable message for the card
// (never the API key), the HTTP status when there was one, and whether a
// retry could help.
type Error struct {
	Provider  string // "openai", "anthropic"
	Status    int    // HTTP status; 0 when the failure was not an HTTP status (network, mid-stream)
	Message   string // readable, for the card; the API key is redacted
	Retryable bool   // a later retry could succeed (429, 5xx, overload, network)
	// RetryAfter is how long the provider asked callers to wait (from
	// Retry-After or retry-after-ms), or 0. A job queue can honour it when
	// the provider's own retries are exhausted.
	RetryAfter time.Duration
}

// Error returns "provider: message (HTTP status)".
func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: %s (HTTP %d)", e.Provider, e.Message, e.Status)
	}
	return e.Provider + ": " + e.Message
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// maxMessage bounds a message taken from a body that is not the provider's
// JSON error shape, so a proxy's HTML page does not end up on a card.
const maxMessage = 300

// permanentTypes are error types and codes that no retry can fix, even
// when the status (429 for OpenAI's insufficient_quota) says otherwise.
var permanentTypes = map[string]bool{
	"insufficient_quota":    true,
	"billing_error":         true,
	"invalid_request_error": true,
	"authentication_error":  true,
	"permission_error":      true,
	"not_found_error":       true,
	"request_too_large":     true,
}

// retryableStatus reports whether an HTTP status is worth retrying.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// errorMiddleware turns every failed attempt into an *Error before the SDK
// sees it: error statuses (whatever the body), transport failures and
// successful answers that are plainly not an event stream. Doing it here rather
// than from the SDKs' error types keeps the status, Retry-After and message
// even when the body is not JSON, and is the same for both SDKs.
func errorMiddleware(provider, key string) func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return func(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
		res, err := next(req)
		if err != nil {
			if req.Context().Err() != nil {
				return nil, err // cancelled: the caller reports ctx.Err()
			}
			return nil, transportError(provider, key, err)
		}
		if res.StatusCode >= 400 {
			return nil, httpError(provider, key, res)
		}
		if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "application/json" || mt == "text/html" {
			res.Body.Close() // e.g. a server that ignored stream: true
			return nil, &Error{Provider: provider,
				Message: "expected an event stream from the provider, got " + quote(res.Header.Get("Content-Type"))}
		}
		return res, nil
	}
}

// httpError builds the Error for a response with an error status. It reads
// at most maxErrorBody of the body and closes it.
func httpError(provider, key string, res *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body.Close()
	msg, typ := parseErrorBody(body)
	if msg == "" {
		msg = "the provider answered " + strconv.Itoa(res.StatusCode) + " " + http.StatusText(res.StatusCode)
	}
	return &Error{
		Provider:   provider,
		Status:     res.StatusCode,
		Message:    redact(msg, key),
		Retryable:  retryableStatus(res.StatusCode) && !permanentTypes[typ],
		RetryAfter: retryAfter(res.Header, time.Now()),
	}
}

// parseErrorBody reads the message and type of an error body in OpenAI's
// shape {"error":{"message","type","code"}}, Anthropic's
// {"type":"error","error":{"type","message"}}, the {"error":"text"} of some
// compatible servers, or short plain text.
func parseErrorBody(body []byte) (msg, typ string) {
	var shaped struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &shaped) == nil && len(shaped.Error) > 0 {
		var obj struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		}
		if json.Unmarshal(shaped.Error, &obj) == nil {
			var code string
			_ = json.Unmarshal(obj.Code, &code)
			if permanentTypes[code] {
				obj.Type = code
			}
			return strings.TrimSpace(obj.Message), obj.Type
		}
		var text string
		if json.Unmarshal(shaped.Error, &text) == nil {
			return strings.TrimSpace(text), ""
		}
	}
	text := strings.TrimSpace(string(body))
	if text == "" || json.Valid(body) || strings.HasPrefix(text, "<") || !utf8.ValidString(text) {
		return "", ""
	}
	if len(text) > maxMessage {
		text = text[:maxMessage] + "…"
	}
	return text, ""
}

// transportError builds the Error for a request that got no response.
func transportError(provider, key string, err error) *Error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the URL is noise on a card
	}
	return &Error{Provider: provider, Message: redact("could not reach the provider: "+err.Error(), key), Retryable: true}
}

// streamError builds the Error for an error event inside a stream.
func streamError(provider, key, typ, msg string) *Error {
	if msg == "" {
		msg = "the provider reported an error during the stream"
		if typ != "" {
			msg += " (" + typ + ")"
		}
	}
	return &Error{Provider: provider, Message: redact(msg, key), Retryable: !permanentTypes[typ]}
}

// malformedError builds the Error for a stream that cannot be decoded.
func malformedError(provider string, err error) *Error {
	return &Error{Provider: provider, Message: "malformed stream from the provider: " + err.Error()}
}

// truncatedError builds the Error for a stream that ended before its end
// marker: the connection dropped, so the text so far is incomplete.
func truncatedError(provider string, err error) *Error {
	msg := "the stream ended before the answer was complete"
	if err != nil {
		msg += ": " + err.Error()
	}
	return &Error{Provider: provider, Message: msg, Retryable: true}
}

// redact removes key from s. Providers mask keys in their messages, but a
// compatible server or proxy might echo one back.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// quote quotes s for a message.
func quote(s string) string { return strconv.Quote(s) }
