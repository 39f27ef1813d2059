package ai

import (
	"strings"
	"testing"
)

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct {
		name, body, msg, typ string
	}{
		{"openai", `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "Rate limit reached", "requests"},
		{"openai quota", `{"error":{"message":"You exceeded your current quota","type":"requests","code":"insufficient_quota"}}`, "You exceeded your current quota", "insufficient_quota"},
		{"anthropic", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`, "Overloaded", "overloaded_error"},
		{"string error", `{"error":"model 'llama9' not found"}`, "model 'llama9' not found", ""},
		{"plain text", "upstream connect error\n", "upstream connect error", ""},
		{"html", "<html><body>502 Bad Gateway</body></html>", "", ""},
		{"other json", `{"detail":"nope"}`, "", ""},
		{"empty", "", "", ""},
	} {
		msg, typ := parseErrorBody([]byte(tc.body))
		if msg != tc.msg || typ != tc.typ {
			t.Errorf("%s: parseErrorBody: got %q, %q; want %q, %q", tc.name, msg, typ, tc.msg, tc.typ)
		}
	}
	long := strings.Repeat("x", 2*maxMessage)
	if msg, _ := parseErrorBody([]byte(long)); len(msg) > maxMessage+len("…") {
		t.Errorf("long body: got a %d-byte message; want at most %d", len(msg), maxMessage+len("…"))
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Provider: "openai", Status: 429, Message: "slow down"}, "openai: slow down (HTTP 429)"},
		{&Error{Provider: "anthropic", Message: "Overloaded"}, "anthropic: Overloaded"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error(): got %q; want %q", got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := redact("bad key sk-abc, really sk-abc", "sk-abc"); got != "bad key [redacted], really [redacted]" {
		t.Errorf("redact: got %q", got)
	}
	if got := redact("no key here", ""); got != "no key here" {
		t.Errorf("redact with empty key: got %q; want the text unchanged", got)
	}
}
