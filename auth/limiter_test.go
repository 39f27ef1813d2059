package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

func TestMemoryLimiter(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	lim := auth.NewMemoryLimiter(0, clk.Now)
	rule := auth.Rule{Limit: 3, Window: time.Minute}
	check := func(key string) time.Duration {
		t.Helper()
		d, err := lim.Check(ctx, key, rule)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return d
	}
	for i := range 3 {
		if d := check("a"); d != 0 {
			t.Fatalf("before failure %d: got wait %v; want 0", i+1, d)
		}
		_ = lim.Fail(ctx, "a", rule)
	}
	if d := check("a"); d != time.Minute {
		t.Fatalf("after 3 failures: got wait %v; want 1m", d)
	}
	if d := check("b"); d != 0 {
		t.Fatalf("other key: got wait %v; want 0", d)
	}
	clk.Advance(40 * time.Second)
	if d := check("a"); d != 20*time.Second {
		t.Fatalf("40s later: got wait %v; want 20s", d)
	}
	clk.Advance(20 * time.Second)
	if d := check("a"); d != 0 {
		t.Fatalf("window over: got wait %v; want 0", d)
	}
	for range 3 {
		_ = lim.Fail(ctx, "a", rule)
	}
	_ = lim.Reset(ctx, "a")
	if d := check("a"); d != 0 {
		t.Fatalf("after Reset: got wait %v; want 0", d)
	}
}

func TestMemoryLimiterBounded(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	lim := auth.NewMemoryLimiter(10, clk.Now)
	rule := auth.Rule{Limit: 1, Window: time.Minute}
	for i := range 25 {
		_ = lim.Fail(ctx, fmt.Sprint("key", i), rule)
	}
	if got := lim.Len(); got != 10 {
		t.Fatalf("got %d keys; want the bound 10", got)
	}
	// The newest keys survive; the oldest were evicted.
	if d, _ := lim.Check(ctx, "key24", rule); d == 0 {
		t.Fatal("newest key: got no wait; want limited")
	}
	if d, _ := lim.Check(ctx, "key0", rule); d != 0 {
		t.Fatalf("oldest key: got wait %v; want evicted", d)
	}
	clk.Advance(time.Minute)
	_ = lim.Fail(ctx, "fresh", rule)
	if got := lim.Len(); got != 1 {
		t.Fatalf("after the windows ended: got %d keys; want 1", got)
	}
}

// limited fails unless err is a *LimitedError with a wait in (0, max].
func limited(t *testing.T, err error, max time.Duration) {
	t.Helper()
	var le *auth.LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v; want *LimitedError", err)
	}
	if le.RetryAfter <= 0 || le.RetryAfter > max {
		t.Fatalf("got RetryAfter %v; want in (0, %v]", le.RetryAfter, max)
	}
	wantCode(t, err, apierr.CodeRateLimited)
}

func TestLoginLimitPerAccount(t *testing.T) {
	s, _, clk := newService(t)
	ctx := context.Background()
	register(t, s, "ann@example.com")
	for i := range 5 {
		_, err := s.Login(ctx, "ann@example.com", "wrong password", fmt.Sprint("192.0.2.", i))
		wantCode(t, err, apierr.CodeUnauthorized)
	}
	// Even the right password is refused now, from any address.
	_, err := s.Login(ctx, "ANN@example.com", "correct horse battery", "198.51.100.7")
	limited(t, err, 15*time.Minute)
	// Another account is unaffected.
	register(t, s, "bob@example.com")
	if _, err := s.Login(ctx, "bob@example.com", "correct horse battery", "192.0.2.1"); err != nil {
		t.Fatalf("other account: %v", err)
	}
	clk.Advance(15 * time.Minute)
	if _, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLoginLimitUnknownEmail(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	for i := range 5 {
		_, err := s.Login(ctx, "ghost@example.com", "whatever1", fmt.Sprint("192.0.2.", i))
		wantCode(t, err, apierr.CodeUnauthorized)
	}
	_, err := s.Login(ctx, "ghost@example.com", "whatever1", "192.0.2.99")
	limited(t, err, 15*time.Minute)
}

func TestLoginSuccessResetsAccount(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	register(t, s, "ann@example.com")
	for round := range 3 {
		for range 4 {
			_, err := s.Login(ctx, "ann@example.com", "wrong password", "192.0.2.1")
			wantCode(t, err, apierr.CodeUnauthorized)
		}
		if _, err := s.Login(ctx, "ann@example.com", "correct horse battery", "192.0.2.1"); err != nil {
			t.Fatalf("round %d: login after 4 failures: %v", round, err)
		}
	}
}

func TestLoginLimitPerIP(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	register(t, s, "ann@example.com")
	for i := range 20 {
		_, err := s.Login(ctx, fmt.Sprintf("user%d@example.com", i), "wrong password", "203.0.113.5")
		wantCode(t, err, apierr.CodeUnauthorized)
	}
	_, err := s.Login(ctx, "ann@example.com", "correct horse battery", "203.0.113.5")
	limited(t, err, 15*time.Minute)
	if _, err := s.Login(ctx, "ann@example.com", "correct horse battery", "203.0.113.6"); err != nil {
		t.Fatalf("other address: %v", err)
	}
}

func TestLimitedErrorRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{{time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {15 * time.Minute, 900}}
	for _, tt := range tests {
		if got := (&auth.LimitedError{RetryAfter: tt.d}).RetryAfterSeconds(); got != tt.want {
			t.Fatalf("RetryAfterSeconds(%v) = %d; want %d", tt.d, got, tt.want)
		}
	}
}
