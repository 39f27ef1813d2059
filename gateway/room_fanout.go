package gateway

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
)

// A room delivers every committed batch of its canvas to each member
// exactly once and in seq order. The fanout subject carries them; a
// message that does not follow the room's head means the subscription
// missed some, which fillGap fetches from the canvas before going on.

func seqHeader(msg *nats.Msg, key string) (uint64, bool) {
	n, err := strconv.ParseUint(msg.Header.Get(key), 10, 64)
	return n, err == nil && n > 0
}

// onChanges receives committed batches from the canvas actor, in order per
// publisher; NATS calls it on one goroutine per subscription, so the
// messages after a gap wait for the gap to be filled (while the room's
// other work goes on: fillGap fetches without the lock).
func (r *room) onChanges(msg *nats.Msg) {
	first, ok1 := seqHeader(msg, natsname.HeaderFirstSeq)
	last, ok2 := seqHeader(msg, natsname.HeaderLastSeq)
	if !ok1 || !ok2 || last < first {
		r.g.log.Warn("fanout message without seq headers", "canvas_id", r.id)
		return
	}
	fm := fanMsg{first: first, last: last, frame: msg.Data}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.missesBefore(fm) && !r.fillGap(fm) {
		return
	}
	r.accept(fm)
}

// missesBefore reports whether batches between the room's head and fm are
// missing. Lock held.
func (r *room) missesBefore(fm fanMsg) bool {
	return r.based && fm.last > r.head && fm.first > r.head+1
}

// accept delivers what fm holds after the room's head, or keeps it for
// the next join while the room has no head. Lock held.
func (r *room) accept(fm fanMsg) {
	if !r.based {
		r.recent = appendRecent(r.recent, fm)
		return
	}
	if fm.last <= r.head {
		return // already seen
	}
	if fm.first <= r.head {
		if fm = r.after(fm, r.head); fm.frame == nil {
			return
		}
	}
	r.deliver(fm)
}

// fillGap fetches the batches after the room's head that the subscription
// missed, before fm, and delivers those still missing; false means fm is
// dropped, its members having been asked to reconnect with since.
//
// It is called, and returns, with the lock held, but lets go of it while
// the canvas answers, which may take up to WriteTimeout: joins, leaves,
// acks, presence and AI deltas of the room do not wait for it. What the
// fetch brings is then delivered only from the head on, as the room has it
// by then: batches delivered meanwhile by another fill are not delivered
// twice (NATS runs one callback of a subscription at a time, so fills do
// not overlap today, but nothing here counts on it), and a room that lost
// its head meanwhile (resyncAll) keeps fm for its next join, as accept
// does.
func (r *room) fillGap(fm fanMsg) bool {
	from := r.head
	r.mu.Unlock()
	cu, err := r.since(from)
	r.mu.Lock()
	if !r.missesBefore(fm) {
		return true // filled, or the head lost, meanwhile
	}
	if err != nil || cu.Snapshot != nil {
		r.g.log.Warn("fanout gap could not be filled; members resync", "canvas_id", r.id, "head", from, "err", err)
		r.resyncAll()
		return false
	}
	// cu holds from+1..cu.Seq: deliver what of it follows the head.
	if skip := r.head - from; r.head >= from && skip < uint64(len(cu.Batches)) {
		r.deliver(fanMsg{first: r.head + 1, last: cu.Seq, frame: canvases.ChangesFrame(r.id, cu.Batches[skip:])})
	}
	return true
}

// since asks the canvas for the batches after seq. The room's lock must
// not be held.
func (r *room) since(seq uint64) (canvases.CatchUp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.g.cfg.WriteTimeout)
	defer cancel()
	return r.g.cfg.Canvases.Since(ctx, r.id, seq)
}

// resyncAll disconnects every member with apierr.CloseResync and forgets the
// room's position; the next join sets it again. Lock held.
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
		part := r.after(fm, m.seen)
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

func appendRecent(recent []fanMsg, fm fanMsg) []fanMsg {
	if len(recent) >= recentCap {
		recent = append(recent[:0], recent[1:]...)
	}
	return append(recent, fm)
}

// after returns the part of fm after seq, or a zero fanMsg when the frame
// cannot be read.
func (r *room) after(fm fanMsg, seq uint64) fanMsg {
	var f struct {
		Batches []json.RawMessage `json:"batches"`
	}
	skip := int(seq + 1 - fm.first)
	if err := json.Unmarshal(fm.frame, &f); err != nil || skip < 0 || skip >= len(f.Batches) {
		return fanMsg{}
	}
	frame := canvases.ChangesFrameOf(r.id, f.Batches[skip:], func(b json.RawMessage) []byte { return b })
	return fanMsg{first: seq + 1, last: fm.last, frame: frame}
}
