package ai

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBackoff caps the exponential backoff between attempts.
const maxBackoff = 8 * time.Second

// maxRetryAfter is the longest Retry-After a provider waits out itself. A
// longer one is returned in Error.RetryAfter for the job queue to honour,
// rather than holding a card's stream open for minutes.
const maxRetryAfter = time.Minute

// retrier runs the attempts of one stream. The SDKs' own retries are off:
// they cannot know that a delta has already reached the card, and a retry
// then would write the answer twice.
type retrier struct {
	provider string
	retries  int           // retries after the first attempt
	base     time.Duration // first backoff; doubled per retry
	log      *slog.Logger
}

// attemptFunc makes one attempt, passing each text delta to onDelta.
type attemptFunc func(ctx context.Context, onDelta func(string) error) (Usage, error)

// run calls attempt until it succeeds, fails after delivering a delta, fails
// with an error that is not a retryable *Error, or runs out of retries.
func (r retrier) run(ctx context.Context, model string, onDelta func(string) error, attempt attemptFunc) (Usage, error) {
	for n := 0; ; n++ {
		delivered := false
		usage, err := attempt(ctx, func(s string) error {
			delivered = true
			return onDelta(s)
		})
		if err == nil {
			return usage, nil
		}
		if ctx.Err() != nil {
			return usage, ctx.Err()
		}
		var perr *Error
		if delivered || n >= r.retries || !errors.As(err, &perr) || !perr.Retryable {
			return usage, err
		}
		delay := r.backoff(n)
		if perr.RetryAfter > maxRetryAfter {
			return usage, err
		}
		if perr.RetryAfter > 0 {
			delay = perr.RetryAfter
		}
		r.log.Warn("ai: retrying", "provider", r.provider, "model", model,
			"attempt", n+1, "status", perr.Status, "delay", delay, "error", perr.Message)
		if err := sleep(ctx, delay); err != nil {
			return Usage{}, err
		}
	}
}

// backoff is the wait before retry n+1: base·2ⁿ capped at maxBackoff, with
// the upper half jittered so that many cards do not retry in step.
func (r retrier) backoff(n int) time.Duration {
	d := r.base << min(n, 16)
	if d <= 0 || d > maxBackoff {
		d = maxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads how long the server asked to wait: retry-after-ms
// (OpenAI and Anthropic send it), then Retry-After in seconds or as an HTTP
// date. It returns 0 when there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return seconds(ms / 1000)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(s)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// seconds converts s to a Duration, clamped to [0, 24h] so that a silly
// header cannot overflow it.
func seconds(s float64) time.Duration {
	if !(s > 0) { // also NaN
		return 0
	}
	return time.Duration(min(s, 24*60*60) * float64(time.Second))
}
