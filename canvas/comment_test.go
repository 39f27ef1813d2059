package canvas

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
)

func commentState(t *testing.T) *State {
	t.Helper()
	s := NewState("cv", Meta{}, Limits{})
	applyEach(t, s, []Op{{Op: OpNodeAdd, ID: "n1", Kind: "note"}})
	mustApply(t, s, Batch{Author: "ann", At: 10, Ops: []Op{
		{Op: OpCommentAdd, ID: "t1", Node: "n1", X: ptr(5.0), Y: ptr(math.Copysign(0, -1)), Text: ptr("Is this right, @bob?"), Mentions: []string{"bob"}},
	}})
	mustApply(t, s, Batch{Author: "bob", At: 20, Ops: []Op{
		{Op: OpCommentAdd, ID: "r1", Thread: "t1", Text: ptr("Yes.")},
	}})
	return s
}

// TestCommentThread: a thread anchored to a card, a reply, the seq each
// was added at, and the thread in the export.
func TestCommentThread(t *testing.T) {
	s := commentState(t)
	t1, r1 := s.Comments["t1"], s.Comments["r1"]
	if t1 == nil || r1 == nil {
		t.Fatalf("comments: %v", s.Comments)
	}
	if t1.Node != "n1" || t1.X != 5 || math.Signbit(t1.Y) || t1.Author != "ann" || t1.Seq != 2 || len(t1.Mentions) != 1 || t1.Mentions[0] != "bob" {
		t.Errorf("thread: %+v", t1)
	}
	if r1.Thread != "t1" || r1.Author != "bob" || r1.Seq != 3 || r1.CreatedAt != 20 {
		t.Errorf("reply: %+v", r1)
	}
	if b := exportJSON(t, s); !bytes.Contains(b, []byte(`"comments":[{"id":"r1","thread":"t1"`)) {
		t.Errorf("export: %s", b)
	}
	if b := exportJSON(t, NewState("empty", Meta{}, Limits{})); bytes.Contains(b, []byte("comments")) {
		t.Errorf("export of a canvas without comments: %s; want no comments key", b)
	}
}

// TestCommentAuthorOnly: only a comment's author edits or deletes it;
// anyone resolves and reopens a thread; a refused op changes nothing.
func TestCommentAuthorOnly(t *testing.T) {
	s := commentState(t)
	before := exportJSON(t, s)
	for _, op := range []Op{
		{Op: OpCommentUpdate, ID: "t1", Text: ptr("changed by bob")},
		{Op: OpCommentUpdate, ID: "t1", Mentions: []string{}},
		{Op: OpCommentDelete, ID: "t1"},
	} {
		_, err := s.Apply(Batch{Author: "bob", At: 30, Ops: []Op{op}})
		if oe := asOpError(t, err); oe.Code != apierr.CodeForbidden {
			t.Errorf("%s by bob: %v; want forbidden", op.Op, oe)
		}
		if got := exportJSON(t, s); !bytes.Equal(got, before) {
			t.Fatalf("a refused %s changed the canvas", op.Op)
		}
	}
	mustApply(t, s, Batch{Author: "bob", At: 40, Ops: []Op{{Op: OpCommentUpdate, ID: "t1", Resolved: ptr(true)}}})
	if !s.Comments["t1"].Resolved || s.Comments["t1"].UpdatedAt != 10 {
		t.Errorf("resolved by bob: %+v; want resolved, text untouched", s.Comments["t1"])
	}
	mustApply(t, s, Batch{Author: "ann", At: 50, Ops: []Op{{Op: OpCommentUpdate, ID: "t1", Text: ptr("Edited"), Mentions: []string{}}}})
	if c := s.Comments["t1"]; c.Text != "Edited" || c.Mentions != nil || c.UpdatedAt != 50 || !c.Resolved {
		t.Errorf("edited by ann: %+v", c)
	}
}

// TestCommentDeleteThreadUndo: deleting a thread takes its replies; the
// undo brings back every one of them.
func TestCommentDeleteThreadUndo(t *testing.T) {
	s := commentState(t)
	before := exportJSON(t, s)
	u := mustApply(t, s, Batch{Author: "ann", At: 60, Ops: []Op{{Op: OpCommentDelete, ID: "t1"}}})
	if len(s.Comments) != 0 {
		t.Fatalf("after deleting the thread: %v; want no comments", s.Comments)
	}
	if ids := u.CommentIDs(); len(ids) != 2 {
		t.Errorf("undo touched %v; want t1 and r1", ids)
	}
	s.Revert(u)
	requireConsistent(t, s)
	if got := exportJSON(t, s); !bytes.Equal(got, before) {
		t.Errorf("after revert:\n%s\nwant\n%s", got, before)
	}
}

// TestCommentBadOps: each malformed comment op is refused with a code and
// a message naming what is wrong.
func TestCommentBadOps(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   Op
		code string
		msg  string
	}{
		{"no text", Op{Op: OpCommentAdd, ID: "c", X: ptr(1.0), Y: ptr(1.0)}, apierr.CodeInvalidOp, "needs a text"},
		{"blank text", Op{Op: OpCommentAdd, ID: "c", X: ptr(1.0), Y: ptr(1.0), Text: ptr("  \n")}, apierr.CodeInvalidOp, "must not be empty"},
		{"long text", Op{Op: OpCommentAdd, ID: "c", X: ptr(1.0), Y: ptr(1.0), Text: ptr(strings.Repeat("a", MaxCommentBytes+1))}, apierr.CodeDataTooLarge, "at most"},
		{"no anchor", Op{Op: OpCommentAdd, ID: "c", Text: ptr("hi")}, apierr.CodeInvalidOp, "needs a node, or x and y"},
		{"x alone", Op{Op: OpCommentAdd, ID: "c", X: ptr(1.0), Text: ptr("hi")}, apierr.CodeInvalidOp, "needs a node, or x and y"},
		{"missing card", Op{Op: OpCommentAdd, ID: "c", Node: "gone", Text: ptr("hi")}, apierr.CodeMissingNode, `"gone"`},
		{"far away", Op{Op: OpCommentAdd, ID: "c", X: ptr(2e7), Y: ptr(1.0), Text: ptr("hi")}, apierr.CodeInvalidNumber, "x must be"},
		{"duplicate", Op{Op: OpCommentAdd, ID: "t1", X: ptr(1.0), Y: ptr(1.0), Text: ptr("hi")}, apierr.CodeDuplicateID, `"t1"`},
		{"reply to a reply", Op{Op: OpCommentAdd, ID: "c", Thread: "r1", Text: ptr("hi")}, apierr.CodeInvalidOp, "is a reply"},
		{"reply with a place", Op{Op: OpCommentAdd, ID: "c", Thread: "t1", X: ptr(1.0), Text: ptr("hi")}, apierr.CodeInvalidOp, "no node, x or y"},
		{"reply to nothing", Op{Op: OpCommentAdd, ID: "c", Thread: "zz", Text: ptr("hi")}, apierr.CodeUnknownID, `"zz"`},
		{"bad mention", Op{Op: OpCommentAdd, ID: "c", Thread: "t1", Text: ptr("hi"), Mentions: []string{"a b"}}, apierr.CodeInvalidOp, "mentions[0]"},
		{"mention twice", Op{Op: OpCommentAdd, ID: "c", Thread: "t1", Text: ptr("hi"), Mentions: []string{"bob", "bob"}}, apierr.CodeInvalidOp, "twice"},
		{"resolve a reply", Op{Op: OpCommentUpdate, ID: "r1", Resolved: ptr(true)}, apierr.CodeInvalidOp, "is a reply"},
		{"empty update", Op{Op: OpCommentUpdate, ID: "t1"}, apierr.CodeInvalidOp, "needs text, mentions or resolved"},
		{"update nothing", Op{Op: OpCommentUpdate, ID: "zz", Resolved: ptr(true)}, apierr.CodeUnknownID, `"zz"`},
		{"delete nothing", Op{Op: OpCommentDelete, ID: "zz"}, apierr.CodeUnknownID, `"zz"`},
		{"stray field", Op{Op: OpCommentDelete, ID: "t1", Text: ptr("x")}, apierr.CodeInvalidOp, `"text"`},
		{"node op with text", Op{Op: OpNodeAdd, ID: "n9", Kind: "note", Text: ptr("x")}, apierr.CodeInvalidOp, `does not take "text"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := commentState(t)
			before := exportJSON(t, s)
			_, err := s.Apply(Batch{Author: "ann", At: 70, Ops: []Op{tc.op}})
			oe := asOpError(t, err)
			if oe.Code != tc.code || !strings.Contains(oe.Message, tc.msg) {
				t.Errorf("got %v; want %s with %q", oe, tc.code, tc.msg)
			}
			if got := exportJSON(t, s); !bytes.Equal(got, before) {
				t.Errorf("a refused op changed the canvas")
			}
		})
	}
}

// TestCommentOnly: a viewer's batch may hold comment ops only.
func TestCommentOnly(t *testing.T) {
	c := Op{Op: OpCommentAdd}
	if !CommentOnly([]Op{c, {Op: OpCommentDelete}}) || CommentOnly([]Op{c, {Op: OpNodeDelete}}) || CommentOnly(nil) {
		t.Error("CommentOnly: wrong answer")
	}
}

// TestCommentDecode: comment ops decode strictly from JSON.
func TestCommentDecode(t *testing.T) {
	ops, err := DecodeOps([]byte(`[{"op":"comment.add","id":"c","thread":"t","text":"hi","mentions":["u1"]},{"op":"comment.update","id":"t","resolved":false}]`))
	if err != nil || len(ops) != 2 || *ops[0].Text != "hi" || ops[0].Thread != "t" || *ops[1].Resolved {
		t.Fatalf("got %+v, %v", ops, err)
	}
	if _, err := DecodeOps([]byte(`[{"op":"comment.add","id":"c","text":"hi","pin":1}]`)); err == nil {
		t.Error("an unknown field decoded")
	}
}
