package e2e

import (
	"context"
	"errors"
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
	for i, node := range []*Sker{a, a, a, b, b} {
		_, err := node.NewClient().Login(ctx, "ann@example.com", "wrong password")
		if e := (*APIError)(nil); !errors.As(err, &e) || e.Status != 401 {
			t.Fatalf("failure %d: got %v; want 401", i+1, err)
		}
	}
	for name, node := range map[string]*Sker{"a": a, "b": b} {
		_, err := node.NewClient().Login(ctx, "ann@example.com", "correct horse battery")
		if e := (*APIError)(nil); !errors.As(err, &e) || e.Status != 429 || e.Code != "rate_limited" {
			t.Errorf("sixth attempt on node %s: got %v; want 429 rate_limited", name, err)
		}
	}
}
