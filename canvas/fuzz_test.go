package canvas

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/textcheck"
)

// FuzzDecodeOps: any input either decodes or is refused with invalid_op at
// index -1, or with invalid_text exactly when it holds refused text
// (textcheck), never a panic; what decodes holds no refused text and
// survives the journal's round trip (encode, decode) unchanged in meaning:
// the re-encoded form is a fixed point, and both forms apply to a canvas
// with the same outcome.
func FuzzDecodeOps(f *testing.F) {
	for _, seed := range []string{
		`[]`,
		`[{"op":"node.add","id":"n","kind":"text","x":1,"y":-2,"w":30,"h":40,"z":3,"data":{"k":"<v>"}}]`,
		`[{"op":"node.update","id":"a","set":{"x":5,"data.k":{ "a" : [1, 2] }},"unset":["data.title"]}]`,
		`[{"op":"node.delete","id":"b"},{"op":"edge.delete","id":"ab"}]`,
		`[{"op":"edge.add","id":"e","source":"a","target":"c","kind":"default","data":{}}]`,
		`[{"op":"canvas.update","title":"  T  ","settings":{"a":null,"b":"\u2028"}}]`,
		`[{"op":"canvas.update","settings":{}}]`,
		`[{"op":"node.add","colour":"red"}]`,
		`[] ]`,
		`null`,
		``,
		// Text every input path refuses: invalid UTF-8, NUL, lone surrogates.
		"[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"text\",\"data\":{\"text\":\"\xff\xfe\"}}]",
		`[{"op":"node.delete","id":"a"},{"op":"node.update","id":"a","set":{"data.t":"a\u0000b"}}]`,
		`[{"op":"canvas.update","title":"\ud800","settings":{"\udc00":1}}]`,
		`[{"op":"node.add","id":"n\u0000","kind":"text","data":{"k":["\ud83d\ude00","\ud83d"]}}]`,
		`[{"op":"edge.add","id":"e","source":"a","target":"b","data":{"l":"\\u0000 \ufffd"}}]`,
		"[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"te\xc3\"}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		ops, err := DecodeOps(input)
		if err != nil {
			var oe *OpError
			switch {
			case !errors.As(err, &oe):
				t.Fatalf("DecodeOps error: got %#v; want an *OpError", err)
			case oe.Code == apierr.CodeInvalidText:
				if textcheck.JSON(input) == nil || oe.Index < -1 {
					t.Fatalf("DecodeOps(%q): got %v; want invalid_text only for refused text", input, err)
				}
			case oe.Code != apierr.CodeInvalidOp || oe.Index != -1:
				t.Fatalf("DecodeOps error: got %#v; want invalid_op at -1 or invalid_text", err)
			}
			if ops != nil {
				t.Fatalf("DecodeOps: got ops %v with an error; want nil", ops)
			}
			return
		}
		if ops == nil {
			t.Fatalf("DecodeOps: got nil ops without an error")
		}
		enc1, err := json.Marshal(ops)
		if err != nil {
			t.Fatalf("encode decoded ops: %v", err)
		}
		if p := textcheck.JSON(input); p != nil || textcheck.JSON(enc1) != nil {
			t.Fatalf("DecodeOps(%q): accepted, with refused text %v; encoded %q", input, p, enc1)
		}
		ops2, err := DecodeOps(enc1)
		if err != nil {
			t.Fatalf("decode re-encoded ops %s: %v", enc1, err)
		}
		if len(ops2) != len(ops) {
			t.Fatalf("round trip: got %d ops; want %d", len(ops2), len(ops))
		}
		enc2, err := json.Marshal(ops2)
		if err != nil {
			t.Fatalf("encode ops a second time: %v", err)
		}
		if !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding is not a fixed point:\n first %s\nsecond %s", enc1, enc2)
		}
		if len(ops) > 20 {
			return // enough for the outcome check; keeps executions fast
		}
		live := newFuzzFixture(t)
		replay := newFuzzFixture(t)
		_, liveErr := live.Apply(Batch{Author: "u", At: 9, Ops: ops})
		_, replayErr := replay.Apply(Batch{Author: "u", At: 9, Ops: ops2})
		if (liveErr == nil) != (replayErr == nil) {
			t.Fatalf("apply: got %v; after the round trip %s: %v; want the same outcome", liveErr, enc1, replayErr)
		}
		if got, want := exportJSON(t, replay), exportJSON(t, live); !bytes.Equal(got, want) {
			t.Fatalf("export after the round trip:\n got %s\nwant %s", got, want)
		}
	})
}

// fuzzLimits are small, so that the caps are reached often.
var fuzzLimits = Limits{MaxNodes: 5, MaxBatchOps: 4, MaxDataBytes: 64}

func newFuzzFixture(t testing.TB) *State {
	t.Helper()
	s := NewState("fz", Meta{Title: "F"}, fuzzLimits)
	applyEach(t, s, fixture())
	return s
}

// FuzzApply reads its input as a program of small batches over ids from a
// tiny alphabet, so that collisions, deletes of linked nodes and caps all
// come up, and checks the state's invariants after every step:
//
//   - an accepted batch raises seq by exactly one; a rejected one leaves
//     seq and the export bytes unchanged and names an op in the batch;
//   - no edge joins a missing node, and the links index mirrors Edges;
//   - node count, data and settings sizes stay within their caps;
//   - an accepted batch survives the journal: encoded as JSON, decoded and
//     applied to a replica, it is accepted and gives the same export;
//   - the state rebuilt from its export, as a load rebuilds it from a
//     checkpoint, exports the same bytes;
//   - no number in the state is a negative zero (checkState): -0 is held
//     as 0, so a store that drops the sign of a zero changes nothing;
//   - reverting the newest batches restores the exports taken before them.
func FuzzApply(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		runProgram(t, program)
	})
}

// fuzzSeeds are programs that build, link, update, delete and revert. The
// bytes follow runProgram (command, op count, author) and genOp (op kind,
// then its fields in order); see the comments.
var fuzzSeeds = [][]byte{
	{
		0, 4, 0, // batch of 4 by u1:
		0, 0, 0, 0, 0, 0, 0, 0, 0, // node.add a text, no geometry, no data
		0, 1, 1, 0, 0, 0, 0, 0, 2, 0, 1, // node.add b note, data {k: "<>&"}
		4, 0, 0, 1, 1, 0, // edge.add e1 a->b default
		2, 0, 3, 0, 2, 5, 3, 0, // node.update a set x=-1, data.k={...}
		0, 1, 1, 3, 0, // batch: node.delete a (takes e1)
		7, 7, // revert both batches
	},
	{
		0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // node.add a
		0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, // node.add b
		0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, // node.add c
		0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, // node.add d
		0, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, // node.add e: the canvas is full
		0, 1, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, // node.add f: canvas_full
		0, 2, 0, 4, 0, 0, 1, 0, 0, 4, 1, 1, 2, 1, 0, // edge.add e1 a->b, e2 b->c
		0, 2, 0, 3, 1, 7, 1, // node.delete b, then an unknown op: rolled back
		7, 7, // revert the edges and node e
	},
	{
		0, 3, 0, // batch of 3:
		6, 1, 2, // canvas.update title T, settings {a: 1}
		6, 2, 3, // canvas.update title "  spaced  ", settings {a: null}
		6, 0, 1, // canvas.update with settings {} only: invalid_op
		0, 0, 0, // empty batch
		0, 1, 1, 6, 5, 4, // canvas.update title "Ü<&>", settings {b: "<"}
		0, 1, 0, 7, 0, // an op with no name
	},
	{
		0, 1, 0, // node.add a ai x=0.5 z=-MaxZ, data {k: 30 x's, l: "<>&"}: 64 bytes escaped, the cap
		0, 0, 2, 1, 3, 0, 0, 0, 1, 12, 3, 0, 4, 1, 1,
		0, 1, 0, 2, 0, 2, 7, 0, 0, // node.update a set data.<=1: 70 bytes, data_too_large
		0, 1, 1, 2, 0, 2, 6, 0, 0, // node.update a set data.l=1
		0, 1, 0, 2, 0, 2, 7, 4, 0, // node.update a set data.< = 30 x's: data_too_large
	},
	{
		0, 1, 0, 0, 0, 0, 1, 14, 0, 0, 0, 0, 2, 0, 8, // node.add a x=-0, data {k: [-0.0e0, ...]}
		0, 1, 0, 2, 0, 2, 1, 14, 0, // node.update a set y=-0
		0, 1, 0, 6, 0, 7, // canvas.update settings {z: -0E+1}
	},
	{
		0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // node.add a
		0, 1, 0, 7, 4, 0, 1, 1, 1, 1, 2, 0, 1, // comment.add c1 on a at (1, -1), "hi", mentions u1
		0, 1, 1, 7, 5, 1, 0, 3, 0, // u2: comment.add c2 replying to c1
		0, 1, 1, 7, 6, 0, 0, 0, // u2: comment.update c1 text: forbidden
		0, 1, 1, 7, 6, 0, 1, 1, // u2: comment.update c1 resolved
		0, 1, 0, 7, 7, 0, // u1: comment.delete c1, taking c2 along
		7,                         // revert the delete
		0, 1, 0, 7, 5, 2, 1, 0, 0, // comment.add c3 replying to the reply c2: invalid_op
	},
}

type progReader struct {
	b []byte
	i int
}

func (r *progReader) done() bool { return r.i >= len(r.b) }

// pick returns the next byte modulo n, or 0 once the program has run out.
func (r *progReader) pick(n int) int {
	if r.i >= len(r.b) {
		return 0
	}
	c := r.b[r.i]
	r.i++
	return int(c) % n
}

var (
	fuzzNodeIDs  = []string{"a", "b", "c", "d", "e", "f", "", "a b", strings.Repeat("n", MaxIDLen+1)}
	fuzzEdgeIDs  = []string{"e1", "e2", "e3", "a", "", "e/"}
	fuzzNodeKind = []string{"text", "note", "ai", "image", "file", "", "video", "Text"}
	fuzzEdgeKind = []string{"", "default", "fancy"}
	fuzzNumbers  = []float64{0, 1, -1, 0.5, 2.5, 240, MaxSize, MaxSize + 1, MaxCoord, -MaxCoord, MaxCoord + 1,
		MaxZ, -MaxZ, MaxZ + 1, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e300, math.SmallestNonzeroFloat64}
	fuzzKeys   = []string{"k", "l", "m", "", strings.Repeat("k", MaxKeyLen+1), "<"}
	fuzzValues = []string{`1`, `"<>&"`, `null`, ` { "a" : [ 1, 2 ] } `, `"` + strings.Repeat("x", 30) + `"`, `tru`, `""`,
		"\"\u2028\"", `[-0.0e0,{"-0":-0},"-0",-0.5]`, ``}
	fuzzSetKeys   = []string{"x", "y", "w", "h", "z", "data.k", "data.l", "data.<", "color", "data."}
	fuzzUnsetKeys = []string{"data.k", "data.l", "data.<", "x", "data."}
	fuzzTitles    = []*string{nil, ptr("T"), ptr("  spaced  "), ptr(""), ptr(strings.Repeat("t", MaxTitleLen+1)), ptr("Ü<&>")}
	fuzzSettings  = []map[string]json.RawMessage{nil, {}, raws("a", `1`), raws("a", `null`), raws("b", `"<"`),
		raws("big", `"`+strings.Repeat("s", MaxSettingsBytes)+`"`), raws("", `1`), raws("z", `-0E+1`)}
)

func pickFrom[T any](r *progReader, xs []T) T { return xs[r.pick(len(xs))] }

func (r *progReader) number() *float64 {
	if r.pick(3) == 0 {
		return nil
	}
	return ptr(pickFrom(r, fuzzNumbers))
}

func (r *progReader) data() map[string]json.RawMessage {
	n := r.pick(4)
	if n == 0 {
		return nil
	}
	m := map[string]json.RawMessage{}
	for range n - 1 {
		m[pickFrom(r, fuzzKeys)] = json.RawMessage(pickFrom(r, fuzzValues))
	}
	return m
}

// genOp derives one op from the program.
func (r *progReader) genOp() Op {
	switch r.pick(8) {
	case 0, 1:
		return Op{Op: OpNodeAdd, ID: pickFrom(r, fuzzNodeIDs), Kind: pickFrom(r, fuzzNodeKind),
			X: r.number(), Y: r.number(), W: r.number(), H: r.number(), Z: r.number(), Data: r.data()}
	case 2:
		op := Op{Op: OpNodeUpdate, ID: pickFrom(r, fuzzNodeIDs)}
		if n := r.pick(4); n > 0 {
			op.Set = map[string]json.RawMessage{}
			for range n - 1 {
				key := pickFrom(r, fuzzSetKeys)
				if strings.HasPrefix(key, "data.") {
					op.Set[key] = json.RawMessage(pickFrom(r, fuzzValues))
				} else {
					op.Set[key] = json.RawMessage(strconv.FormatFloat(pickFrom(r, fuzzNumbers), 'g', -1, 64))
				}
			}
		}
		if n := r.pick(3); n > 0 {
			op.Unset = []string{}
			for range n - 1 {
				op.Unset = append(op.Unset, pickFrom(r, fuzzUnsetKeys))
			}
		}
		return op
	case 3:
		return Op{Op: OpNodeDelete, ID: pickFrom(r, fuzzNodeIDs)}
	case 4:
		return Op{Op: OpEdgeAdd, ID: pickFrom(r, fuzzEdgeIDs), Source: pickFrom(r, fuzzNodeIDs),
			Target: pickFrom(r, fuzzNodeIDs), Kind: pickFrom(r, fuzzEdgeKind), Data: r.data()}
	case 5:
		return Op{Op: OpEdgeDelete, ID: pickFrom(r, fuzzEdgeIDs)}
	case 6:
		return Op{Op: OpCanvasUpdate, Title: pickFrom(r, fuzzTitles), Settings: pickFrom(r, fuzzSettings)}
	default:
		switch r.pick(8) {
		case 0:
			return Op{}
		case 1:
			return Op{Op: "node.move", ID: "a"}
		case 2:
			return Op{Op: OpNodeDelete, ID: pickFrom(r, fuzzNodeIDs), Kind: "text"}
		case 3:
			return Op{Op: OpEdgeDelete, ID: pickFrom(r, fuzzEdgeIDs), X: ptr(1.0)}
		case 4: // a thread, anchored to a card, a point or neither
			return Op{Op: OpCommentAdd, ID: pickFrom(r, fuzzCommentIDs), Node: pickFrom(r, fuzzCommentNodes),
				X: r.number(), Y: r.number(), Text: pickFrom(r, fuzzCommentTexts), Mentions: pickFrom(r, fuzzMentions)}
		case 5: // a reply, to a thread, a reply or nothing
			return Op{Op: OpCommentAdd, ID: pickFrom(r, fuzzCommentIDs), Thread: pickFrom(r, fuzzCommentIDs),
				Text: pickFrom(r, fuzzCommentTexts), Mentions: pickFrom(r, fuzzMentions)}
		case 6:
			op := Op{Op: OpCommentUpdate, ID: pickFrom(r, fuzzCommentIDs), Text: pickFrom(r, fuzzCommentTexts)}
			if b := r.pick(3); b > 0 {
				op.Resolved = ptr(b == 1)
			}
			return op
		default:
			return Op{Op: OpCommentDelete, ID: pickFrom(r, fuzzCommentIDs)}
		}
	}
}

var (
	fuzzCommentIDs   = []string{"c1", "c2", "c3", ""}
	fuzzCommentNodes = []string{"", "a", "b", "z"}
	fuzzCommentTexts = []*string{ptr("hi"), nil, ptr(" "), ptr("ok <&>")}
	fuzzMentions     = [][]string{nil, {"u1"}, {"u1", "u2"}, {"u1", "u1"}, {"a b"}}
)

// progStats counts what a program did, so that tests can check the seeds
// reach the interesting paths.
type progStats struct {
	accepted, rejected, reverted    int
	maxNodes, maxEdges, maxComments int
}

type step struct {
	live, replay *Undo
	before       []byte
}

// runProgram interprets program (see FuzzApply) against a live state and a
// replica fed through the journal's encoding.
func runProgram(t testing.TB, program []byte) progStats {
	t.Helper()
	var st progStats
	r := &progReader{b: program}
	live := NewState("fz", Meta{Title: "F"}, fuzzLimits)
	replay := NewState("fz", Meta{Title: "F"}, fuzzLimits)
	var history []step
	at := int64(0)
	for steps := 0; !r.done() && steps < 64; steps++ {
		if r.pick(8) == 7 {
			if len(history) == 0 {
				continue
			}
			last := history[len(history)-1]
			history = history[:len(history)-1]
			live.Revert(last.live)
			replay.Revert(last.replay)
			if got := exportJSON(t, live); !bytes.Equal(got, last.before) {
				t.Fatalf("step %d: export after revert:\n got %s\nwant %s", steps, got, last.before)
			}
			if got := exportJSON(t, replay); !bytes.Equal(got, last.before) {
				t.Fatalf("step %d: replica export after revert:\n got %s\nwant %s", steps, got, last.before)
			}
			requireConsistentAt(t, steps, live)
			st.reverted++
			continue
		}
		n := r.pick(6) // 0: empty batch; 5: over MaxBatchOps
		b := Batch{Author: pickFrom(r, []string{"u1", "u2"}), At: at}
		at++
		for range n {
			b.Ops = append(b.Ops, r.genOp())
		}

		before := exportJSON(t, live)
		seq := live.Seq
		u, err := live.Apply(b)
		if err != nil {
			var oe *OpError
			if !errors.As(err, &oe) {
				t.Fatalf("step %d: error %v is a %T; want *OpError", steps, err, err)
			}
			if oe.Index < -1 || oe.Index >= len(b.Ops) {
				t.Fatalf("step %d: error index %d outside a batch of %d", steps, oe.Index, len(b.Ops))
			}
			if u != nil {
				t.Fatalf("step %d: undo returned with error %v", steps, err)
			}
			if live.Seq != seq {
				t.Fatalf("step %d: seq after rejection: got %d; want %d", steps, live.Seq, seq)
			}
			if got := exportJSON(t, live); !bytes.Equal(got, before) {
				t.Fatalf("step %d: rejection %v changed the export:\n got %s\nwant %s", steps, err, got, before)
			}
			requireConsistentAt(t, steps, live)
			st.rejected++
			continue
		}
		if live.Seq != seq+1 {
			t.Fatalf("step %d: seq after accepted batch: got %d; want %d", steps, live.Seq, seq+1)
		}
		requireConsistentAt(t, steps, live)

		// Through the journal: encode, decode, apply to the replica.
		rec, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("step %d: accepted batch cannot be journaled: %v", steps, err)
		}
		var back Batch
		if err := json.Unmarshal(rec, &back); err != nil {
			t.Fatalf("step %d: journaled batch %s does not decode: %v", steps, rec, err)
		}
		ru, err := replay.Apply(back)
		if err != nil {
			t.Fatalf("step %d: replay of accepted batch %s: %v", steps, rec, err)
		}
		want := exportJSON(t, live)
		if got := exportJSON(t, replay); !bytes.Equal(got, want) {
			t.Fatalf("step %d: replica after %s:\n got %s\nwant %s", steps, rec, got, want)
		}
		if got := exportJSON(t, reload(t, live)); !bytes.Equal(got, want) {
			t.Fatalf("step %d: rebuilt from its export:\n got %s\nwant %s", steps, got, want)
		}
		history = append(history, step{live: u, replay: ru, before: before})
		st.accepted++
		st.maxNodes = max(st.maxNodes, len(live.Nodes))
		st.maxEdges = max(st.maxEdges, len(live.Edges))
		st.maxComments = max(st.maxComments, len(live.Comments))
	}
	return st
}

// reload rebuilds s from its export's JSON the way a load rebuilds a
// canvas from its checkpoint: metadata, then every node and edge put back
// as it was stored.
func reload(t testing.TB, s *State) *State {
	t.Helper()
	var ex Export
	if err := json.Unmarshal(exportJSON(t, s), &ex); err != nil {
		t.Fatalf("export does not decode: %v", err)
	}
	r := NewState(ex.ID, Meta{Title: ex.Title, Settings: ex.Settings}, s.Limits())
	r.Seq = ex.Seq
	for _, n := range ex.Nodes {
		r.PutNode(n)
	}
	for _, e := range ex.Edges {
		r.PutEdge(e)
	}
	for _, c := range ex.Comments {
		r.PutComment(c)
	}
	return r
}

func requireConsistentAt(t testing.TB, step int, s *State) {
	t.Helper()
	if err := checkState(s); err != nil {
		t.Fatalf("step %d: inconsistent state: %v", step, err)
	}
}

// TestFuzzSeedsReachThePaths guards the seed corpus: between them the seeds
// must accept and reject batches, fill the canvas, link nodes and revert.
func TestFuzzSeedsReachThePaths(t *testing.T) {
	var total progStats
	for _, seed := range fuzzSeeds {
		st := runProgram(t, seed)
		total.accepted += st.accepted
		total.rejected += st.rejected
		total.reverted += st.reverted
		total.maxNodes = max(total.maxNodes, st.maxNodes)
		total.maxEdges = max(total.maxEdges, st.maxEdges)
		total.maxComments = max(total.maxComments, st.maxComments)
	}
	if total.accepted == 0 || total.rejected == 0 || total.reverted == 0 || total.maxNodes < fuzzLimits.MaxNodes || total.maxEdges == 0 || total.maxComments < 2 {
		t.Fatalf("seeds reach: got %+v; want accepted, rejected, reverted, a full canvas, an edge and a thread with a reply", total)
	}
}
