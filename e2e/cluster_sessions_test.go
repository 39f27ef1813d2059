package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// helloConn opens a WebSocket to s as token and reads its hello.
func helloConn(t *testing.T, ctx context.Context, s *Sker, token string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(s.URL(), "http")+"/ws?token="+token, nil)
	noErr(t, err)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, hello, err := conn.ReadMessage(); err != nil || !strings.Contains(string(hello), `"hello"`) {
		t.Fatalf("first frame: got %s, %v; want hello", hello, err)
	}
	return conn
}

// closedWithin waits up to d for conn to end and returns its close code
// and how long after since that was; -1 when it ended without a code or
// stayed open.
func closedWithin(conn *websocket.Conn, d time.Duration, since time.Time) (int, time.Duration) {
	code := closeCode(conn, d)
	return code, time.Since(since)
}

// stillOpen fails unless conn answers a ping with a pong.
func stillOpen(t *testing.T, name string, conn *websocket.Conn) {
	t.Helper()
	noErr(t, conn.WriteJSON(map[string]any{"type": "ping"}))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("%s: connection ended: %v; want it open", name, err)
		}
		if strings.Contains(string(data), `"pong"`) {
			return
		}
	}
}

// TestClusterLogoutEndsTheSignInOnEveryNode: on three nodes, Ann is
// signed in twice (two browsers). She signs out of the first on node-1:
// its WebSockets on node-2 and node-3 close with 4001 at once, its refresh
// token and access token are refused there, and the second sign-in's
// connection on node-2 stays open. Signing out everywhere on node-1 then closes that one too.
func TestClusterLogoutEndsTheSignInOnEveryNode(t *testing.T) {
	nodes := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, c := nodes[0], nodes[1], nodes[2]
	first, err := a.NewClient().Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	second, err := a.NewClient().Login(ctx, "ann@example.com", "correct horse battery")
	noErr(t, err)
	firstConns := []*websocket.Conn{helloConn(t, ctx, b, first.AccessToken), helloConn(t, ctx, c, first.AccessToken)}
	secondConn := helloConn(t, ctx, b, second.AccessToken)

	t0 := time.Now()
	noErr(t, a.NewClient().Do(ctx, http.MethodPost, "/api/v1/auth/logout", map[string]string{"refresh_token": first.RefreshToken}, nil))
	for i, conn := range firstConns {
		code, took := closedWithin(conn, 10*time.Second, t0)
		if code != 4001 {
			t.Fatalf("the signed-out sign-in's connection on node-%d: close %d; want 4001", i+2, code)
		}
		t.Logf("logout on node-1 closed the connection on node-%d within %v of the request", i+2, took.Round(time.Millisecond))
	}
	if _, err := (&Client{s: c, Token: first.AccessToken}).Me(ctx); err == nil {
		t.Fatal("GET /me with the signed-out access token on node-3: accepted; want 401")
	}
	onB := b.NewClient()
	var apiErr *APIError
	err = onB.Do(ctx, http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}, nil)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("refresh with the signed-out token on node-2: %v; want 401", err)
	}
	onB.Token = first.AccessToken
	if _, err := onB.Me(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("GET /me with the signed-out access token on node-2: %v; want 401", err)
	}
	onB.Token = second.AccessToken
	if _, err := onB.Me(ctx); err != nil {
		t.Fatalf("GET /me with the other sign-in on node-2: %v", err)
	}
	stillOpen(t, "the other sign-in's connection on node-2", secondConn)

	everywhere := &Client{s: a, Token: second.AccessToken}
	t0 = time.Now()
	noErr(t, everywhere.Do(ctx, http.MethodPost, "/api/v1/auth/logout-everywhere", nil, nil))
	if code, took := closedWithin(secondConn, 10*time.Second, t0); code != 4001 {
		t.Fatalf("after signing out everywhere, the connection on node-2: close %d; want 4001", code)
	} else {
		t.Logf("signing out everywhere on node-1 closed the connection on node-2 within %v of the request", took.Round(time.Millisecond))
	}
	err = onB.Do(ctx, http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": second.RefreshToken}, nil)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("refresh after signing out everywhere on node-2: %v; want 401", err)
	}
}

// joinConn opens a WebSocket to s as token and joins canvasID.
func joinConn(t *testing.T, ctx context.Context, s *Sker, token, canvasID string) *websocket.Conn {
	t.Helper()
	conn := helloConn(t, ctx, s, token)
	noErr(t, conn.WriteJSON(map[string]any{"type": "join", "canvas": canvasID}))
	waitFrame(t, conn, `"joined"`, 30*time.Second)
	return conn
}

// waitFrame reads frames from conn until one contains want, within d.
func waitFrame(t *testing.T, conn *websocket.Conn, want string, d time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a frame with %s: %v", want, err)
		}
		if strings.Contains(string(data), want) {
			return
		}
	}
}

// TestClusterMembershipChangesReachEveryNode: Bob, on node-2, is on Ann's
// canvas. Ann removes him through node-1: his connection on node-2 is
// taken off the canvas at once and node-2's API refuses him the canvas.
// The same for a canvas nobody on node-2 has open, whose role node-2
// keeps in memory. Ann deletes the canvas through node-1: her own
// connection on node-2 is taken off it too.
func TestClusterMembershipChangesReachEveryNode(t *testing.T) {
	nodes := startCluster(t, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := nodes[0], nodes[1]
	ann, bob, annSes, bobSes, cv := sharedCanvas(t, ctx, a, b)
	if _, err := bob.GetCanvas(ctx, cv.ID); err != nil {
		t.Fatalf("bob reads the canvas on node-2: %v", err)
	}
	bobConn := joinConn(t, ctx, b, bobSes.AccessToken, cv.ID)
	annConn := joinConn(t, ctx, b, annSes.AccessToken, cv.ID)

	t0 := time.Now()
	noErr(t, ann.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+cv.ID+"/members/"+bobSes.User.ID, nil, nil))
	waitFrame(t, bobConn, `"left"`, 10*time.Second)
	t.Logf("removing bob through node-1 took his connection on node-2 off the canvas within %v", time.Since(t0).Round(time.Millisecond))
	var apiErr *APIError
	if _, err := bob.GetCanvas(ctx, cv.ID); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("bob reads the canvas on node-2 after his removal: %v; want 404", err)
	}

	// A canvas nobody on node-2 has open: node-2 remembers bob's role
	// from his read, and forgets it when node-1 announces the removal.
	other, err := ann.CreateCanvas(ctx, "Other")
	noErr(t, err)
	noErr(t, ann.Do(ctx, http.MethodPost, "/api/v1/canvases/"+other.ID+"/members", map[string]string{"email": "bob@example.com", "role": "viewer"}, nil))
	if _, err := bob.GetCanvas(ctx, other.ID); err != nil {
		t.Fatalf("bob reads the other canvas on node-2: %v", err)
	}
	noErr(t, ann.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+other.ID+"/members/"+bobSes.User.ID, nil, nil))
	deadline := time.Now().Add(2 * time.Second) // the announcement's trip; the cache trusts a role for 30 s
	for {
		_, err := bob.GetCanvas(ctx, other.ID)
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob reads the other canvas on node-2 2 s after his removal: %v; want 404", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	noErr(t, ann.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+cv.ID, nil, nil))
	waitFrame(t, annConn, `"left"`, 10*time.Second)
	annOnB := &Client{s: b, Token: annSes.AccessToken}
	if _, err := annOnB.GetCanvas(ctx, cv.ID); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("ann reads the deleted canvas on node-2: %v; want 404", err)
	}
}

// sharedCanvas registers Ann through a and Bob through b, and makes a
// canvas of Ann's with Bob as an editor.
func sharedCanvas(t *testing.T, ctx context.Context, a, b *Sker) (ann, bob *Client, annSes, bobSes Session, cv Canvas) {
	t.Helper()
	ann, bob = a.NewClient(), b.NewClient()
	annSes, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	bobSes, err = bob.Register(ctx, "bob@example.com", "correct horse battery", "Bob")
	noErr(t, err)
	cv, err = ann.CreateCanvas(ctx, "Shared")
	noErr(t, err)
	noErr(t, ann.Do(ctx, http.MethodPost, "/api/v1/canvases/"+cv.ID+"/members", map[string]string{"email": "bob@example.com", "role": "editor"}, nil))
	return ann, bob, annSes, bobSes, cv
}
