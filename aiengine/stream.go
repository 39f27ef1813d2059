package aiengine

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/skerhq/sker/aicard"
)

// streamer coalesces a run's deltas and publishes them about every
// DeltaInterval on the canvas's AI subject, with the byte offset of each
// delta so that clients can place it exactly.
type streamer struct {
	e   *Engine
	job aicard.Job

	mu      sync.Mutex
	all     []byte // the whole answer so far
	sent    int    // bytes of all already published
	lastPub time.Time
	timer   *time.Timer
}

func newStreamer(e *Engine, job aicard.Job) *streamer {
	return &streamer{e: e, job: job}
}

// delta is the wire form of ai.delta and ai.end (see gateway/ai_stream.go).
type delta struct {
	Type   string `json:"type"`
	Canvas string `json:"canvas"`
	Node   string `json:"node"`
	Run    string `json:"run"`
	Offset int    `json:"offset"`
	Delta  string `json:"delta,omitempty"`
}

func (s *streamer) subject() string { return s.e.cfg.Names.AIDeltas(s.job.Canvas) }

// add is the provider's delta callback.
func (s *streamer) add(d string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, d...)
	wait := s.e.cfg.DeltaInterval - time.Since(s.lastPub)
	if wait <= 0 {
		s.publishLocked()
		return nil
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(wait, s.flush)
	}
	return nil
}

func (s *streamer) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked()
}

func (s *streamer) publishLocked() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.sent == len(s.all) {
		return
	}
	s.pub(delta{Type: "ai.delta", Canvas: s.job.Canvas, Node: s.job.Node, Run: s.job.Run,
		Offset: s.sent, Delta: string(s.all[s.sent:])})
	s.sent = len(s.all)
	s.lastPub = time.Now()
}

// end tells the gateways that the run's stream is over.
func (s *streamer) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked()
	s.pub(delta{Type: "ai.end", Canvas: s.job.Canvas, Node: s.job.Node, Run: s.job.Run, Offset: len(s.all)})
}

func (s *streamer) pub(d delta) {
	b, _ := json.Marshal(d)
	if err := s.e.cfg.Conn.Publish(s.subject(), b); err != nil {
		s.e.log.Debug("ai: publish delta", "err", err)
	}
}

func (s *streamer) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.all)
}
