package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// SecretFile is the name, inside DATA_DIR, of the generated development
// JWT secret.
const SecretFile = "jwt.secret"

// LoadOrCreateSecret returns the development JWT secret kept in
// dataDir/jwt.secret (hex, mode 0600), creating it with 32 random bytes
// when absent. It logs a warning either way: a secret on disk is for
// development only; production sets JWT_SECRET, and the caller must refuse
// to start without it.
func LoadOrCreateSecret(dataDir string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dataDir, SecretFile)
	secret, err := readSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = createSecret(dataDir, path)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			secret, err = readSecret(path)
		}
	}
	if err != nil {
		return nil, err
	}
	if log != nil {
		log.Warn("JWT_SECRET is not set; using a development secret from the data folder (set JWT_SECRET in production)",
			"path", path)
	}
	return secret, nil
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read %s: %w", path, err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: %s: want at least %d hex-encoded bytes; delete the file to generate a new secret", path, MinSecretLen)
	}
	return secret, nil
}

func createSecret(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create %s: %w", dataDir, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("auth: random secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: create %s: %w", path, err)
	}
	_, werr := f.WriteString(hex.EncodeToString(secret) + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("auth: write %s: %w", path, err)
	}
	return secret, nil
}
