package ai_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/testkit"
)

// testKey is the key every provider under test is configured with; no
// log line and no error may contain it.
const testKey = "sk-test-0123456789-secret"

// flavour is one provider and its test server; every conformance test
// runs against each.
type flavour struct {
	name      string
	start     func(testing.TB) *aitest.Server
	config    func(url string) ai.Config
	carried   func(t *testing.T, r aitest.Request) carried
	permanent aitest.Reply // an error status the provider must not retry
}

// carried is what a request body said, in the terms of ai.Request.
type carried struct {
	model       string
	system      string
	messages    []ai.Message
	temperature *float64
	maxTokens   int
}

var flavours = []flavour{
	{
		name:      "openai",
		start:     aitest.NewOpenAI,
		config:    func(url string) ai.Config { return ai.Config{OpenAIKey: testKey, OpenAIBaseURL: url} },
		carried:   openAICarried,
		permanent: aitest.Reply{Status: 429, ErrorType: "insufficient_quota", ErrorMessage: "You exceeded your current quota"},
	},
	{
		name:      "anthropic",
		start:     aitest.NewAnthropic,
		config:    func(url string) ai.Config { return ai.Config{AnthropicKey: testKey, AnthropicBaseURL: url} },
		carried:   anthropicCarried,
		permanent: aitest.Reply{Status: 400, ErrorMessage: "messages: roles must alternate"},
	},
}

// forEach runs fn as a parallel subtest per flavour.
func forEach(t *testing.T, fn func(t *testing.T, f flavour)) {
	t.Helper()
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			fn(t, f)
		})
	}
}

// setup starts f's server and a provider for it with fast retries; edit
// may change the configuration. At cleanup it checks that nothing logged
// contained the key.
func setup(t *testing.T, f flavour, edit func(*ai.Config)) (*aitest.Server, ai.Provider) {
	t.Helper()
	srv := f.start(t)
	srv.SetKey(testKey)
	cfg := f.config(srv.URL)
	cfg.RetryBaseDelay = time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	logs := &testkit.LogBuffer{}
	reg, err := ai.NewRegistry(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, ok := reg.Get(f.name)
	if !ok {
		t.Fatalf("Get(%q): got false; want true", f.name)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testKey) {
			t.Errorf("logs contain the API key:\n%s", logs.String())
		}
	})
	return srv, p
}

// stream runs p.Stream and collects the deltas.
func stream(ctx context.Context, p ai.Provider, req ai.Request) ([]string, ai.Usage, error) {
	var deltas []string
	usage, err := p.Stream(ctx, req, func(s string) error {
		deltas = append(deltas, s)
		return nil
	})
	return deltas, usage, err
}

// hello is a minimal request.
var hello = ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}}

// providerError asserts that err is an *ai.Error of provider.
func providerError(t *testing.T, err error, provider string) *ai.Error {
	t.Helper()
	var perr *ai.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error: got %v (%T); want *ai.Error", err, err)
	}
	if perr.Provider != provider {
		t.Errorf("Error.Provider: got %q; want %q", perr.Provider, provider)
	}
	if strings.Contains(perr.Error(), testKey) {
		t.Errorf("error contains the API key: %v", perr)
	}
	return perr
}

// requestCount asserts how many requests srv received.
func requestCount(t *testing.T, srv *aitest.Server, want int) {
	t.Helper()
	if got := len(srv.Requests()); got != want {
		t.Errorf("requests received: got %d; want %d", got, want)
	}
}

func TestStreamDeltasInOrderWithUsage(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		want := []string{"The", " quick", " brown", " fox", " ✓"}
		srv.Push(aitest.Reply{Deltas: want, Delay: time.Millisecond, InputTokens: 42, OutputTokens: 17})
		deltas, usage, err := stream(context.Background(), p, hello)
		if err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		if !slices.Equal(deltas, want) {
			t.Errorf("deltas: got %q; want %q", deltas, want)
		}
		if want := (ai.Usage{InputTokens: 42, OutputTokens: 17}); usage != want {
			t.Errorf("usage: got %+v; want %+v", usage, want)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("requests: got %d; want 1", len(reqs))
		}
		if got := reqs[0].AuthKey(); got != testKey {
			t.Errorf("key sent: got %q; want the configured key", got)
		}
	})
}

func TestRequestCarriesPrompt(t *testing.T) {
	temp := 0.3
	req := ai.Request{
		Model:  "model-x",
		System: "Answer briefly.",
		Messages: []ai.Message{
			{Role: ai.RoleUser, Content: "What is SKER?"},
			{Role: ai.RoleAssistant, Content: "A canvas."},
			{Role: ai.RoleUser, Content: "Say more."},
		},
		Temperature: &temp,
		MaxTokens:   77,
	}
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		if _, _, err := stream(context.Background(), p, req); err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		got := f.carried(t, srv.Requests()[0])
		if got.model != req.Model {
			t.Errorf("model: got %q; want %q", got.model, req.Model)
		}
		if got.system != req.System {
			t.Errorf("system: got %q; want %q", got.system, req.System)
		}
		if !sameMessages(got.messages, req.Messages) {
			t.Errorf("messages: got %+v; want %+v", got.messages, req.Messages)
		}
		if got.maxTokens != 77 {
			t.Errorf("max tokens: got %d; want 77", got.maxTokens)
		}
		// Anthropic's API 2026-10-21 rejects temperature (the test server
		// does too), so only OpenAI carries it.
		switch {
		case f.name == "anthropic" && got.temperature != nil:
			t.Errorf("temperature: got %v; want none sent", *got.temperature)
		case f.name == "openai" && (got.temperature == nil || *got.temperature != temp):
			t.Errorf("temperature: got %v; want %v", got.temperature, temp)
		}
	})
}

func TestRequestDefaults(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, func(c *ai.Config) { c.MaxTokens = 0 })
		if _, _, err := stream(context.Background(), p, hello); err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		got := f.carried(t, srv.Requests()[0])
		if got.model != p.DefaultModel() {
			t.Errorf("model: got %q; want the default %q", got.model, p.DefaultModel())
		}
		if got.maxTokens != 1024 {
			t.Errorf("max tokens: got %d; want 1024", got.maxTokens)
		}
		if got.temperature != nil {
			t.Errorf("temperature: got %v; want none sent", *got.temperature)
		}
		if got.system != "" {
			t.Errorf("system: got %q; want none", got.system)
		}
	})
}

func TestInvalidRequestNotSent(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		for _, req := range []ai.Request{
			{},
			{Messages: []ai.Message{{Role: "tool", Content: "x"}}},
		} {
			_, _, err := stream(context.Background(), p, req)
			perr := providerError(t, err, f.name)
			if perr.Retryable {
				t.Errorf("Retryable: got true; want false for %+v", req)
			}
		}
		requestCount(t, srv, 0)
	})
}

// openAICarried reads a chat completions request body.
func openAICarried(t *testing.T, r aitest.Request) carried {
	t.Helper()
	var body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Temperature   *float64 `json:"temperature"`
		MaxTokens     int      `json:"max_tokens"`
		Stream        bool     `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := r.Decode(&body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if !body.Stream || !body.StreamOptions.IncludeUsage {
		t.Errorf("stream, include_usage: got %v, %v; want true, true", body.Stream, body.StreamOptions.IncludeUsage)
	}
	c := carried{model: body.Model, temperature: body.Temperature, maxTokens: body.MaxTokens}
	for i, m := range body.Messages {
		if i == 0 && m.Role == ai.RoleSystem {
			c.system = text(t, m.Content)
			continue
		}
		c.messages = append(c.messages, message(t, m.Role, m.Content))
	}
	return c
}

// anthropicCarried reads a Messages request body.
func anthropicCarried(t *testing.T, r aitest.Request) carried {
	t.Helper()
	var body struct {
		Model    string          `json:"model"`
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Temperature *float64 `json:"temperature"`
		MaxTokens   int      `json:"max_tokens"`
		Stream      bool     `json:"stream"`
	}
	if err := r.Decode(&body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if !body.Stream {
		t.Errorf("stream: got false; want true")
	}
	c := carried{model: body.Model, temperature: body.Temperature, maxTokens: body.MaxTokens}
	if len(body.System) > 0 {
		c.system = text(t, body.System)
	}
	for _, m := range body.Messages {
		c.messages = append(c.messages, message(t, m.Role, m.Content))
	}
	return c
}

// message reads a message's content: a string, or a list of text blocks
// and images in either provider's wire format (OpenAI: image_url parts
// with a data: URL; Anthropic: image blocks with a base64 source).
func message(t *testing.T, role string, raw json.RawMessage) ai.Message {
	t.Helper()
	m := ai.Message{Role: role}
	var blocks []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
		Source struct {
			Type      string `json:"type"`
			MediaType string `json:"media_type"`
			Data      string `json:"data"`
		} `json:"source"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		m.Content = text(t, raw)
		return m
	}
	for _, b := range blocks {
		var mediaType, data string
		switch b.Type {
		case "text":
			m.Content += b.Text
			continue
		case "image_url":
			rest, ok := strings.CutPrefix(b.ImageURL.URL, "data:")
			mt, d, ok2 := strings.Cut(rest, ";base64,")
			if !ok || !ok2 {
				t.Fatalf("image_url %q: want a data: URL in base64", b.ImageURL.URL)
			}
			mediaType, data = mt, d
		case "image":
			if b.Source.Type != "base64" {
				t.Fatalf("image source type %q; want base64", b.Source.Type)
			}
			mediaType, data = b.Source.MediaType, b.Source.Data
		default:
			t.Fatalf("content block type %q", b.Type)
		}
		bytes, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatalf("image data: %v", err)
		}
		m.Images = append(m.Images, ai.Image{MediaType: mediaType, Data: bytes})
	}
	return m
}

// sameMessages compares messages with their images.
func sameMessages(a, b []ai.Message) bool {
	return slices.EqualFunc(a, b, func(x, y ai.Message) bool {
		return x.Role == y.Role && x.Content == y.Content && slices.EqualFunc(x.Images, y.Images, func(i, j ai.Image) bool {
			return i.MediaType == j.MediaType && string(i.Data) == string(j.Data)
		})
	})
}

// Images go after the text of their user message, in each provider's
// wire format, and come back out of it byte for byte.
func TestImagesInTheWireFormat(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n fake image bytes")
	req := ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "What is in [image 1] and [image 2]?",
		Images: []ai.Image{{MediaType: "image/png", Data: png}, {MediaType: "image/jpeg", Data: []byte{0xff, 0xd8, 0xff, 1, 2}}}}}}
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		if _, _, err := stream(context.Background(), p, req); err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		got := f.carried(t, srv.Requests()[0])
		if !sameMessages(got.messages, req.Messages) {
			t.Errorf("messages: got %+v; want %+v", got.messages, req.Messages)
		}
	})
	bad := ai.Request{Messages: []ai.Message{{Role: ai.RoleUser, Content: "x", Images: []ai.Image{{MediaType: "image/svg+xml", Data: []byte("<svg/>")}}}}}
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		if _, _, err := stream(context.Background(), p, bad); err == nil {
			t.Fatal("an SVG image: got nil; want an error")
		}
		requestCount(t, srv, 0)
	})
}

// text reads message content that is a string or a list of text blocks.
func text(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type, Text string
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("content %s: neither a string nor text blocks", raw)
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type != "text" {
			t.Errorf("content block type: got %q; want text", bl.Type)
		}
		b.WriteString(bl.Text)
	}
	return b.String()
}

func TestSystemRoleMessages(t *testing.T) {
	req := ai.Request{System: "Be brief.", Messages: []ai.Message{
		{Role: ai.RoleSystem, Content: "Cards above are context."},
		{Role: ai.RoleUser, Content: "hi"},
	}}
	want := map[string]carried{
		// OpenAI keeps a system message where it is.
		"openai": {system: "Be brief.", messages: req.Messages},
		// Anthropic takes one system prompt apart from the turns.
		"anthropic": {system: "Be brief.\n\nCards above are context.", messages: req.Messages[1:]},
	}
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		if _, _, err := stream(context.Background(), p, req); err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		got := f.carried(t, srv.Requests()[0])
		if got.system != want[f.name].system {
			t.Errorf("system: got %q; want %q", got.system, want[f.name].system)
		}
		if !sameMessages(got.messages, want[f.name].messages) {
			t.Errorf("messages: got %+v; want %+v", got.messages, want[f.name].messages)
		}
	})
}

// The engine streams many cards through one provider at once.
func TestConcurrentStreams(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.SetDefault(aitest.Reply{Deltas: []string{"a", "b", "c"}, Delay: time.Millisecond, InputTokens: 3, OutputTokens: 3})
		const n = 8
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				deltas, usage, err := stream(context.Background(), p, hello)
				if err != nil || strings.Join(deltas, "") != "abc" || usage.OutputTokens != 3 {
					t.Errorf("Stream: got %q, %+v, %v; want abc, 3 output tokens, nil", deltas, usage, err)
				}
			})
		}
		wg.Wait()
		requestCount(t, srv, n)
	})
}
