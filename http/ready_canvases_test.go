package skerhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	skerhttp "github.com/skerhq/sker/http"
)

// TestReadyListsCanvasesThatCannotLoad: /ready names the canvases this
// node cannot load, longest failing first and at most
// MaxReadyFailingCanvases of them with the full count, and stays 200 (a
// node that serves every other canvas stays in its load balancer); a
// failing dependency still makes it 503, with the list.
func TestReadyListsCanvasesThatCannotLoad(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var failing []skerhttp.FailingCanvas
	for i := range skerhttp.MaxReadyFailingCanvases + 5 {
		failing = append(failing, skerhttp.FailingCanvas{
			ID: fmt.Sprintf("c%02d", i), Reason: "journal_gap", Error: "gap",
			Since: t0.Add(-time.Duration(i) * time.Minute), Attempts: i + 1,
		})
	}
	type body struct {
		Status  string `json:"status"`
		Failing *struct {
			Count    int                      `json:"count"`
			Canvases []skerhttp.FailingCanvas `json:"canvases"`
		} `json:"canvases_load_failing"`
	}
	tests := []struct {
		name    string
		list    []skerhttp.FailingCanvas
		down    bool
		status  int
		count   int
		first   string
		entries int
	}{
		{"none", nil, false, http.StatusOK, 0, "", 0},
		{"one", failing[:1], false, http.StatusOK, 1, "c00", 1},
		{"many", failing, false, http.StatusOK, len(failing), fmt.Sprintf("c%02d", len(failing)-1), skerhttp.MaxReadyFailingCanvases},
		{"many and nats down", failing, true, http.StatusServiceUnavailable, len(failing), fmt.Sprintf("c%02d", len(failing)-1), skerhttp.MaxReadyFailingCanvases},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(_ *skerhttp.Config, d *skerhttp.Deps) {
				d.LoadFailures = func() []skerhttp.FailingCanvas { return append([]skerhttp.FailingCanvas(nil), tt.list...) }
				if tt.down {
					d.Checks = append(d.Checks, skerhttp.Check{Name: "nats", Ping: func(context.Context) error { return errors.New("down") }})
				}
			})
			var b body
			h.get("/ready", "").decode(t, tt.status, &b)
			if tt.count == 0 {
				if b.Failing != nil {
					t.Fatalf("canvases_load_failing = %+v; want none", b.Failing)
				}
				return
			}
			if b.Failing == nil || b.Failing.Count != tt.count || len(b.Failing.Canvases) != tt.entries {
				t.Fatalf("canvases_load_failing = %+v; want count %d with %d entries", b.Failing, tt.count, tt.entries)
			}
			got := b.Failing.Canvases[0]
			if got.ID != tt.first || got.Reason != "journal_gap" || got.Error != "gap" || got.Attempts == 0 || got.Since.IsZero() {
				t.Fatalf("first entry %+v; want %s (the longest failing) with its reason, error, since and attempts", got, tt.first)
			}
			for i := 1; i < len(b.Failing.Canvases); i++ {
				if b.Failing.Canvases[i].Since.Before(b.Failing.Canvases[i-1].Since) {
					t.Fatalf("entries out of order at %d: %+v", i, b.Failing.Canvases)
				}
			}
		})
	}
}
