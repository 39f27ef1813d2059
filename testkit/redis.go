package testkit

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the machine's Redis, used when SKER_TEST_REDIS_URL is
// not set.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// startRedis is how to start the machine's Redis when it is down.
const startRedis = "redis-server --daemonize yes"

// Redis returns a client of the Redis at SKER_TEST_REDIS_URL (default
// DefaultRedisURL), closed when the test ends, and a key prefix of its own
// ("sker_test_<random>:"); keys under the prefix are deleted when the test
// ends. A Redis that does not answer fails the test with how to start it.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	raw := os.Getenv("SKER_TEST_REDIS_URL")
	if raw == "" {
		raw = DefaultRedisURL
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("testkit: SKER_TEST_REDIS_URL %q: %v", raw, err)
	}
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("testkit: Redis at %s does not answer (%v); start it with\n\t%s\nor set SKER_TEST_REDIS_URL",
			opts.Addr, err, startRedis)
	}
	prefix := "sker_test_" + randomHex(8) + ":"
	t.Cleanup(func() {
		defer rdb.Close()
		deleteKeys(t, rdb, prefix)
	})
	return rdb, prefix
}

// deleteKeys deletes every key under prefix.
func deleteKeys(t testing.TB, rdb *redis.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("testkit: delete redis key %s: %v", iter.Val(), err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("testkit: scan redis keys %s*: %v", prefix, err)
	}
}
