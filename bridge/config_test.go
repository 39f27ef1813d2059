package bridge

import (
	"context"
	"errors"
	"testing"
)

// TestNewConfigError: a Config the bridge cannot run is a *ConfigError,
// which a starting node does not wait out.
func TestNewConfigError(t *testing.T) {
	_, err := New(context.Background(), Config{URL: "http://127.0.0.1/", DisableEvents: true, DisableCommands: true})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v (%T); want a *ConfigError", err, err)
	}
}
