package auth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skerhq/sker/auth"
)

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := auth.LoadOrCreateSecret(dir, nil)
	if err != nil {
		t.Fatalf("LoadOrCreateSecret: %v", err)
	}
	if len(first) != 32 {
		t.Fatalf("got %d bytes; want 32", len(first))
	}
	fi, err := os.Stat(filepath.Join(dir, auth.SecretFile))
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("got mode %v; want 0600", mode)
	}
	again, err := auth.LoadOrCreateSecret(dir, nil)
	if err != nil {
		t.Fatalf("second LoadOrCreateSecret: %v", err)
	}
	if !bytes.Equal(first, again) {
		t.Fatal("second call returned another secret; want the persisted one")
	}
}

func TestLoadOrCreateSecretCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, auth.SecretFile), []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := auth.LoadOrCreateSecret(dir, nil)
	if err == nil || !strings.Contains(err.Error(), auth.SecretFile) {
		t.Fatalf("got %v; want an error naming %s", err, auth.SecretFile)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
		ok   bool
	}{
		{"ok", auth.Config{Secret: testSecret}, true},
		{"short secret", auth.Config{Secret: testSecret[:31]}, false},
		{"bad cost", auth.Config{Secret: testSecret, BcryptCost: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v; want ok %v", err, tt.ok)
			}
		})
	}
}
