package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit runs `systemd-analyze verify` on
// deploy/systemd/sker.service, with the built binary in place of
// /usr/local/bin/sker, and fails on anything it reports.
func TestSystemdUnit(t *testing.T) {
	analyze := debianTool(t, "systemd-analyze", "systemd")
	root, err := moduleRoot()
	noErr(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "systemd", "sker.service"))
	noErr(t, err)
	if !strings.Contains(string(raw), "ExecStart=/usr/local/bin/sker serve") {
		t.Fatalf("deploy/systemd/sker.service: no ExecStart=/usr/local/bin/sker serve")
	}
	unit := filepath.Join(t.TempDir(), "sker.service")
	noErr(t, os.WriteFile(unit, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/sker", skerBin)), 0o644))
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify sker.service: %v\n%s", err, out)
	}
}
