package canvas

import (
	"math"
	"slices"
	"strings"

	"github.com/skerhq/sker/apierr"
)

// Bounds of comments.
const (
	MaxComments     = 10_000 // comments per canvas, replies included
	MaxCommentBytes = 10_000 // bytes of one comment's text
	MaxMentions     = 20     // members mentioned by one comment
)

// Comment is one comment of a thread. A thread is its first comment
// (Thread empty), anchored to a card (Node), to a point (X, Y) or to both
// (a point near the card, where the card is gone), and the replies that
// name it in Thread. Like *Node, never modified in place.
type Comment struct {
	ID       string   `json:"id"`
	Thread   string   `json:"thread,omitempty"`
	Node     string   `json:"node,omitempty"`
	X        float64  `json:"x"`
	Y        float64  `json:"y"`
	Text     string   `json:"text"`
	Mentions []string `json:"mentions,omitempty"`
	// Resolved is set on a thread's first comment only.
	Resolved  bool   `json:"resolved,omitempty"`
	Author    string `json:"author"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
	// Seq is the seq of the batch that added the comment: who has read up
	// to a seq has seen it.
	Seq uint64 `json:"seq"`
}

// CommentOnly reports whether every op of ops is a comment op: a batch a
// viewer may send. Any other op needs an editor.
func CommentOnly(ops []Op) bool {
	for i := range ops {
		switch ops[i].Op {
		case OpCommentAdd, OpCommentUpdate, OpCommentDelete:
		default:
			return false
		}
	}
	return len(ops) > 0
}

// PutComment sets a comment as loaded from a checkpoint, without
// validation.
func (s *State) PutComment(c *Comment) { s.Comments[c.ID] = c }

// setComment replaces or (with c nil) removes the comment id.
func (s *State) setComment(id string, c *Comment) {
	if c == nil {
		delete(s.Comments, id)
		return
	}
	s.Comments[id] = c
}

func (u *Undo) saveComment(s *State, id string) {
	if u.comments == nil {
		u.comments = map[string]*Comment{}
	}
	if _, ok := u.comments[id]; !ok {
		u.comments[id] = s.Comments[id]
	}
}

// PrevComment is PrevNode for comments.
func (u *Undo) PrevComment(id string) (c *Comment, touched bool) {
	c, touched = u.comments[id]
	return c, touched
}

// CommentIDs lists the comment ids the batch touched.
func (u *Undo) CommentIDs() []string { return keys(u.comments) }

func (s *State) commentAdd(i int, op *Op, b Batch, u *Undo) error {
	if err := checkID(i, op.ID); err != nil {
		return err
	}
	if err := onlyFields(i, op, fID|fX|fY|fThread|fNode|fText|fMentions); err != nil {
		return err
	}
	if s.Comments[op.ID] != nil {
		return opErr(i, apierr.CodeDuplicateID, "comment %q already exists", op.ID)
	}
	if len(s.Comments) >= MaxComments {
		return opErr(i, apierr.CodeCanvasFull, "the canvas holds its maximum of %d comments", MaxComments)
	}
	if op.Text == nil {
		return opErr(i, apierr.CodeInvalidOp, "comment.add needs a text")
	}
	c := &Comment{ID: op.ID, Author: b.Author, CreatedAt: b.At, UpdatedAt: b.At, Seq: s.Seq + 1}
	if op.Thread != "" {
		if op.Node != "" || op.X != nil || op.Y != nil {
			return opErr(i, apierr.CodeInvalidOp, "a reply takes its thread's place: no node, x or y")
		}
		t := s.Comments[op.Thread]
		switch {
		case t == nil:
			return opErr(i, apierr.CodeUnknownID, "no comment %q to reply to", op.Thread)
		case t.Thread != "":
			return opErr(i, apierr.CodeInvalidOp, "comment %q is a reply: reply to its thread %q", op.Thread, t.Thread)
		}
		c.Thread = op.Thread
	} else {
		if op.Node == "" && (op.X == nil || op.Y == nil) {
			return opErr(i, apierr.CodeInvalidOp, "a new thread needs a node, or x and y")
		}
		if op.Node != "" && s.Nodes[op.Node] == nil {
			return opErr(i, apierr.CodeMissingNode, "no node %q to comment on", op.Node)
		}
		c.Node = op.Node
		for _, f := range []struct {
			name string
			v    *float64
			dst  *float64
		}{{"x", op.X, &c.X}, {"y", op.Y, &c.Y}} {
			if f.v == nil {
				continue
			}
			if v := *f.v; math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxCoord {
				return opErr(i, apierr.CodeInvalidNumber, "%s must be finite and within ±%g", f.name, float64(MaxCoord))
			}
			*f.dst = PositiveZero(*f.v)
		}
	}
	if err := setCommentText(i, c, *op.Text, op.Mentions); err != nil {
		return err
	}
	u.saveComment(s, c.ID)
	s.setComment(c.ID, c)
	return nil
}

func (s *State) commentUpdate(i int, op *Op, b Batch, u *Undo) error {
	if err := onlyFields(i, op, fID|fText|fMentions|fResolved); err != nil {
		return err
	}
	old := s.Comments[op.ID]
	if old == nil {
		return opErr(i, apierr.CodeUnknownID, "no comment %q", op.ID)
	}
	if op.Text == nil && op.Mentions == nil && op.Resolved == nil {
		return opErr(i, apierr.CodeInvalidOp, "comment.update needs text, mentions or resolved")
	}
	c := *old
	if op.Text != nil || op.Mentions != nil {
		if old.Author != b.Author {
			return opErr(i, apierr.CodeForbidden, "comment %q is another member's: only its author edits it", op.ID)
		}
		text, mentions := old.Text, old.Mentions
		if op.Text != nil {
			text = *op.Text
		}
		if op.Mentions != nil {
			mentions = op.Mentions
		}
		if err := setCommentText(i, &c, text, mentions); err != nil {
			return err
		}
		c.UpdatedAt = b.At
	}
	if op.Resolved != nil {
		if old.Thread != "" {
			return opErr(i, apierr.CodeInvalidOp, "comment %q is a reply: resolve its thread %q", op.ID, old.Thread)
		}
		c.Resolved = *op.Resolved
	}
	u.saveComment(s, c.ID)
	s.setComment(c.ID, &c)
	return nil
}

func (s *State) commentDelete(i int, op *Op, b Batch, u *Undo) error {
	if err := onlyFields(i, op, fID); err != nil {
		return err
	}
	c := s.Comments[op.ID]
	switch {
	case c == nil:
		return opErr(i, apierr.CodeUnknownID, "no comment %q", op.ID)
	case c.Author != b.Author:
		return opErr(i, apierr.CodeForbidden, "comment %q is another member's: only its author deletes it", op.ID)
	}
	if c.Thread == "" {
		// Its replies go with it, whoever wrote them: a thread is one
		// conversation. Sorted, so that the undo is the same on replay.
		var replies []string
		for id, r := range s.Comments {
			if r.Thread == c.ID {
				replies = append(replies, id)
			}
		}
		slices.Sort(replies)
		for _, id := range replies {
			u.saveComment(s, id)
			s.setComment(id, nil)
		}
	}
	u.saveComment(s, c.ID)
	s.setComment(c.ID, nil)
	return nil
}

// setCommentText checks and sets a comment's text and mentions. Mentions
// are user ids, each once, in the order given.
func setCommentText(i int, c *Comment, text string, mentions []string) error {
	if strings.TrimSpace(text) == "" {
		return opErr(i, apierr.CodeInvalidOp, "a comment's text must not be empty")
	}
	if len(text) > MaxCommentBytes {
		return opErr(i, apierr.CodeDataTooLarge, "comment text is %d bytes; at most %d", len(text), MaxCommentBytes)
	}
	if len(mentions) > MaxMentions {
		return opErr(i, apierr.CodeInvalidOp, "%d mentions; at most %d", len(mentions), MaxMentions)
	}
	for k, m := range mentions {
		if err := checkID(i, m); err != nil {
			return opErr(i, apierr.CodeInvalidOp, "mentions[%d]: not a user id: %q", k, m)
		}
		if slices.Contains(mentions[:k], m) {
			return opErr(i, apierr.CodeInvalidOp, "mentions[%d]: %q is mentioned twice", k, m)
		}
	}
	c.Text = text
	c.Mentions = nil
	if len(mentions) > 0 {
		c.Mentions = slices.Clone(mentions)
	}
	return nil
}
