package skerhttp_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	skerhttp "github.com/skerhq/sker/http"
)

// opsApp serves GET /ops/x behind OpsOnly(token) on a loopback port.
func opsApp(t *testing.T, token string) (*fiber.App, string) {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ops/x", skerhttp.OpsOnly(token), func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return app, "http://" + ln.Addr().String() + "/ops/x"
}

func opsStatus(t *testing.T, url string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOpsOnly: without a token, an ops route answers a loopback peer that
// no proxy passed on, and 404 to anything else; with a token, only a
// request bearing it.
func TestOpsOnly(t *testing.T) {
	app, url := opsApp(t, "")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"loopback", nil, 200},
		{"loopback through a proxy (X-Forwarded-For)", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 404},
		{"loopback through a proxy (X-Real-IP)", map[string]string{"X-Real-IP": "203.0.113.9"}, 404},
		{"loopback through a proxy (Forwarded)", map[string]string{"Forwarded": "for=203.0.113.9"}, 404},
		{"loopback with a token nobody set", map[string]string{"Authorization": "Bearer x"}, 200},
	} {
		if got := opsStatus(t, url, tc.header); got != tc.want {
			t.Errorf("no OPS_TOKEN, %s: got %d; want %d", tc.name, got, tc.want)
		}
	}
	// app.Test's connection has a peer that is not loopback.
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/ops/x", nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 {
		t.Errorf("no OPS_TOKEN, a peer that is not loopback: got %d; want 404", resp.StatusCode)
	}

	app, url = opsApp(t, "s3cret-ops-token")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"loopback without the token", nil, 404},
		{"a wrong token", map[string]string{"Authorization": "Bearer s3cret-ops-tokem"}, 404},
		{"the token", map[string]string{"Authorization": "Bearer s3cret-ops-token"}, 200},
		{"the token through a proxy", map[string]string{"Authorization": "bearer s3cret-ops-token", "X-Forwarded-For": "203.0.113.9"}, 200},
	} {
		if got := opsStatus(t, url, tc.header); got != tc.want {
			t.Errorf("OPS_TOKEN set, %s: got %d; want %d", tc.name, got, tc.want)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/ops/x", nil)
	req.Header.Set("Authorization", "Bearer s3cret-ops-token")
	if resp, err := app.Test(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("OPS_TOKEN set, the token from a peer that is not loopback: got %v, %v; want 200", resp.StatusCode, err)
	}
}
