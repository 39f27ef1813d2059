package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestDeletedTokenClosesItsConnection: with the real binary, deleting an
// API token through the API closes the WebSocket it opened with 4001 at
// once, and the token opens no new one.
func TestDeletedTokenClosesItsConnection(t *testing.T) {
	s := StartSker(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ann := s.NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	noErr(t, ann.Do(ctx, "POST", "/api/v1/tokens", map[string]any{"name": "bot"}, &created))

	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws?token=" + created.Token
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	noErr(t, err)
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, hello, err := conn.ReadMessage(); err != nil || !strings.Contains(string(hello), `"hello"`) {
		t.Fatalf("first frame: got %s, %v; want hello", hello, err)
	}

	noErr(t, ann.Do(ctx, "DELETE", "/api/v1/tokens/"+created.ID, nil, nil))
	if code := closeCode(conn, 5*time.Second); code != 4001 {
		t.Fatalf("connection of the deleted token: got close %d; want 4001", code)
	}
	again, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	noErr(t, err)
	defer again.Close()
	if code := closeCode(again, 5*time.Second); code != 4001 {
		t.Fatalf("new connection with the deleted token: got close %d; want 4001", code)
	}
}

// closeCode reads until the connection ends and returns its close code, or
// -1 when it ended without one or stayed open for d.
func closeCode(conn *websocket.Conn, d time.Duration) int {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
}
