package actors

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// heldStore is a real store whose activations wait in Canvas until release
// is closed (or their ctx ends): the canvas's actor stays loading, and
// every request to it waits.
type heldStore struct {
	store.Store
	loading chan struct{} // has a value once an activation waits
	release chan struct{}
}

func newHeldStore(st store.Store) *heldStore {
	return &heldStore{Store: st, loading: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *heldStore) Canvas(ctx context.Context, id string) (store.Canvas, error) {
	select {
	case s.loading <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return store.Canvas{}, ctx.Err()
	}
	return s.Store.Canvas(ctx, id)
}

// hubCalls are the Hub's calls that wait for a canvas's actor, each made
// with ctx. submitAsync's batch is sent before ctx is used: only its wait
// takes ctx.
func hubCalls(h *Hub, id string) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Submit": func(ctx context.Context) error {
			_, err := h.Submit(ctx, id, "author-1", "", []canvas.Op{addNode("s")})
			return err
		},
		"SubmitAsync wait": func(ctx context.Context) error {
			_, err := h.SubmitAsync(id, "author-1", "", []canvas.Op{addNode("a")})(ctx)
			return err
		},
		"Snapshot":   func(ctx context.Context) error { _, err := h.Snapshot(ctx, id); return err },
		"Since":      func(ctx context.Context) error { _, err := h.Since(ctx, id, 0); return err },
		"History":    func(ctx context.Context) error { _, _, err := h.History(ctx, id, 0, 10); return err },
		"Checkpoint": func(ctx context.Context) error { _, err := h.Checkpoint(ctx, id, 0); return err },
		"FinishAIRun": func(ctx context.Context) error {
			return h.FinishAIRun(ctx, id, "q", "run-1", canvases.AIResult{Status: aicard.StatusDone})
		},
		"Forget": func(ctx context.Context) error { return h.Forget(ctx, id) },
	}
}

// TestWaitsEndWithCtx: while a canvas's actor cannot answer (its
// activation is held in the store), every call that waits for it returns
// ctx's error once ctx ends (a ctx already cancelled, cancelled during the
// wait, or past its deadline) rather than waiting AskTimeout and answering
// with an error of its own. The wait of a batch already sent says that its
// outcome is unknown: the actor may still commit it.
func TestWaitsEndWithCtx(t *testing.T) {
	e := newEnv(t)
	held := newHeldStore(e.store)
	e.store = held
	h := e.hub(func(c *Config) { c.AskTimeout = 3 * time.Second })
	id := e.canvas("c1")
	t.Cleanup(func() { close(held.release) })
	// Activate the canvas; its load now waits in the store.
	h.SubmitAsync(id, "author-1", "", []canvas.Op{addNode("first")})
	<-held.loading

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctxs := []struct {
		how  string
		want error
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"cancelled before", context.Canceled, func() (context.Context, context.CancelFunc) { return cancelled, func() {} }},
		{"cancelled during", context.Canceled, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}},
		{"past its deadline during", context.DeadlineExceeded, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}},
	}
	var wg sync.WaitGroup
	for _, c := range ctxs {
		for name, call := range hubCalls(h, id) {
			wg.Go(func() {
				ctx, cancel := c.ctx()
				defer cancel()
				err := call(ctx)
				if !errors.Is(err, c.want) {
					t.Errorf("%s, ctx %s: got %v; want an error that is %v", name, c.how, err, c.want)
				}
				if name == "SubmitAsync wait" && !errors.Is(err, canvases.ErrOutcomeUnknown) {
					t.Errorf("%s, ctx %s: got %v; want canvases.ErrOutcomeUnknown too", name, c.how, err)
				}
			})
		}
	}
	wg.Wait()
	// The supervisor answers Active at once: only a ctx that has ended
	// before the call can stop it.
	if _, err := h.Active(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Active, ctx cancelled before: got %v; want an error that is %v", err, context.Canceled)
	}
}

// deadlineStore is a real store that reports how long the ctx of each
// activation's Canvas call and of each SaveCheckpoint had left.
type deadlineStore struct {
	store.Store
	load, checkpoint chan time.Duration
}

func left(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	return time.Until(dl)
}

func (s *deadlineStore) Canvas(ctx context.Context, id string) (store.Canvas, error) {
	select {
	case s.load <- left(ctx):
	default:
	}
	return s.Store.Canvas(ctx, id)
}

func (s *deadlineStore) SaveCheckpoint(ctx context.Context, d store.CheckpointDelta) error {
	select {
	case s.checkpoint <- left(ctx):
	default:
	}
	return s.Store.SaveCheckpoint(ctx, d)
}

// deadlineEngine is fakeEngine reporting how long each Enqueue's ctx had
// left.
type deadlineEngine struct {
	*fakeEngine
	enqueue chan time.Duration
}

func (e *deadlineEngine) Enqueue(ctx context.Context, j aicard.Job) error {
	select {
	case e.enqueue <- left(ctx):
	default:
	}
	return e.fakeEngine.Enqueue(ctx, j)
}

// TestTimeoutsFromConfig: the work an actor starts on its own (loading,
// checkpointing, queueing an AI job) is bounded by its Config timeout.
func TestTimeoutsFromConfig(t *testing.T) {
	e := newEnv(t)
	st := &deadlineStore{Store: e.store, load: make(chan time.Duration, 1), checkpoint: make(chan time.Duration, 1)}
	e.store = st
	eng := &deadlineEngine{fakeEngine: &fakeEngine{}, enqueue: make(chan time.Duration, 1)}
	const loadTimeout, checkpointTimeout, enqueueTimeout = 7 * time.Second, 8 * time.Second, 4 * time.Second
	h := e.hub(func(c *Config) {
		noAutoCheckpoint(c)
		c.AI = eng
		c.LoadTimeout, c.CheckpointTimeout, c.AIEnqueueTimeout = loadTimeout, checkpointTimeout, enqueueTimeout
	})
	id := e.canvas("c1")
	mustSubmit(t, h, id, aiNode("q", "hi"))
	mustSubmit(t, h, id, canvas.Op{Op: aicard.OpRun, ID: "q"})
	if _, err := h.Checkpoint(context.Background(), id, 0); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	for _, c := range []struct {
		name string
		got  chan time.Duration
		want time.Duration
	}{
		{"load (LoadTimeout)", st.load, loadTimeout},
		{"checkpoint (CheckpointTimeout)", st.checkpoint, checkpointTimeout},
		{"AI enqueue (AIEnqueueTimeout)", eng.enqueue, enqueueTimeout},
	} {
		var got time.Duration
		select {
		case got = <-c.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: never called", c.name)
		}
		if got > c.want || got < c.want-2*time.Second {
			t.Errorf("%s: ctx had %v left; want at most %v, and nearly all of it", c.name, got, c.want)
		}
	}
}

// TestConfigTimeoutDefaults: the timeouts left zero take their documented
// defaults, those of load and checkpoint from AskTimeout.
func TestConfigTimeoutDefaults(t *testing.T) {
	for _, c := range []struct {
		ask, load, checkpoint time.Duration
	}{
		{0, 30 * time.Second, 30 * time.Second},
		{2 * time.Second, 6 * time.Second, 6 * time.Second},
	} {
		cfg := Config{AskTimeout: c.ask}
		cfg.setDefaults()
		got := []time.Duration{cfg.LoadTimeout, cfg.CheckpointTimeout, cfg.TrimTimeout, cfg.AIEnqueueTimeout}
		want := []time.Duration{c.load, c.checkpoint, 10 * time.Second, 10 * time.Second}
		for i, name := range []string{"LoadTimeout", "CheckpointTimeout", "TrimTimeout", "AIEnqueueTimeout"} {
			if got[i] != want[i] {
				t.Errorf("AskTimeout %v: %s got %v; want %v", c.ask, name, got[i], want[i])
			}
		}
	}
}
