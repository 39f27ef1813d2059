package actors

import (
	"sync"
	"sync/atomic"
)

// workers runs the canvas actors' mailboxes and their journal appends on
// goroutines that live on between tasks. protoactor's default dispatcher
// starts a goroutine each time a mailbox has work, and every such goroutine
// begins with a small stack that the actor's work grows again; a worker
// keeps the stack it has grown.
//
// A task goes to a worker waiting for one, or else to a new goroutine, so a
// task that blocks holds up no other. At most maxIdle workers wait for work;
// one that finishes a task when that many wait ends. close ends the waiting
// workers.
type workers struct {
	tasks      chan func() // unbuffered: a send succeeds only into a waiting worker
	quit       chan struct{}
	idle       atomic.Int32 // workers waiting for a task
	maxIdle    int32
	throughput int
	closeOnce  sync.Once
}

// mailboxThroughput is how many messages a mailbox runs before yielding the
// thread, as with protoactor's default dispatcher.
const mailboxThroughput = 300

func newWorkers(maxIdle int) *workers {
	return &workers{tasks: make(chan func()), quit: make(chan struct{}), maxIdle: int32(maxIdle), throughput: mailboxThroughput}
}

// Schedule runs fn on a waiting worker or a new one; it never blocks. It
// makes workers an actor.Dispatcher.
func (w *workers) Schedule(fn func()) {
	select {
	case w.tasks <- fn:
	default:
		go w.work(fn)
	}
}

// Throughput is part of actor.Dispatcher.
func (w *workers) Throughput() int { return w.throughput }

// work runs fn, then waits for the next task while fewer than maxIdle
// workers wait.
func (w *workers) work(fn func()) {
	for {
		fn()
		fn = nil // let the finished task's closure go while waiting
		if w.idle.Add(1) > w.maxIdle {
			w.idle.Add(-1)
			return
		}
		select {
		case fn = <-w.tasks:
			w.idle.Add(-1)
		case <-w.quit:
			w.idle.Add(-1)
			return
		}
	}
}

// close ends the waiting workers; tasks scheduled later run on goroutines of
// their own.
func (w *workers) close() {
	w.closeOnce.Do(func() { close(w.quit) })
}
