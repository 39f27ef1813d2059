package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAlertRules checks deploy/prometheus/sker-alerts.yml with Debian's
// promtool: the rules parse, and their unit tests
// (sker-alerts.test.yml) fire the alerts they expect.
func TestAlertRules(t *testing.T) {
	promtool := debianTool(t, "promtool", "prometheus")
	root, err := moduleRoot()
	noErr(t, err)
	dir := filepath.Join(root, "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "sker-alerts.yml"}, {"test", "rules", "sker-alerts.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
