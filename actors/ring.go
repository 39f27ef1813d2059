package actors

import "encoding/json"

// recent is one committed batch kept for catch-up: its seq, its encoded
// form, and the stream sequence of the journal record that holds it.
type recent struct {
	seq       uint64
	raw       json.RawMessage
	streamSeq uint64
	key       string // dedupe key (author and client batch id), or ""
}

// ring keeps the last committed batches, oldest first: at most cap of
// them, and at most maxBytes of encoded batches (but always the newest).
// Touched only by the canvas actor's goroutine.
type ring struct {
	buf      []recent
	start    int // index of the oldest entry
	n        int
	bytes    int // encoded size of the entries kept
	maxBytes int
}

func newRing(capacity, maxBytes int) *ring {
	if capacity < 1 {
		capacity = 1
	}
	return &ring{buf: make([]recent, capacity), maxBytes: maxBytes}
}

// push adds e, calling evicted for each entry it pushes out, oldest first.
func (r *ring) push(e recent, evicted func(recent)) {
	for r.n > 0 && (r.n == len(r.buf) || r.maxBytes > 0 && r.bytes+len(e.raw) > r.maxBytes) {
		old := r.buf[r.start]
		r.buf[r.start] = recent{}
		r.start = (r.start + 1) % len(r.buf)
		r.n--
		r.bytes -= len(old.raw)
		evicted(old)
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
	r.bytes += len(e.raw)
}

func (r *ring) at(i int) recent { return r.buf[(r.start+i)%len(r.buf)] }

// oldest returns the oldest entry kept, if any.
func (r *ring) oldest() (recent, bool) {
	if r.n == 0 {
		return recent{}, false
	}
	return r.at(0), true
}

// since returns the batches after seq, in order, or ok=false when the ring
// does not reach back to seq+1. committed is the canvas's committed seq.
func (r *ring) since(seq, committed uint64, limit int) ([]json.RawMessage, bool) {
	if seq >= committed {
		return nil, seq == committed
	}
	if r.n == 0 || r.at(0).seq > seq+1 {
		return nil, false
	}
	first := int(seq + 1 - r.at(0).seq)
	count := r.n - first
	if limit > 0 && count > limit {
		count = limit
	}
	out := make([]json.RawMessage, 0, count)
	for i := first; i < first+count; i++ {
		out = append(out, r.at(i).raw)
	}
	return out, true
}
