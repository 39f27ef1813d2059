package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/testkit"
)

func TestAuthentication(t *testing.T) {
	const authTimeout = 200 * time.Millisecond
	s := newStack(t, func(c *Config) { c.AuthTimeout = authTimeout }, nil)
	uid, tok := s.user("a")
	// A token signed with the right key that expired an hour ago.
	past := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: bcrypt.MinCost,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }}, s.store, nil, testkit.Logger())
	expired, _, err := past.IssueAccess(uid)
	if err != nil {
		t.Fatal(err)
	}
	tampered := tok[:len(tok)-2] + flip(tok[len(tok)-2]) + tok[len(tok)-1:]
	otherKey := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32)), BcryptCost: bcrypt.MinCost}, s.store, nil, testkit.Logger())
	forged, _, err := otherKey.IssueAccess(uid)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("query token", func(t *testing.T) {
		c := s.dialWith(dialer(0), "?token="+url.QueryEscape(tok))
		f := c.next()
		if f.Type != "hello" || f.User != uid || f.Session == "" || f.Limits == nil || f.Limits.MaxFrameBytes != 1<<20 {
			t.Fatalf("got %s; want hello for %s with a session and the limits", f.Raw, uid)
		}
		c.quiet("q")
	})
	t.Run("auth frame", func(t *testing.T) {
		c := s.dialWith(dialer(0), "")
		c.send(map[string]any{"type": "auth", "token": tok})
		if f := c.next(); f.Type != "hello" || f.User != uid {
			t.Fatalf("got %s; want hello for %s", f.Raw, uid)
		}
		c.quiet("f")
		c.send(map[string]any{"type": "auth", "token": tok})
		if f := c.next(); f.Type != "error" || f.Code != apierr.CodeAlreadyAuthed {
			t.Fatalf("second auth: got %s; want error %s", f.Raw, apierr.CodeAlreadyAuthed)
		}
	})
	t.Run("no token in time", func(t *testing.T) {
		began := time.Now()
		c := s.dialWith(dialer(0), "")
		code, frames := c.closed(5 * time.Second)
		if code != apierr.CloseAuthTimeout || len(frames) != 0 {
			t.Fatalf("got close %d after %d frames; want %d and no frame", code, len(frames), apierr.CloseAuthTimeout)
		}
		if took := time.Since(began); took < authTimeout {
			t.Fatalf("closed after %v; want not before the auth timeout %v", took, authTimeout)
		}
	})
	for _, tc := range []struct {
		name, query string
		first       any // a first frame, or nil
		reason      string
	}{
		{"bad query token", "?token=nonsense", nil, "unauthorized"},
		{"tampered query token", "?token=" + url.QueryEscape(tampered), nil, "unauthorized"},
		{"token signed with another key", "?token=" + url.QueryEscape(forged), nil, "unauthorized"},
		{"expired query token", "?token=" + url.QueryEscape(expired), nil, "token_expired"},
		{"bad auth frame token", "", map[string]any{"type": "auth", "token": "nonsense"}, "unauthorized"},
		{"expired auth frame token", "", map[string]any{"type": "auth", "token": expired}, "token_expired"},
		{"first frame not auth", "", map[string]any{"type": "ping", "id": "1"}, ""},
		{"first frame malformed", "", "{", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dialWith(dialer(0), tc.query)
			if s, ok := tc.first.(string); ok {
				if err := c.conn.WriteMessage(1, []byte(s)); err != nil {
					t.Fatal(err)
				}
			} else if tc.first != nil {
				c.send(tc.first)
			}
			_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.conn.ReadMessage()
			ce := asCloseError(err)
			if ce == nil || ce.Code != apierr.CloseUnauthorized || tc.reason != "" && ce.Text != tc.reason {
				t.Fatalf("got %v; want close %d %s", err, apierr.CloseUnauthorized, tc.reason)
			}
		})
	}
	if n := s.gw.Connections(); n != 2 {
		t.Fatalf("connections: got %d; want 2 (the refused ones are not counted)", n)
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestConnectionEndsWhenItsTokenExpires: an open connection is closed with
// 4001 token_expired when its access token expires.
func TestConnectionEndsWhenItsTokenExpires(t *testing.T) {
	s := newStack(t, nil, nil)
	uid, _ := s.user("shortlived")
	short := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), AccessTTL: time.Second, BcryptCost: bcrypt.MinCost}, s.store, nil, testkit.Logger())
	token, _, err := short.IssueAccess(uid)
	if err != nil {
		t.Fatal(err)
	}
	c := s.dial(token)
	code, frames := c.closed(5 * time.Second)
	if code != apierr.CloseUnauthorized {
		t.Fatalf("close code: got %d (frames %v); want %d", code, frames, apierr.CloseUnauthorized)
	}
}
