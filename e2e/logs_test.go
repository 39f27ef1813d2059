package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skerhq/sker/testkit"
)

// TestLogsAreJSON: with LOG_FORMAT=json every line `sker serve` writes is
// a JSON record (nats-server, go-redis against a Redis that does not
// answer, the RabbitMQ bridge, goose's migrations on PostgreSQL, Fiber),
// ACCESS_LOG=<file> moves the line per request to that file (JSON too)
// and out of the process log, and a command that fails on its
// configuration ends with a JSON line as well.
func TestLogsAreJSON(t *testing.T) {
	access := filepath.Join(t.TempDir(), "access.log")
	s := NewSker(t, Options{DatabaseURL: testkit.PostgresURL(t), Env: map[string]string{
		"REDIS_URL":    "redis://" + freeAddr(t) + "/0", // nothing listens: go-redis complains
		"RABBITMQ_URL": testkit.RabbitMQURL(t),
		"ACCESS_LOG":   access,
		"LOG_LEVEL":    "debug",
	}})
	if res := s.Run("migrate"); res.Code != 0 || strings.TrimSpace(res.Stderr) != "" {
		t.Fatalf("sker migrate: code %d, stderr %q; want 0 and nothing on stderr", res.Code, res.Stderr)
	}
	s.Start()
	c := s.NewClient()
	_, err := c.Register(t.Context(), "logs@example.com", "logs-password", "Logs")
	noErr(t, err)
	cv, err := c.CreateCanvas(t.Context(), "Logs")
	noErr(t, err)
	_, err = c.PostOps(t.Context(), cv.ID, "a", Op{Op: "node.add", ID: "n", Kind: "text", X: F(0), Y: F(0)})
	noErr(t, err)
	resp, err := s.HTTP().Get(s.URL() + "/ready") // 503: Redis does not answer
	noErr(t, err)
	resp.Body.Close()
	s.Stop()

	serveLog, err := os.ReadFile(s.logPath(s.starts))
	noErr(t, err)
	serve := jsonLines(t, "sker serve's output", string(serveLog))
	if serve["nats"] == 0 || serve["redis"] == 0 {
		t.Errorf("sker serve's output has records by component %v; want nats-server's and go-redis's", serve)
	}
	if strings.Contains(string(serveLog), `"msg":"http request"`) {
		t.Errorf("sker serve's output has access lines with ACCESS_LOG=%s", access)
	}
	accessLog, err := os.ReadFile(access)
	noErr(t, err)
	jsonLines(t, "ACCESS_LOG", string(accessLog))
	for _, want := range []string{`"msg":"http request"`, `"route":"/api/v1/auth/register"`, `"route":"/ready"`, `"status":201`, `"status":503`} {
		if !strings.Contains(string(accessLog), want) {
			t.Errorf("ACCESS_LOG lacks %s:\n%s", want, accessLog)
		}
	}

	res := s.Run("serve", "--port", "not-a-port")
	if res.Code != 1 || !strings.Contains(res.Stderr, `"msg":"sker exits"`) || !strings.Contains(res.Stderr, "PORT") {
		t.Errorf("sker serve --port not-a-port: code %d, stderr %q; want 1 and a JSON line naming PORT", res.Code, res.Stderr)
	}
	jsonLines(t, "a failed command's stderr", res.Stderr)
}

// jsonLines fails the test for every line of out that is not one JSON
// object, and counts the records by their component.
func jsonLines(t *testing.T, what, out string) map[string]int {
	t.Helper()
	byComponent := map[string]int{}
	n := 0
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Errorf("%s: not a JSON record: %s", what, line)
			continue
		}
		n++
		comp, _ := rec["component"].(string)
		byComponent[comp]++
	}
	if n == 0 {
		t.Errorf("%s: no records", what)
	}
	return byComponent
}
