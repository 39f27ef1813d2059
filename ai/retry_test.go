package ai

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"none", nil, 0},
		{"seconds", map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{"fraction", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond},
		{"ms wins", map[string]string{"Retry-After": "2", "Retry-After-Ms": "250"}, 250 * time.Millisecond},
		{"date", map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}, 3 * time.Second},
		{"past date", map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{"negative", map[string]string{"Retry-After": "-1"}, 0},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0},
		{"huge", map[string]string{"Retry-After": "1e300"}, 24 * time.Hour},
		{"NaN", map[string]string{"Retry-After": "NaN"}, 0},
	} {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("%s: retryAfter(%v): got %v; want %v", tc.name, tc.headers, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := retrier{base: 100 * time.Millisecond}
	for n, want := range []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 8000, 8000} {
		want *= time.Millisecond
		for range 50 {
			if got := r.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff(%d): got %v; want within [%v, %v]", n, got, want/2, want)
			}
		}
	}
	if got := r.backoff(100); got < maxBackoff/2 || got > maxBackoff {
		t.Errorf("backoff(100): got %v; want within [%v, %v]", got, maxBackoff/2, maxBackoff)
	}
}
