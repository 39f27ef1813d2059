package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/ai/aitest"
)

func TestRegistryNoProvider(t *testing.T) {
	reg, err := ai.NewRegistry(ai.Config{}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	if got := reg.List(); len(got) != 0 {
		t.Errorf("List: got %+v; want empty", got)
	}
	if b, _ := json.Marshal(reg.List()); string(b) != "[]" {
		t.Errorf("List JSON: got %s; want []", b)
	}
	if p, ok := reg.Default(); ok {
		t.Errorf("Default: got %v, true; want false", p.Name())
	}
	if _, err := reg.Lookup(""); !errors.Is(err, ai.ErrNoProvider) {
		t.Errorf("Lookup(\"\"): got %v; want ErrNoProvider", err)
	}
	if !strings.Contains(ai.ErrNoProvider.Error(), "OPENAI_API_KEY") {
		t.Errorf("ErrNoProvider: got %q; want it to name the settings", ai.ErrNoProvider)
	}
}

func TestRegistryBaseURLOnly(t *testing.T) {
	reg, err := ai.NewRegistry(ai.Config{OpenAIBaseURL: "http://localhost:11434/v1"}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, ok := reg.Default()
	if !ok || p.Name() != "openai" {
		t.Fatalf("Default: got %v, %v; want openai", p, ok)
	}
	if _, ok := reg.Get("anthropic"); ok {
		t.Errorf("Get(anthropic): got true; want false")
	}
	if want := []string{"gpt-4o-mini", "gpt-4o"}; !slices.Equal(p.Models(), want) || p.DefaultModel() != want[0] {
		t.Errorf("models: got %q (default %q); want %q", p.Models(), p.DefaultModel(), want)
	}
}

func TestRegistryListHasNoKeys(t *testing.T) {
	const openKey, anthKey = "sk-open-secret-1", "sk-ant-secret-2"
	reg, err := ai.NewRegistry(ai.Config{
		OpenAIKey:       openKey,
		AnthropicKey:    anthKey,
		AnthropicModels: []string{" claude-x ", "", "claude-y"},
	}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	list := reg.List()
	want := []ai.ProviderInfo{
		{Name: "openai", Models: []string{"gpt-4o-mini", "gpt-4o"}, DefaultModel: "gpt-4o-mini"},
		{Name: "anthropic", Models: []string{"claude-x", "claude-y"}, DefaultModel: "claude-x"},
	}
	if len(list) != len(want) {
		t.Fatalf("List: got %+v; want %+v", list, want)
	}
	for i := range want {
		if list[i].Name != want[i].Name || list[i].DefaultModel != want[i].DefaultModel || !slices.Equal(list[i].Models, want[i].Models) {
			t.Errorf("List[%d]: got %+v; want %+v", i, list[i], want[i])
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatalf("marshal List: %v", err)
	}
	for _, key := range []string{openKey, anthKey} {
		if strings.Contains(string(b), key) {
			t.Errorf("List JSON %s contains a key", b)
		}
	}
	list[0].Models[0] = "changed"
	if p, _ := reg.Get("openai"); p.Models()[0] != "gpt-4o-mini" {
		t.Errorf("Models: got %q after changing List's copy; want it unchanged", p.Models())
	}
	if _, err := reg.Lookup("mistral"); !errors.Is(err, ai.ErrUnknownProvider) {
		t.Errorf("Lookup(mistral): got %v; want ErrUnknownProvider", err)
	}
	if p, err := reg.Lookup(""); err != nil || p.Name() != "openai" {
		t.Errorf("Lookup(\"\"): got %v, %v; want openai", p, err)
	}
}

func TestRegistryAnthropicBaseURLWithoutKey(t *testing.T) {
	reg, err := ai.NewRegistry(ai.Config{AnthropicBaseURL: "http://localhost:8080"}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	if got := reg.List(); len(got) != 0 {
		t.Errorf("List: got %+v; want empty (Anthropic needs a key)", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  ai.Config
		want string // in the error; empty: valid
	}{
		{ai.Config{}, ""},
		{ai.Config{OpenAIBaseURL: "http://localhost:11434/v1", AnthropicBaseURL: "https://proxy.example"}, ""},
		{ai.Config{OpenAIBaseURL: "localhost:11434"}, "OPENAI_BASE_URL"},
		{ai.Config{AnthropicBaseURL: "ftp://x"}, "ANTHROPIC_BASE_URL"},
		{ai.Config{MaxTokens: -1}, "MaxTokens"},
		{ai.Config{RetryBaseDelay: -1}, "RetryBaseDelay"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v): got %v; want nil", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v): got %v; want an error naming %s", tc.cfg, err, tc.want)
		}
		if _, nerr := ai.NewRegistry(tc.cfg, nil); (nerr != nil) != (err != nil) {
			t.Errorf("NewRegistry(%+v): got %v; want the Validate result %v", tc.cfg, nerr, err)
		}
	}
}

// The SDKs read their own environment variables; the Config must be the
// only source, so a local server never receives the OpenAI key.
func TestEnvironmentIgnored(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")

	oai := aitest.NewOpenAI(t)
	ant := aitest.NewAnthropic(t)
	reg, err := ai.NewRegistry(ai.Config{OpenAIBaseURL: oai.URL, AnthropicKey: "sk-ant-config"}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, _ := reg.Get("openai")
	if _, _, err := stream(context.Background(), p, hello); err != nil {
		t.Fatalf("openai Stream: got %v; want nil", err)
	}
	if h := oai.Requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("openai Authorization: got %q; want none without a configured key", h)
	}

	// ANTHROPIC_BASE_URL from the environment must not win over the
	// default either; point the default at the test server by transport.
	reg, err = ai.NewRegistry(ai.Config{AnthropicKey: "sk-ant-config", HTTPClient: redirect(t, ant.URL)}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, _ = reg.Get("anthropic")
	if _, _, err := stream(context.Background(), p, hello); err != nil {
		t.Fatalf("anthropic Stream: got %v; want nil", err)
	}
	r := ant.Requests()[0]
	if got := r.AuthKey(); got != "sk-ant-config" {
		t.Errorf("anthropic key: got %q; want the configured one", got)
	}
	if got := r.Header.Get("X-Forwarded-Host"); got != "api.anthropic.com" {
		t.Errorf("anthropic host: got %q; want api.anthropic.com", got)
	}
}

// OpenAI's own API gets max_completion_tokens (its newer models reject
// max_tokens); compatible servers get max_tokens.
func TestOpenAIMaxTokensField(t *testing.T) {
	srv := aitest.NewOpenAI(t)
	reg, err := ai.NewRegistry(ai.Config{OpenAIKey: testKey, HTTPClient: redirect(t, srv.URL)}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, _ := reg.Get("openai")
	req := hello
	req.MaxTokens = 55
	if _, _, err := stream(context.Background(), p, req); err != nil {
		t.Fatalf("Stream: got %v; want nil", err)
	}
	var body map[string]any
	if err := srv.Requests()[0].Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if body["max_completion_tokens"] != 55.0 {
		t.Errorf("max_completion_tokens: got %v; want 55", body["max_completion_tokens"])
	}
	if _, ok := body["max_tokens"]; ok {
		t.Errorf("max_tokens: got %v; want absent", body["max_tokens"])
	}
	if got := srv.Requests()[0].Header.Get("X-Forwarded-Host"); got != "api.openai.com" {
		t.Errorf("host: got %q; want api.openai.com", got)
	}
}

// redirect returns a client that sends every request to the server at
// base instead, keeping the path and noting the original host in
// X-Forwarded-Host.
func redirect(t *testing.T, base string) *http.Client {
	t.Helper()
	to, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-Host", r.URL.Host)
		r.URL.Scheme, r.URL.Host = to.Scheme, to.Host
		r.Host = to.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// roundTripper is a function that is an http.RoundTripper.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
