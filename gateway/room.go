package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/canvases"
)

// recentCap is how many fanout messages a room keeps for joins that race
// with live changes.
const recentCap = 256

// room is a gateway's view of one canvas with local clients: one NATS
// subscription for its changes and one each for its presence, AI deltas
// and member changes, fanned out to the members (room_fanout.go).
//
// mu guards what the fanout and the joins share, and is held across no
// call that may wait on another service: no call of the canvas contract,
// the store or a NATS request. What is fetched is fetched without it, and
// what is delivered is decided again under it (fillGap, join).
type room struct {
	g     *Gateway
	id    string
	refs  int           // guarded by g.mu
	ready chan struct{} // closed once subscribe has returned, setting err
	err   error         // subscribe's error; read only after ready is closed

	sub, psub, aisub, msub *nats.Subscription // set by subscribe, before ready

	mu      sync.Mutex
	members map[*session]*membership // guarded by mu
	based   bool                     // guarded by mu: head is known: every change up to head has been seen
	head    uint64                   // guarded by mu: last seq received, when based
	recent  []fanMsg                 // guarded by mu: the last changes received, contiguous, ending at head
	ai      map[string]*aiText       // guarded by mu: node id → running answer so far
}

// fanMsg is one fanout message: a "changes" frame of batches first..last.
type fanMsg struct {
	first, last uint64
	frame       []byte
}

func newRoom(g *Gateway, id string) *room {
	return &room{g: g, id: id, members: map[*session]*membership{}, ready: make(chan struct{})}
}

// room returns the room of a canvas, creating and subscribing it; the
// caller then joins it, which keeps it alive. The subscription, which
// waits for the NATS server, is made without g.mu: joins of the same
// canvas meanwhile wait for it on the room's ready, and every other
// connection goes on.
func (g *Gateway) room(id string) (*room, error) {
	g.mu.Lock()
	r := g.rooms[id]
	if r != nil {
		r.refs++
		g.mu.Unlock()
		<-r.ready
		if r.err != nil {
			return nil, r.err
		}
		return r, nil
	}
	r = newRoom(g, id)
	r.refs = 1
	g.rooms[id] = r
	g.metrics.rooms.Set(float64(len(g.rooms)))
	g.mu.Unlock()
	if r.err = r.subscribe(); r.err != nil {
		g.mu.Lock()
		g.forget(r)
		g.mu.Unlock()
		close(r.ready)
		return nil, r.err
	}
	close(r.ready)
	return r, nil
}

// release drops a reference to a room, unsubscribing it with the last.
// The caller of room releases only a room it got without an error.
func (g *Gateway) release(r *room) {
	g.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last {
		g.forget(r)
	}
	g.mu.Unlock()
	if last {
		r.unsubscribe()
	}
}

// forget removes a room from the gateway's rooms, unless another room of
// its canvas has taken its place. g.mu held.
func (g *Gateway) forget(r *room) {
	if g.rooms[r.id] == r {
		delete(g.rooms, r.id)
		g.metrics.rooms.Set(float64(len(g.rooms)))
	}
}

func (r *room) subscribe() error {
	var err error
	if r.sub, err = r.g.cfg.Conn.Subscribe(r.g.cfg.Names.Changes(r.id), r.onChanges); err != nil {
		return err
	}
	_ = r.sub.SetPendingLimits(-1, 256<<20)
	if r.psub, err = r.g.cfg.Conn.Subscribe(r.g.cfg.Names.Presence(r.id), r.onPresence); err != nil {
		_ = r.sub.Unsubscribe()
		return err
	}
	if r.aisub, err = r.g.cfg.Conn.Subscribe(r.g.cfg.Names.AIDeltas(r.id), r.onAI); err != nil {
		_ = r.sub.Unsubscribe()
		_ = r.psub.Unsubscribe()
		return err
	}
	if r.msub, err = r.g.cfg.Conn.Subscribe(r.g.cfg.Names.Members(r.id), r.onMembers); err != nil {
		r.unsubscribe()
		return err
	}
	// The subscriptions must be live on the server before the catch-up is
	// read, so that no change falls between the two.
	if err := r.g.cfg.Conn.Flush(); err != nil {
		r.unsubscribe()
		return err
	}
	return nil
}

func (r *room) unsubscribe() {
	for _, sub := range []*nats.Subscription{r.sub, r.psub, r.aisub, r.msub} {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
}

// errTooFast: the canvas moved faster than a join could catch up.
var errTooFast = errors.New("the canvas changed too fast to catch up; try again")

// join brings a new member up to date and then makes it live: first the
// joined frame (with a snapshot when since is absent or older than the
// history kept), then the batches after since, then every live change,
// with no gap and no duplicate. The catch-up is read without the room's
// lock; admit then decides under it whether it connects to the changes
// the room has seen.
func (r *room) join(ctx context.Context, s *session, m *membership, since *uint64) error {
	for range 3 {
		cu, err := r.catchUp(ctx, since)
		if err != nil {
			return err
		}
		if r.admit(s, m, cu) {
			return nil
		}
	}
	return errTooFast
}

func (r *room) catchUp(ctx context.Context, since *uint64) (canvases.CatchUp, error) {
	if since != nil {
		return r.g.cfg.Canvases.Since(ctx, r.id, *since)
	}
	ex, err := r.g.cfg.Canvases.Snapshot(ctx, r.id)
	if err != nil {
		return canvases.CatchUp{}, err
	}
	return canvases.CatchUp{Seq: ex.Seq, Snapshot: &ex}, nil
}

// admit adds the member if the room's recent changes connect to the
// catch-up; false means fetch a newer catch-up.
func (r *room) admit(s *session, m *membership, cu canvases.CatchUp) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := cu.Seq
	if !r.based {
		r.recent = slices.DeleteFunc(r.recent, func(fm fanMsg) bool { return fm.last <= h })
		if len(r.recent) > 0 && r.recent[0].first > h+1 {
			return false
		}
		r.based, r.head = true, h
		if len(r.recent) > 0 {
			r.head = r.recent[len(r.recent)-1].last
		}
	}
	if r.head > h && (len(r.recent) == 0 || r.recent[0].first > h+1) {
		return false
	}
	jf := joinedFrame{Type: "joined", Canvas: r.id, Role: string(m.role), Seq: h, Snapshot: cu.Snapshot}
	s.enqueue(outMsg{data: mustJSON(jf)})
	if len(cu.Batches) > 0 {
		s.enqueue(outMsg{data: canvases.ChangesFrame(r.id, cu.Batches)})
	}
	m.seen = h
	for _, fm := range r.recent {
		r.sendTo(s, m, fm)
	}
	r.sendAITexts(s)
	r.members[s] = m
	if d := r.g.cfg.Presence; d != nil {
		d.Joined(r.id, s.id, s.user.UserID)
	}
	return true
}

func (r *room) leave(s *session, m *membership) {
	r.mu.Lock()
	_, joined := r.members[s]
	delete(r.members, s)
	r.mu.Unlock()
	if d := r.g.cfg.Presence; d != nil && joined {
		d.Left(r.id, s.id)
	}
	r.flushAcks(s, m)
	r.publishLeave(s, m)
}
