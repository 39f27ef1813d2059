package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
)

// recentCap is how many fanout messages a room keeps for joins that race
// with live changes.
const recentCap = 256

// room is a gateway's view of one canvas with local clients: one NATS
// subscription for its changes and one for its presence, fanned out to the
// members.
type room struct {
	g    *Gateway
	id   string
	refs int // guarded by g.mu

	sub, psub, aisub, msub *nats.Subscription

	mu      sync.Mutex
	members map[*session]*membership
	based   bool               // head is known: every change up to head has been seen
	head    uint64             // last seq received, when based
	recent  []fanMsg           // the last changes received, contiguous, ending at head
	ai      map[string]*aiText // node id → running answer so far
}

// fanMsg is one fanout message: a "changes" frame of batches first..last.
type fanMsg struct {
	first, last uint64
	frame       []byte
}

func newRoom(g *Gateway, id string) *room {
	return &room{g: g, id: id, members: map[*session]*membership{}}
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
	return r.g.cfg.Conn.Flush()
}

func (r *room) unsubscribe() {
	for _, sub := range []*nats.Subscription{r.sub, r.psub, r.aisub, r.msub} {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
}

func seqHeader(msg *nats.Msg, key string) (uint64, bool) {
	n, err := strconv.ParseUint(msg.Header.Get(key), 10, 64)
	return n, err == nil && n > 0
}

// onChanges receives committed batches from the canvas actor, in order per
// publisher; NATS calls it on one goroutine per subscription.
func (r *room) onChanges(msg *nats.Msg) {
	first, ok1 := seqHeader(msg, natsname.HeaderFirstSeq)
	last, ok2 := seqHeader(msg, natsname.HeaderLastSeq)
	if !ok1 || !ok2 || last < first {
		r.g.log.Warn("fanout message without seq headers", "canvas_id", r.id)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fm := fanMsg{first: first, last: last, frame: msg.Data}
	if !r.based {
		r.recent = appendRecent(r.recent, fm)
		return
	}
	if last <= r.head {
		return // already seen
	}
	if first > r.head+1 && !r.fillGap() {
		return
	}
	if fm.first <= r.head {
		if fm = slice(fm, r.head); fm.frame == nil {
			return
		}
	}
	r.deliver(fm)
}

// fillGap fetches the batches after head that the subscription missed and
// delivers them. Members that cannot be brought up to date are asked to
// reconnect with since.
func (r *room) fillGap() bool {
	ctx, cancel := context.WithTimeout(context.Background(), r.g.cfg.WriteTimeout)
	defer cancel()
	cu, err := r.g.cfg.Canvases.Since(ctx, r.id, r.head)
	if err != nil || cu.Snapshot != nil {
		r.g.log.Warn("fanout gap could not be filled; members resync", "canvas_id", r.id, "head", r.head, "err", err)
		r.resyncAll()
		return false
	}
	if len(cu.Batches) > 0 {
		r.deliver(fanMsg{first: r.head + 1, last: cu.Seq, frame: canvases.ChangesFrame(r.id, cu.Batches)})
	}
	return true
}

// resyncAll disconnects every member with apierr.CloseResync and forgets the
// room's position; the next join sets it again.
func (r *room) resyncAll() {
	for s := range r.members {
		s.kill(apierr.CloseResync, "missed changes: reconnect and rejoin with since")
	}
	r.based, r.head, r.recent = false, 0, nil
}

// deliver sends fm to every member that is up to its first seq. Lock held.
func (r *room) deliver(fm fanMsg) {
	r.recent = appendRecent(r.recent, fm)
	r.head = fm.last
	if len(r.members) == 0 {
		return
	}
	for s, m := range r.members {
		r.sendTo(s, m, fm)
	}
}

// sendTo sends a member what it has not seen of fm, after the acks it
// releases. Lock held.
func (r *room) sendTo(s *session, m *membership, fm fanMsg) {
	switch {
	case m.seen >= fm.last:
	case m.seen+1 == fm.first:
		m.seen = fm.last
		s.enqueue(r.releaseAcks(m, outMsg{data: fm.frame})...) // one frame, shared by every member
	case m.seen >= fm.first:
		part := slice(fm, m.seen)
		m.seen = fm.last
		if part.frame != nil {
			s.enqueue(r.releaseAcks(m, outMsg{data: part.frame})...)
		} else if acks := r.releaseAcks(m); len(acks) > 0 {
			s.enqueue(acks...)
		}
	default:
		s.kill(apierr.CloseResync, "missed changes: reconnect and rejoin with since")
	}
}

// ackHold bounds how long an ack waits for its batch to reach the member;
// the batch normally follows within a millisecond.
const ackHold = 100 * time.Millisecond

// heldAck is an ack waiting to be written with the batch it acknowledges.
type heldAck struct {
	seq uint64
	msg outMsg
}

// holdAck keeps the ack of batch seq until the member is sent that batch,
// so that the sender's ack and its own change, which come within a
// millisecond of each other, go out in one write rather than two. It
// reports false when the member has the batch already or has left: the
// caller sends the ack at once. The protocol does not order acks with
// respect to changes.
func (r *room) holdAck(s *session, m *membership, seq uint64, ack outMsg) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[s] != m || m.seen >= seq {
		return false
	}
	if len(m.acks) == 0 {
		if m.ackTimer == nil {
			m.ackTimer = time.AfterFunc(ackHold, func() { r.flushAcks(s, m) })
		} else {
			m.ackTimer.Reset(ackHold)
		}
	}
	m.acks = append(m.acks, heldAck{seq: seq, msg: ack})
	return true
}

// releaseAcks returns the held acks of batches the member has now been
// sent, followed by then. Lock held.
func (r *room) releaseAcks(m *membership, then ...outMsg) []outMsg {
	if len(m.acks) == 0 {
		return then
	}
	var out []outMsg
	kept := m.acks[:0]
	for _, a := range m.acks {
		if a.seq <= m.seen {
			out = append(out, a.msg)
		} else {
			kept = append(kept, a)
		}
	}
	clear(m.acks[len(kept):])
	m.acks = kept
	if len(kept) == 0 {
		m.acks = nil
		m.ackTimer.Stop()
	}
	return append(out, then...)
}

// flushAcks sends every ack the member holds: its batch did not arrive in
// time, or the member leaves.
func (r *room) flushAcks(s *session, m *membership) {
	r.mu.Lock()
	var out []outMsg
	for _, a := range m.acks {
		out = append(out, a.msg)
	}
	m.acks = nil
	if m.ackTimer != nil {
		m.ackTimer.Stop()
	}
	r.mu.Unlock()
	if len(out) > 0 {
		s.enqueue(out...)
	}
}

func appendRecent(recent []fanMsg, fm fanMsg) []fanMsg {
	if len(recent) >= recentCap {
		recent = append(recent[:0], recent[1:]...)
	}
	return append(recent, fm)
}

// slice returns the part of fm after seq, or a zero fanMsg when the frame
// cannot be read.
func slice(fm fanMsg, after uint64) fanMsg {
	var f struct {
		Batches []json.RawMessage `json:"batches"`
	}
	skip := int(after + 1 - fm.first)
	if err := json.Unmarshal(fm.frame, &f); err != nil || skip < 0 || skip >= len(f.Batches) {
		return fanMsg{}
	}
	batches := make([][]byte, 0, len(f.Batches)-skip)
	for _, b := range f.Batches[skip:] {
		batches = append(batches, b)
	}
	var id struct {
		Canvas string `json:"canvas"`
	}
	_ = json.Unmarshal(fm.frame, &id)
	return fanMsg{first: after + 1, last: fm.last, frame: canvases.ChangesFrame(id.Canvas, batches)}
}

// errTooFast: the canvas moved faster than a join could catch up.
var errTooFast = errors.New("the canvas changed too fast to catch up; try again")

// join brings a new member up to date and then makes it live: first the
// joined frame (with a snapshot when since is absent or older than the
// history kept), then the batches after since, then every live change,
// with no gap and no duplicate.
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
		kept := r.recent[:0]
		for _, fm := range r.recent {
			if fm.last > h {
				kept = append(kept, fm)
			}
		}
		r.recent = kept
		if len(kept) > 0 && kept[0].first > h+1 {
			return false
		}
		r.based, r.head = true, h
		if len(kept) > 0 {
			r.head = kept[len(kept)-1].last
		}
	}
	if r.head > h && (len(r.recent) == 0 || r.recent[0].first > h+1) {
		return false
	}
	jf := joinedFrame{Type: "joined", Canvas: r.id, Role: string(m.role), Seq: h, Snapshot: snapshotOf(cu)}
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
	return true
}

func snapshotOf(cu canvases.CatchUp) *canvas.Export { return cu.Snapshot }

func (r *room) leave(s *session, m *membership) {
	r.mu.Lock()
	delete(r.members, s)
	r.mu.Unlock()
	r.flushAcks(s, m)
	r.publishLeave(s, m)
}
