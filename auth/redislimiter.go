package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLimiter is a Limiter whose counts live in Redis, so that every node
// sharing the Redis shares every limit: a failure recorded on one node
// counts on all of them.
//
// It keeps the MemoryLimiter's rule exactly, a fixed window opened by the
// first failure: Fail is INCR and PEXPIRE NX in one MULTI (the window is
// set by the first failure only, and a key never exists without its
// expiry), Check is GET and PTTL and records nothing, Reset is DEL. A
// GCRA limiter (go-redis/redis_rate) answers a different question: it
// spreads the allowance over the window, so its wait after the limit is
// one emission interval rather than the rest of the window, and each of
// its calls spends allowance, where Check must only look.
//
// Every key is prefix + "limit:" + the Limiter key. Windows are measured by
// the Redis server's clock.
type RedisLimiter struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a RedisLimiter on rdb with keys under prefix
// (for example "SKER:").
func NewRedisLimiter(rdb redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, prefix: prefix}
}

func (r *RedisLimiter) key(key string) string { return r.prefix + "limit:" + key }

// Check implements Limiter.
func (r *RedisLimiter) Check(ctx context.Context, key string, rule Rule) (time.Duration, error) {
	k := r.key(key)
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, k)
		ttl = p.PTTL(ctx, k)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auth: redis limiter: %w", err)
	}
	n, err := get.Int()
	if err != nil {
		return 0, fmt.Errorf("auth: redis limiter: count of %s: %w", k, err)
	}
	wait := ttl.Val()
	if n < rule.Limit || wait <= 0 {
		// Under the limit, or the window ended between GET and PTTL.
		return 0, nil
	}
	return wait, nil
}

// Fail implements Limiter.
func (r *RedisLimiter) Fail(ctx context.Context, key string, rule Rule) error {
	k := r.key(key)
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, k)
		p.Do(ctx, "PEXPIRE", k, max(rule.Window.Milliseconds(), 1), "NX")
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: redis limiter: %w", err)
	}
	return nil
}

// Reset implements Limiter.
func (r *RedisLimiter) Reset(ctx context.Context, key string) error {
	if err := r.rdb.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("auth: redis limiter: %w", err)
	}
	return nil
}
