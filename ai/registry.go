package ai

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config says which providers to enable and how they behave. The zero
// value enables nothing; NewRegistry applies the documented defaults.
type Config struct {
	// OpenAIKey is OPENAI_API_KEY. It enables the OpenAI provider.
	OpenAIKey string
	// OpenAIBaseURL is OPENAI_BASE_URL, an OpenAI-compatible server such as
	// Ollama (http://localhost:11434/v1), vLLM or LM Studio. It enables the
	// OpenAI provider even without a key, as those servers often need none.
	// Empty means https://api.openai.com/v1.
	OpenAIBaseURL string
	// OpenAIModels are the models offered, the default first. Empty means
	// ["gpt-4o-mini", "gpt-4o"].
	OpenAIModels []string

	// AnthropicKey is ANTHROPIC_API_KEY. It enables the Anthropic provider.
	AnthropicKey string
	// AnthropicBaseURL is ANTHROPIC_BASE_URL. Empty means
	// https://api.anthropic.com. Without a key it enables nothing.
	AnthropicBaseURL string
	// AnthropicModels are the models offered, the default first. Empty
	// means ["claude-haiku-4-5", "claude-sonnet-4-6"].
	AnthropicModels []string

	// MaxRetries is how many times a failed attempt is retried before the
	// first delta. Zero means 3; negative means no retries.
	MaxRetries int
	// RetryBaseDelay is the first backoff, doubled on each retry up to 8s
	// and jittered; a Retry-After from the provider replaces it. Zero means
	// 500 * time.Millisecond.
	RetryBaseDelay time.Duration
	// MaxTokens is the output limit sent when Request.MaxTokens is 0.
	// Zero means 1024.
	MaxTokens int
	// HTTPClient makes the requests. Nil means a client that waits at most
	// 2 minutes for response headers and has no overall timeout, since a
	// stream may run for minutes; cancel the ctx to stop one.
	HTTPClient *http.Client
}

// Defaults applied by NewRegistry.
var (
	defaultOpenAIModels    = []string{"gpt-4o-mini", "gpt-4o"}
	defaultAnthropicModels = []string{"claude-haiku-4-5", "claude-sonnet-4-6"}
)

const (
	defaultMaxRetries     = 3
	defaultRetryBaseDelay = 500 * time.Millisecond
	defaultMaxTokens      = 1024
	headerTimeout         = 2 * time.Minute
)

// Validate reports the first setting that cannot work, by name.
func (c Config) Validate() error {
	for _, u := range []struct{ name, value string }{
		{"OPENAI_BASE_URL", c.OpenAIBaseURL},
		{"ANTHROPIC_BASE_URL", c.AnthropicBaseURL},
	} {
		if u.value == "" {
			continue
		}
		parsed, err := url.Parse(u.value)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return fmt.Errorf("ai: %s %q is not an http(s) URL", u.name, u.value)
		}
	}
	if c.MaxTokens < 0 {
		return fmt.Errorf("ai: MaxTokens %d is negative", c.MaxTokens)
	}
	if c.RetryBaseDelay < 0 {
		return fmt.Errorf("ai: RetryBaseDelay %s is negative", c.RetryBaseDelay)
	}
	return nil
}

// setDefaults fills the zero fields with their documented defaults.
func (c *Config) setDefaults() {
	c.OpenAIModels = cleanModels(c.OpenAIModels, defaultOpenAIModels)
	c.AnthropicModels = cleanModels(c.AnthropicModels, defaultAnthropicModels)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = defaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = defaultRetryBaseDelay
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = defaultMaxTokens
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
}

// cleanModels trims the names, drops empty ones (a list parsed from
// "a, b," has them) and falls back to def when none is left.
func cleanModels(models, def []string) []string {
	var out []string
	for _, m := range models {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		out = append(out, def...)
	}
	return out
}

// defaultHTTPClient bounds the wait for response headers, so a server that
// accepts the connection and never answers fails (and is retried), but
// leaves the body unbounded for long streams.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = headerTimeout
	return &http.Client{Transport: t}
}

// ProviderInfo describes a configured provider for clients. It never holds
// a key.
type ProviderInfo struct {
	Name         string   `json:"name"`
	Models       []string `json:"models"`
	DefaultModel string   `json:"default_model"`
}

// Registry holds the configured providers, OpenAI first. It is safe for
// concurrent use: it does not change after NewRegistry.
type Registry struct {
	providers []Provider
}

// NewRegistry builds the providers that cfg enables. With none enabled it
// returns an empty Registry, not an error: AI cards then fail with
// ErrNoProvider and nothing else breaks. A nil log discards.
func NewRegistry(cfg Config, log *slog.Logger) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.setDefaults()
	r := &Registry{}
	if cfg.OpenAIKey != "" || cfg.OpenAIBaseURL != "" {
		r.providers = append(r.providers, newOpenAI(cfg, log))
	}
	if cfg.AnthropicKey != "" {
		r.providers = append(r.providers, newAnthropic(cfg, log))
	} else if cfg.AnthropicBaseURL != "" {
		log.Warn("ai: ANTHROPIC_BASE_URL is set without ANTHROPIC_API_KEY; Anthropic stays off")
	}
	for _, p := range r.providers {
		log.Info("ai: provider configured", "provider", p.Name(), "default_model", p.DefaultModel(), "models", len(p.Models()))
	}
	return r, nil
}

// Get returns the provider with that name, if it is configured.
func (r *Registry) Get(name string) (Provider, bool) {
	for _, p := range r.providers {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Default returns the first configured provider.
func (r *Registry) Default() (Provider, bool) {
	if len(r.providers) == 0 {
		return nil, false
	}
	return r.providers[0], true
}

// Lookup returns the named provider, or the default one for an empty
// name. It fails with ErrNoProvider when none is configured and with an
// error wrapping ErrUnknownProvider when the named one is not.
func (r *Registry) Lookup(name string) (Provider, error) {
	if len(r.providers) == 0 {
		return nil, ErrNoProvider
	}
	if name == "" {
		p, _ := r.Default()
		return p, nil
	}
	if p, ok := r.Get(name); ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
}

// List describes the configured providers, in order. The slices are
// copies.
func (r *Registry) List() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, ProviderInfo{Name: p.Name(), Models: p.Models(), DefaultModel: p.DefaultModel()})
	}
	return out
}
