package skerhttp_test

import (
	"net/http"
	"testing"
	"time"
)

// TestHealthRuntime: /health carries a timestamp and the Go runtime's
// memory besides its status, version and uptime.
func TestHealthRuntime(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Status        string `json:"status"`
		Version       string `json:"version"`
		UptimeSeconds int64  `json:"uptime_seconds"`
		Timestamp     string `json:"timestamp"`
		Memory        struct {
			TotalBytes uint64 `json:"total_bytes"`
			HeapBytes  uint64 `json:"heap_bytes"`
		} `json:"memory"`
	}
	before := time.Now().Add(-time.Second)
	h.get("/health", "").decode(t, http.StatusOK, &got)
	ts, err := time.Parse(time.RFC3339Nano, got.Timestamp)
	if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %q (%v): want now, RFC 3339", got.Timestamp, err)
	}
	if got.Status != "ok" || got.Version != "test-1.2.3" || got.UptimeSeconds < 10 {
		t.Errorf("got %+v; want status ok, version test-1.2.3, uptime at least 10 s", got)
	}
	if got.Memory.HeapBytes == 0 || got.Memory.TotalBytes < got.Memory.HeapBytes {
		t.Errorf("memory %+v: want heap bytes above 0 and at most the total", got.Memory)
	}
}
