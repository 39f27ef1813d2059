package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// TestRedisSharesLoginLimit: two sker processes on one database and one
// Redis count failed logins together. Five failures in all (the per-email
// limit), three on one node and two on the other, and the next attempt is
// refused with 429 rate_limited on either node, even with the right
// password.
func TestRedisSharesLoginLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := testkit.PostgresURL(t)
	_, prefix := testkit.Redis(t)
	env := map[string]string{
		"REDIS_URL": testkit.DefaultRedisURL,
		// Keys go under the lower-cased NATS_PREFIX and ":", which is the
		// test's own prefix, deleted when the test ends.
		"NATS_PREFIX": strings.TrimSuffix(prefix, ":"),
	}
	a := NewSker(t, Options{DatabaseURL: url, Env: env})
	if res := a.Run("migrate"); res.Code != 0 {
		t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
	}
	a.Start()
	b := StartSker(t, Options{DatabaseURL: url, Env: env})

	if _, err := a.NewClient().Register(ctx, "ann@example.com", "correct horse battery", "Ann"); err != nil {
		t.Fatalf("register: %v", err)
	}
	sharedLoginLimit(t, ctx, []*Sker{a, a, a, b, b}, "ann@example.com", "Redis up")
}

// The per-email login limit: the sixth attempt after five failures is
// refused.
const loginLimit = 5

// loginTimeout is the most a login may take whatever Redis does: SKER's
// Redis timeouts are 500 ms, and a login falls back to counting on its
// node rather than wait.
const loginTimeout = 5 * time.Second

// timedLogin logs in on node, failing the test when the answer takes
// longer than loginTimeout.
func timedLogin(t *testing.T, ctx context.Context, node *Sker, email, password string) error {
	t.Helper()
	start := time.Now()
	_, err := node.NewClient().Login(ctx, email, password)
	took := time.Since(start)
	if took > loginTimeout {
		t.Fatalf("login of %s took %v; want under %v", email, took, loginTimeout)
	}
	if took > time.Second {
		t.Logf("login of %s on %s took %v", email, node.URL(), took)
	}
	return err
}

// failLogin is a wrong password, which must be answered 401.
func failLogin(t *testing.T, ctx context.Context, node *Sker, email, what string) {
	t.Helper()
	err := timedLogin(t, ctx, node, email, "wrong password")
	if e := (*APIError)(nil); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("%s: wrong password for %s: got %v; want 401", what, email, err)
	}
}

// loginRefused checks that the right password is refused as rate limited.
func loginRefused(t *testing.T, ctx context.Context, node *Sker, email, what string) {
	t.Helper()
	err := timedLogin(t, ctx, node, email, "correct horse battery")
	if e := (*APIError)(nil); !errors.As(err, &e) || e.Status != 429 || e.Code != "rate_limited" {
		t.Errorf("%s: login of %s: got %v; want 429 rate_limited", what, email, err)
	}
}

// loginWorks checks that the right password logs in.
func loginWorks(t *testing.T, ctx context.Context, node *Sker, email, what string) {
	t.Helper()
	if err := timedLogin(t, ctx, node, email, "correct horse battery"); err != nil {
		t.Errorf("%s: login of %s: got %v; want success", what, email, err)
	}
}

// sharedLoginLimit makes one failed login of email on each node of fails
// in turn (loginLimit of them), then checks that the next attempt is
// refused on every node of fails.
func sharedLoginLimit(t *testing.T, ctx context.Context, fails []*Sker, email, what string) {
	t.Helper()
	if len(fails) != loginLimit {
		t.Fatalf("sharedLoginLimit: %d failures; want %d", len(fails), loginLimit)
	}
	for _, node := range fails {
		failLogin(t, ctx, node, email, what)
	}
	seen := map[*Sker]bool{}
	for _, node := range fails {
		if !seen[node] {
			seen[node] = true
			loginRefused(t, ctx, node, email, what)
		}
	}
}

// logCount is how many times substr is in every run's output of s.
func logCount(s *Sker, substr string) int {
	n := 0
	for i := 1; i <= s.starts; i++ {
		b, _ := os.ReadFile(s.logPath(i))
		n += bytes.Count(b, []byte(substr))
	}
	return n
}
