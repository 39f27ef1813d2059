package auth

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Rule is a fixed-window limit: at most Limit failures per key, counted
// from the first failure, for Window.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Limiter counts failures per key. The in-process MemoryLimiter serves one
// node; the RedisLimiter shares counts between the nodes using one Redis.
type Limiter interface {
	// Check returns zero when key may try again under rule, or how long
	// until it may.
	Check(ctx context.Context, key string, rule Rule) (time.Duration, error)
	// Fail records one failure for key under rule.
	Fail(ctx context.Context, key string, rule Rule) error
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// DefaultMaxKeys is the MemoryLimiter's default bound on tracked keys.
const DefaultMaxKeys = 100_000

// MemoryLimiter is an in-process Limiter bounded in memory: windows that
// have ended are dropped as the limiter is used, and past maxKeys keys the
// oldest window is evicted.
type MemoryLimiter struct {
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex               // guards entries and order
	entries map[string]*list.Element // of *memEntry
	order   *list.List               // *memEntry, oldest first failure first
}

type memEntry struct {
	key   string
	count int
	reset time.Time
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns a MemoryLimiter holding at most maxKeys keys
// (zero means DefaultMaxKeys) and reading time from now (nil: time.Now).
func NewMemoryLimiter(maxKeys int, now func() time.Time) *MemoryLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{now: now, maxKeys: maxKeys, entries: map[string]*list.Element{}, order: list.New()}
}

// Check implements Limiter.
func (m *MemoryLimiter) Check(_ context.Context, key string, rule Rule) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	el, ok := m.entries[key]
	if !ok {
		return 0, nil
	}
	e := el.Value.(*memEntry)
	if !now.Before(e.reset) {
		m.remove(el)
		return 0, nil
	}
	if e.count >= rule.Limit {
		return e.reset.Sub(now), nil
	}
	return 0, nil
}

// Fail implements Limiter.
func (m *MemoryLimiter) Fail(_ context.Context, key string, rule Rule) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if el, ok := m.entries[key]; ok {
		e := el.Value.(*memEntry)
		if now.Before(e.reset) {
			e.count++
			return nil
		}
		m.remove(el)
	}
	m.entries[key] = m.order.PushBack(&memEntry{key: key, count: 1, reset: now.Add(rule.Window)})
	for m.order.Len() > m.maxKeys {
		m.remove(m.order.Front())
	}
	return nil
}

// Reset implements Limiter.
func (m *MemoryLimiter) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len is the number of keys tracked.
func (m *MemoryLimiter) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// sweep drops ended windows from the front. Entries are in order of first
// failure, so with one window length they are also in order of reset; a
// longer window at the front only delays the sweep, and maxKeys still
// bounds the size. m.mu must be held.
func (m *MemoryLimiter) sweep(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		if now.Before(el.Value.(*memEntry).reset) {
			return
		}
		m.remove(el)
	}
}

// remove drops one entry. m.mu must be held.
func (m *MemoryLimiter) remove(el *list.Element) {
	delete(m.entries, el.Value.(*memEntry).key)
	m.order.Remove(el)
}
