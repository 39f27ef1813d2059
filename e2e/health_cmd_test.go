package e2e

import (
	"strings"
	"testing"
)

// TestHealthCommand: `sker health` exits 0 while a server answers /health
// and 1 once it has stopped, saying that it does not answer.
func TestHealthCommand(t *testing.T) {
	s := StartSker(t, Options{})
	url := s.URL()
	res := s.Run("health", "--server", url)
	if res.Code != 0 || !strings.Contains(res.Stdout, `"status":"ok"`) {
		t.Fatalf("sker health of a running server: code %d, stdout %q, stderr %q; want 0 and its /health", res.Code, res.Stdout, res.Stderr)
	}
	s.Stop()
	res = s.Run("health", "--server", url)
	if res.Code != 1 || !strings.Contains(res.Stderr, "does not answer") {
		t.Fatalf("sker health of a stopped server: code %d, stderr %q; want 1 saying it does not answer", res.Code, res.Stderr)
	}
	res = s.Run("health", "--server", "ftp://nowhere")
	if res.Code != 1 || !strings.Contains(res.Stderr, "--server") {
		t.Fatalf("sker health --server ftp://nowhere: code %d, stderr %q; want 1 naming --server", res.Code, res.Stderr)
	}
}
