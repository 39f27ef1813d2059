package aiengine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis's part in the engine's limits. With Config.Redis, every engine
// sharing the Redis counts one user's runs together:
//
//   - runs a minute: GCRA (go-redis/redis_rate), key
//     "rate:" + RedisPrefix + "ai:runs:" + user;
//   - runs at once: a sorted set, key RedisPrefix + "ai:running:" + user,
//     of the user's run ids, each scored by when its slot expires
//     (Redis's clock, in ms). Admit adds the run unless MaxRunsPerUser
//     live slots are there already; Release removes it; the admitting
//     engine refreshes the slots of its runs every RunSlotTTL/3, so the
//     slots of an engine that dies (its node killed) expire within
//     RunSlotTTL and free the user's runs on the other nodes.
//
// While Redis does not answer (within redisTimeout), each engine counts
// on its own, as without Redis, and warns at most once a minute; after a
// failure it asks Redis again after redisRetry. When Redis answers again,
// the refresh adds this engine's runs admitted meanwhile, so the shared
// count knows them.

// redisTimeout bounds one Redis call made while admitting or releasing a
// run: a canvas actor waits for it.
const redisTimeout = time.Second

// redisRetry is how long after a failure of Redis the engine counts on its
// own without asking Redis.
const redisRetry = 2 * time.Second

// redisWarnEvery is the least time between two warnings that Redis does
// not answer.
const redisWarnEvery = time.Minute

// acquireScript adds run to the user's slots unless max live slots are
// there (expired slots are dropped first). ARGV: run, max, ttl in ms.
// Answers 1 when the run has its slot, 0 when the user is at the limit.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// refreshScript moves the expiry of each run in ARGV[2:] to ttl (ARGV[1],
// in ms) from now, adding the runs Redis does not have (admitted while it
// did not answer), and drops expired slots.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// redisState is whether Redis answered lately, shared by every Redis call
// of one engine.
type redisState struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	down     bool
	retryAt  time.Time
	warnedAt time.Time
}

// try reports whether to ask Redis now: always while it answers, and
// redisRetry after it failed.
func (s *redisState) try() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down || !s.now().Before(s.retryAt)
}

// failed notes that Redis did not answer what: a warning at most once in
// redisWarnEvery.
func (s *redisState) failed(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.retryAt = now.Add(redisRetry)
	first := !s.down
	s.down = true
	if first || now.Sub(s.warnedAt) >= redisWarnEvery {
		s.warnedAt = now
		s.log.Warn("AI limits: Redis does not answer; this node counts runs on its own until it does", "call", what, "err", err)
	}
}

// answered notes that Redis answered, saying so after a failure.
func (s *redisState) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.down = false
		s.log.Info("AI limits: Redis answers again; runs are counted with the other nodes again")
	}
}

// runningKey is the sorted set of user's runs at once.
func (e *Engine) runningKey(user string) string { return e.cfg.RedisPrefix + "ai:running:" + user }

// acquireShared takes a slot for run among user's runs at once in Redis.
// shared is false without Redis or when Redis did not answer: then the
// caller counts in this process.
func (e *Engine) acquireShared(user, run string) (shared, ok bool) {
	if e.cfg.Redis == nil || !e.redis.try() {
		return false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	n, err := acquireScript.Run(ctx, e.cfg.Redis, []string{e.runningKey(user)},
		run, e.cfg.MaxRunsPerUser, e.cfg.RunSlotTTL.Milliseconds()).Int()
	if err != nil {
		e.redis.failed("runs at once", err)
		return false, false
	}
	e.redis.answered()
	return true, n == 1
}

// releaseShared frees run's slot in Redis; when Redis does not answer, the
// slot expires within RunSlotTTL.
func (e *Engine) releaseShared(user, run string) {
	if e.cfg.Redis == nil || !e.redis.try() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	if err := e.cfg.Redis.ZRem(ctx, e.runningKey(user), run).Err(); err != nil {
		e.redis.failed("release a run", err)
		return
	}
	e.redis.answered()
}

// refreshSlots keeps the slots of this engine's runs alive until Stop.
func (e *Engine) refreshSlots() {
	defer e.wg.Done()
	tick := time.NewTicker(e.cfg.RunSlotTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-e.stopped:
			return
		case <-tick.C:
			e.refreshOnce()
		}
	}
}

// refreshOnce moves the expiry of every run this engine admitted, by user.
// A run admitted longer ago than RunTimeout and a minute is past its
// card's deadline: its slot is left to expire.
func (e *Engine) refreshOnce() {
	byUser := e.liveRuns()
	if len(byUser) == 0 || !e.redis.try() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	ttl := e.cfg.RunSlotTTL.Milliseconds()
	_, err := e.cfg.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for user, runs := range byUser {
			args := append([]any{ttl}, runs...)
			// EVAL, not EVALSHA: a pipeline cannot retry a script Redis
			// does not have yet.
			refreshScript.Eval(ctx, p, []string{e.runningKey(user)}, args...)
		}
		return nil
	})
	if err != nil {
		e.redis.failed("refresh runs at once", err)
		return
	}
	e.redis.answered()
}

// liveRuns is this engine's admitted runs still within their deadline, by
// user.
func (e *Engine) liveRuns() map[string][]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	oldest := time.Now().Add(-(e.cfg.RunTimeout + time.Minute))
	byUser := map[string][]any{}
	for run, user := range e.admitted {
		if e.admittedAt[run].After(oldest) {
			byUser[user] = append(byUser[user], run)
		}
	}
	return byUser
}
