package ai_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/ai/aitest"
)

func TestRetry429HonoursRetryAfter(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		// The backoff alone would wait at least 5s; Retry-After says 1s.
		srv, p := setup(t, f, func(c *ai.Config) { c.RetryBaseDelay = 10 * time.Second })
		srv.Push(aitest.Reply{Status: 429, RetryAfter: "1", ErrorMessage: "slow down"})
		start := time.Now()
		deltas, usage, err := stream(context.Background(), p, hello)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		if !slices.Equal(deltas, aitest.DefaultReply.Deltas) {
			t.Errorf("deltas: got %q; want %q once", deltas, aitest.DefaultReply.Deltas)
		}
		if usage.OutputTokens != aitest.DefaultReply.OutputTokens {
			t.Errorf("output tokens: got %d; want %d", usage.OutputTokens, aitest.DefaultReply.OutputTokens)
		}
		if elapsed < 900*time.Millisecond || elapsed > 4*time.Second {
			t.Errorf("elapsed: got %v; want about the 1s of Retry-After", elapsed)
		}
		requestCount(t, srv, 2)
	})
}

func TestRetry5xxThenSuccess(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(aitest.Reply{Status: 503}, aitest.Reply{Status: 500})
		if _, _, err := stream(context.Background(), p, hello); err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		requestCount(t, srv, 3)
	})
}

func TestRetriesExhausted(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		const retries = 2
		srv, p := setup(t, f, func(c *ai.Config) { c.MaxRetries = retries })
		srv.Push(aitest.Repeat(retries+1, aitest.Reply{Status: 500, ErrorMessage: "The server had an error"})...)
		deltas, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name)
		if perr.Status != 500 || !perr.Retryable {
			t.Errorf("error: got status %d retryable %v; want 500 true", perr.Status, perr.Retryable)
		}
		if perr.Message != "The server had an error" {
			t.Errorf("message: got %q; want the provider's message", perr.Message)
		}
		if len(deltas) != 0 {
			t.Errorf("deltas: got %q; want none", deltas)
		}
		requestCount(t, srv, retries+1)
	})
}

func TestErrorWithoutBodyIsReadable(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, func(c *ai.Config) { c.MaxRetries = -1 })
		srv.Push(aitest.Reply{Status: 502, ErrorMessage: " "}) // blank: the status text is all there is
		_, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name)
		if perr.Status != 502 || !perr.Retryable || perr.Message == "" {
			t.Errorf("error: got %+v; want status 502, retryable, a message", perr)
		}
		requestCount(t, srv, 1)
	})
}

func TestPermanentErrorNotRetried(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(f.permanent)
		_, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name)
		if perr.Status != f.permanent.Status || perr.Retryable {
			t.Errorf("error: got status %d retryable %v; want %d false", perr.Status, perr.Retryable, f.permanent.Status)
		}
		if perr.Message != f.permanent.ErrorMessage {
			t.Errorf("message: got %q; want %q", perr.Message, f.permanent.ErrorMessage)
		}
		requestCount(t, srv, 1)
	})
}

func TestWrongKeyIsRedacted(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.SetKey("sk-the-right-one")
		_, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name) // checks the key is absent
		if perr.Status != 401 || perr.Retryable {
			t.Errorf("error: got status %d retryable %v; want 401 false", perr.Status, perr.Retryable)
		}
		requestCount(t, srv, 1)
	})
}

func TestNoRetryAfterFirstDelta(t *testing.T) {
	for _, brk := range []struct {
		name  string
		brk   aitest.Break
		reply aitest.Reply
	}{
		{"drop", aitest.Drop, aitest.Reply{}},
		{"error event", aitest.ErrorEvent, aitest.Reply{ErrorMessage: "Overloaded, try later"}},
	} {
		t.Run(brk.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, f flavour) {
				srv, p := setup(t, f, nil)
				r := brk.reply
				r.Deltas, r.Break = []string{"partial"}, brk.brk
				srv.Push(r)
				deltas, _, err := stream(context.Background(), p, hello)
				perr := providerError(t, err, f.name)
				if !slices.Equal(deltas, []string{"partial"}) {
					t.Errorf("deltas: got %q; want [partial] once", deltas)
				}
				if r.ErrorMessage != "" && perr.Message != r.ErrorMessage {
					t.Errorf("message: got %q; want %q", perr.Message, r.ErrorMessage)
				}
				requestCount(t, srv, 1)
			})
		})
	}
}

func TestErrorEventBeforeFirstDeltaRetried(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(aitest.Reply{Break: aitest.ErrorEvent, ErrorMessage: "Overloaded"})
		deltas, _, err := stream(context.Background(), p, hello)
		if err != nil {
			t.Fatalf("Stream: got %v; want nil", err)
		}
		if !slices.Equal(deltas, aitest.DefaultReply.Deltas) {
			t.Errorf("deltas: got %q; want %q", deltas, aitest.DefaultReply.Deltas)
		}
		requestCount(t, srv, 2)
	})
}

func TestMalformedStream(t *testing.T) {
	for _, before := range [][]string{nil, {"ok so far"}} {
		t.Run(strings.Join(append([]string{"deltas"}, before...), " "), func(t *testing.T) {
			testMalformed(t, before)
		})
	}
}

// testMalformed sends the deltas before, then a chunk that is not JSON.
func testMalformed(t *testing.T, before []string) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(aitest.Reply{Deltas: before, Break: aitest.Malformed})
		deltas, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name)
		if !strings.Contains(perr.Message, "malformed") || perr.Retryable {
			t.Errorf("error: got %+v; want a non-retryable malformed-stream error", perr)
		}
		if !slices.Equal(deltas, before) {
			t.Errorf("deltas: got %q; want %q", deltas, before)
		}
		requestCount(t, srv, 1)
	})
}

func TestStreamWithoutEndIsAnError(t *testing.T) {
	for _, brk := range []struct {
		name string
		brk  aitest.Break
	}{{"drop", aitest.Drop}, {"cut", aitest.Cut}} {
		t.Run(brk.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, f flavour) {
				srv, p := setup(t, f, func(c *ai.Config) { c.MaxRetries = -1 })
				srv.Push(aitest.Reply{Deltas: []string{"half an"}, Break: brk.brk})
				deltas, _, err := stream(context.Background(), p, hello)
				perr := providerError(t, err, f.name)
				if !perr.Retryable || !strings.Contains(perr.Message, "before the answer was complete") {
					t.Errorf("error: got %+v; want a retryable incomplete-answer error", perr)
				}
				if !slices.Equal(deltas, []string{"half an"}) {
					t.Errorf("deltas: got %q; want [half an]", deltas)
				}
			})
		})
	}
}

func TestCancelClosesConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply aitest.Reply
	}{
		{"slow stream", aitest.Reply{Deltas: slices.Repeat([]string{"tick "}, 100), Delay: 100 * time.Millisecond}},
		{"hang", aitest.Reply{Deltas: []string{"tick "}, Break: aitest.Hang}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, f flavour) {
				srv, p := setup(t, f, nil)
				srv.Push(tc.reply)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var cancelled time.Time
				_, err := p.Stream(ctx, hello, func(string) error {
					if cancelled.IsZero() {
						time.AfterFunc(50*time.Millisecond, cancel)
						cancelled = time.Now().Add(50 * time.Millisecond)
					}
					return nil
				})
				if took := time.Since(cancelled); took > time.Second {
					t.Errorf("Stream returned %v after cancel; want within 1s", took)
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error: got %v; want context.Canceled", err)
				}
				select {
				case <-srv.Disconnected():
				case <-time.After(2 * time.Second):
					t.Errorf("server: connection not closed 2s after cancel")
				}
				requestCount(t, srv, 1)
			})
		})
	}
}

func TestCancelDuringRetryWait(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(aitest.Reply{Status: 429, RetryAfter: "30"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := stream(ctx, p, hello)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error: got %v; want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Stream took %v; want to stop at the deadline", took)
		}
	})
}

func TestOnDeltaErrorStops(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		srv, p := setup(t, f, nil)
		srv.Push(aitest.Reply{Deltas: []string{"one", "two", "three"}, Delay: 20 * time.Millisecond})
		stop := errors.New("card deleted")
		var got []string
		_, err := p.Stream(context.Background(), hello, func(s string) error {
			got = append(got, s)
			return stop
		})
		if !errors.Is(err, stop) {
			t.Errorf("error: got %v; want the onDelta error", err)
		}
		if !slices.Equal(got, []string{"one"}) {
			t.Errorf("deltas: got %q; want [one]", got)
		}
		requestCount(t, srv, 1)
	})
}

func TestUnreachableServer(t *testing.T) {
	forEach(t, func(t *testing.T, f flavour) {
		_, p := setup(t, f, func(c *ai.Config) {
			*c = f.config("http://127.0.0.1:1") // nothing listens on port 1
			c.MaxRetries, c.RetryBaseDelay = 1, time.Millisecond
		})
		_, _, err := stream(context.Background(), p, hello)
		perr := providerError(t, err, f.name)
		if perr.Status != 0 || !perr.Retryable || !strings.Contains(perr.Message, "could not reach") {
			t.Errorf("error: got %+v; want a retryable could-not-reach error", perr)
		}
	})
}

func TestNotAnEventStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`))
	}))
	t.Cleanup(srv.Close)
	reg, err := ai.NewRegistry(ai.Config{OpenAIBaseURL: srv.URL + "/v1"}, nil)
	if err != nil {
		t.Fatalf("NewRegistry: got %v; want nil", err)
	}
	p, _ := reg.Default()
	_, _, err = stream(context.Background(), p, hello)
	perr := providerError(t, err, "openai")
	if perr.Retryable || !strings.Contains(perr.Message, "event stream") {
		t.Errorf("error: got %+v; want a non-retryable not-an-event-stream error", perr)
	}
}
