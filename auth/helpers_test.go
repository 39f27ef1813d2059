package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
	"golang.org/x/crypto/bcrypt"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a fake time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore opens a fresh SQLite store in a temp dir.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sker.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newService returns a Service on a fresh store with a fake clock.
func newService(t *testing.T) (*auth.Service, store.Store, *clock) {
	t.Helper()
	st := openStore(t)
	clk := newClock()
	s := auth.New(auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost, Now: clk.Now}, st, nil, nil)
	return s, st, clk
}

// register makes an account or fails the test.
func register(t *testing.T, s *auth.Service, email string) auth.Session {
	t.Helper()
	ses, err := s.Register(context.Background(), email, "correct horse battery", "")
	if err != nil {
		t.Fatalf("Register(%q): %v", email, err)
	}
	return ses
}

// wantCode fails unless err is an *apierr.Error with code (and, when
// given, field).
func wantCode(t *testing.T, err error, code string, field ...string) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v; want apierr code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %s (%v); want %s", e.Code, err, code)
	}
	if len(field) > 0 && e.Field != field[0] {
		t.Fatalf("got field %q; want %q", e.Field, field[0])
	}
}
