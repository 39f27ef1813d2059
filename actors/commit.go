package actors

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
)

// onSubmit validates and applies a batch to the state at once (so the next
// batch is validated against it) and queues it for the journal. The sender
// is answered only when the journal has it, or at once when it is invalid.
// A batch holding an AI op is first turned into node.update ops.
func (a *canvasActor) onSubmit(m *submit) {
	if a.duplicate(m) {
		return
	}
	ops, fx, isAI, err := a.translateAI(m)
	if err != nil {
		a.reject(m.reply, err)
		return
	}
	if isAI {
		tm := *m
		tm.Ops = ops
		if !a.commit(&tm, fx.after) && fx.rejected != nil {
			fx.rejected()
		}
		return
	}
	a.commit(m, nil)
}

// dedupeKey identifies a batch a client may send again.
func dedupeKey(author, cbid string) string {
	if cbid == "" {
		return ""
	}
	return author + "\x00" + cbid
}

// duplicate answers a batch sent again (same author and client batch id)
// with the first one's outcome: its seq when committed, or, when it is on
// its way, together with it.
func (a *canvasActor) duplicate(m *submit) bool {
	key := dedupeKey(m.Author, m.ClientBatchID)
	if key == "" || m.reply == nil {
		return false
	}
	if seq, ok := a.seen[key]; ok {
		m.answer(&submitResult{Seq: seq})
		return true
	}
	if e := a.inFlight[key]; e != nil {
		e.dups = append(e.dups, m.reply)
		return true
	}
	return false
}

func (a *canvasActor) reject(r reply, err error) {
	if opErr, ok := err.(*canvas.OpError); ok {
		a.hub.metrics.rejected.WithLabelValues(opErr.Code).Inc()
	}
	r.send(&submitResult{Err: err})
}

// commit applies m and queues it for the journal; after runs once the
// journal has it. It reports whether the batch was accepted.
func (a *canvasActor) commit(m *submit, after afterCommit) bool {
	b := canvas.Batch{Author: m.Author, At: a.now(), Ops: m.Ops}
	undo, err := a.st.Apply(b)
	if err != nil {
		a.reject(m.reply, err)
		return false
	}
	raw, err := json.Marshal(journal.Committed{Seq: a.st.Seq, Author: m.Author, At: b.At, ClientBatchID: m.ClientBatchID, Ops: m.Ops})
	if err == nil && len(raw)+256 > a.hub.cfg.MaxRecordBytes {
		err = &canvas.OpError{Code: apierr.CodeBatchTooLarge, Index: -1,
			Message: "batch is " + strconv.Itoa(len(raw)) + " bytes encoded; at most " + strconv.Itoa(a.hub.cfg.MaxRecordBytes-256)}
	}
	if err != nil {
		a.st.Revert(undo)
		a.reject(m.reply, err)
		return false
	}
	if cancels := a.deletedRuns(undo); cancels != nil {
		after = chain(after, cancels)
	}
	e := &entry{seq: a.st.Seq, raw: raw, ops: len(m.Ops), undo: undo, reply: m.reply, after: after,
		key: dedupeKey(m.Author, m.ClientBatchID)}
	if e.key != "" {
		a.inFlight[e.key] = e
	}
	a.pending = append(a.pending, e)
	a.maybeAppend()
	return true
}

func chain(fs ...afterCommit) afterCommit {
	return func() {
		for _, f := range fs {
			if f != nil {
				f()
			}
		}
	}
}

// deletedRuns returns a side effect that cancels the AI runs of cards the
// batch deleted, or nil.
func (a *canvasActor) deletedRuns(u *canvas.Undo) afterCommit {
	eng := a.hub.cfg.AI
	if eng == nil {
		return nil
	}
	var runs []string
	for _, id := range u.NodeIDs() {
		prev, _ := u.PrevNode(id)
		if prev == nil || a.st.Nodes[id] != nil {
			continue
		}
		if run, ok := aicard.Running(prev); ok {
			runs = append(runs, run)
		}
	}
	if runs == nil {
		return nil
	}
	return func() {
		for _, r := range runs {
			eng.Cancel(r)
		}
	}
}

// maybeAppend sends the pending batches to the journal as one record when no
// append is in flight (group commit: one fenced append in flight per canvas,
// everything that arrives meanwhile rides the next one).
func (a *canvasActor) maybeAppend() {
	if a.inflight != nil || len(a.pending) == 0 {
		return
	}
	if !a.claimValid() {
		// Self-fencing: another node may own the canvas by now, so nothing
		// more is sent; the actor fails, and the pending batches with it.
		a.hub.system.Root.Send(a.self, &claimLost{epoch: a.epoch})
		return
	}
	size, n := 64, 0
	for n < len(a.pending) && (n == 0 || size+len(a.pending[n].raw)+1 <= a.hub.cfg.MaxRecordBytes) {
		size += len(a.pending[n].raw) + 1
		n++
	}
	a.inflight, a.pending = a.pending[:n:n], a.pending[n:]
	a.attempt = 0
	a.sendAppend()
}

func (a *canvasActor) sendAppend() {
	rec := encodeRecord(a.epoch, a.inflight)
	msgID := a.epoch + ":" + strconv.FormatUint(a.inflight[0].seq, 10)
	epoch, expect, j, timeout := a.epoch, a.streamSeq, a.hub.cfg.Journal, a.hub.cfg.AppendTimeout
	self, root, id := a.self, a.hub.system.Root, a.id
	m := a.hub.metrics
	m.recordBatches.Observe(float64(len(a.inflight)))
	// On a worker rather than a goroutine of its own: the append's deep
	// call stack is then already grown.
	a.hub.workers.Schedule(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		seq, err := j.Append(ctx, id, expect, msgID, rec)
		m.appendSeconds.Observe(time.Since(start).Seconds())
		root.Send(self, &appendDone{epoch: epoch, streamSeq: seq, err: err})
	})
}

func (a *canvasActor) onAppendDone(ctx actor.Context, m *appendDone) {
	if m.err != nil {
		a.onAppendFailed(ctx, m.err)
		return
	}
	a.streamSeq = m.streamSeq
	done := a.inflight
	a.inflight = nil
	ops, metaChanged := 0, false
	for _, e := range done {
		metaChanged = metaChanged || e.undo.PrevMeta() != nil
		a.committed = e.seq
		a.remember(recent{seq: e.seq, raw: e.raw, streamSeq: m.streamSeq, key: e.key})
		delete(a.inFlight, e.key)
		a.cp.dirty.mark(e.undo)
		ops += e.ops
	}
	a.publish(done)
	for _, e := range done {
		switch {
		case e.reply == nil && len(e.dups) == 0:
		case e.undo.PrevMeta() != nil:
			// A title or settings change is acknowledged once the store
			// has it too, so that canvas lists read right after the ack
			// show it.
			a.metaWaiters = append(a.metaWaiters, e)
		default:
			e.answer(&submitResult{Seq: e.seq})
		}
		if e.after != nil {
			e.after()
		}
	}
	a.cp.ops += ops
	a.hub.metrics.opsCommitted.Add(float64(ops))
	a.hub.metrics.batches.Add(float64(len(done)))
	a.maybeAppend()
	// A title or settings change is checkpointed at once, so that canvas
	// lists (read from the store) show it.
	if a.cp.ops >= a.hub.cfg.CheckpointOps || metaChanged || len(a.metaWaiters) > 0 {
		a.startCheckpoint()
	}
	a.maybeFinish(ctx)
}

// onAppendFailed stops the actor when another owner has appended (the
// fence), and otherwise retries the same record with the same message id,
// which the journal deduplicates, until the outcome is known.
func (a *canvasActor) onAppendFailed(ctx actor.Context, err error) {
	if errors.Is(err, journal.ErrFenced) {
		for _, e := range a.inflight {
			e.answer(&submitResult{Err: canvases.ErrUnavailable})
		}
		a.inflight = nil
		a.hub.metrics.lost.WithLabelValues("fenced").Inc()
		a.fail(ctx, "another owner appended to the journal", err)
		return
	}
	if errors.Is(err, journal.ErrTooLarge) || a.attempt >= a.hub.cfg.AppendRetries {
		a.fail(ctx, "journal append failed", err)
		return
	}
	a.attempt++
	backoff := time.Duration(50<<min(a.attempt, 6)) * time.Millisecond
	a.log.Warn("journal append failed; retrying", "err", err, "attempt", a.attempt, "backoff", backoff)
	epoch := a.epoch
	a.after(backoff, &retryAppend{epoch: epoch})
}

// retryAppend resends the record in flight.
type retryAppend struct{ epoch string }

// publish sends the committed batches to the gateways as one "changes"
// frame, encoded once for every client of every gateway.
//
// The message and its header map are the actor's, reused for every
// publish: PublishMsg copies the header and the data out before it
// returns, and the actor publishes from one goroutine at a time.
func (a *canvasActor) publish(done []*entry) {
	if a.fanout == nil {
		a.fanout = &nats.Msg{Subject: a.hub.cfg.Names.Changes(a.id), Header: nats.Header{
			natsname.HeaderFirstSeq: make([]string, 1),
			natsname.HeaderLastSeq:  make([]string, 1),
		}}
	}
	first := strconv.FormatUint(done[0].seq, 10)
	last := first
	if len(done) > 1 {
		last = strconv.FormatUint(done[len(done)-1].seq, 10)
	}
	msg := a.fanout
	msg.Header[natsname.HeaderFirstSeq][0], msg.Header[natsname.HeaderLastSeq][0] = first, last
	msg.Data = changesFrame(a.id, done)
	err := a.hub.cfg.Conn.PublishMsg(msg)
	msg.Data = nil // not kept alive until the next publish
	if err != nil {
		// Gateways notice the gap at the next batch and catch up.
		a.log.Warn("fanout publish failed", "err", err)
	}
}

// remember adds a committed batch to the history and its dedupe key to
// seen, forgetting the key of the batch it pushes out.
func (a *canvasActor) remember(r recent) {
	a.history.push(r, func(old recent) {
		if old.key != "" && a.seen[old.key] == old.seq {
			delete(a.seen, old.key)
		}
	})
	if r.key != "" {
		a.seen[r.key] = r.seq
	}
}

// uncommitted lists the batches applied to the state that the journal does
// not have yet, oldest first.
func (a *canvasActor) uncommitted() []*entry {
	if len(a.inflight) == 0 {
		return a.pending
	}
	return append(append([]*entry(nil), a.inflight...), a.pending...)
}

// committedNode returns node id as the journal has it: the value before the
// oldest uncommitted batch that touched it, or the current one.
func (a *canvasActor) committedNode(id string, unc []*entry) *canvas.Node {
	for _, e := range unc {
		if n, ok := e.undo.PrevNode(id); ok {
			return n
		}
	}
	return a.st.Nodes[id]
}

func (a *canvasActor) committedEdge(id string, unc []*entry) *canvas.Edge {
	for _, e := range unc {
		if ed, ok := e.undo.PrevEdge(id); ok {
			return ed
		}
	}
	return a.st.Edges[id]
}

func (a *canvasActor) committedComment(id string, unc []*entry) *canvas.Comment {
	for _, e := range unc {
		if c, ok := e.undo.PrevComment(id); ok {
			return c
		}
	}
	return a.st.Comments[id]
}

// committedExport is the snapshot clients may see: only what the journal
// holds, never a batch still on its way.
func (a *canvasActor) committedExport() canvas.Export {
	ex := a.st.Export()
	unc := a.uncommitted()
	if len(unc) == 0 {
		return ex
	}
	ex.Seq = a.committed
	for _, e := range unc {
		if m := e.undo.PrevMeta(); m != nil {
			ex.Title, ex.Settings = m.Title, m.Settings
			break
		}
	}
	ex.Nodes = committedItems(ex.Nodes, unc, (*canvas.Undo).NodeIDs, func(n *canvas.Node) string { return n.ID },
		func(id string) *canvas.Node { return a.committedNode(id, unc) })
	ex.Edges = committedItems(ex.Edges, unc, (*canvas.Undo).EdgeIDs, func(e *canvas.Edge) string { return e.ID },
		func(id string) *canvas.Edge { return a.committedEdge(id, unc) })
	ex.Comments = committedItems(ex.Comments, unc, (*canvas.Undo).CommentIDs, func(c *canvas.Comment) string { return c.ID },
		func(id string) *canvas.Comment { return a.committedComment(id, unc) })
	return ex
}

// committedItems is cur (an export's nodes, edges or comments, sorted by
// id) with each item an uncommitted batch touched (touched of its undo)
// put back as the journal has it (committed; gone where that is nil),
// sorted by id again.
func committedItems[T any](cur []*T, unc []*entry, touched func(*canvas.Undo) []string, id func(*T) string, committed func(string) *T) []*T {
	ids := map[string]bool{}
	for _, e := range unc {
		for _, i := range touched(e.undo) {
			ids[i] = true
		}
	}
	out := cur[:0:0]
	for _, it := range cur {
		if !ids[id(it)] {
			out = append(out, it)
		}
	}
	for i := range ids {
		if it := committed(i); it != nil {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return id(out[i]) < id(out[j]) })
	return out
}
