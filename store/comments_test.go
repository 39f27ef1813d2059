package store_test

import (
	"testing"

	"github.com/skerhq/sker/store"
)

// testComments: comments are checkpointed like nodes (put, replaced,
// deleted, loaded in id order), and a member's unread mentions count the
// comments of others that mention them after what they have read, on
// canvases they belong to only.
func testComments(t *testing.T, s store.Store) {
	ctx := t.Context()
	ann, bob, eve := mkUser(t, s, "ann"), mkUser(t, s, "bob"), mkUser(t, s, "eve")
	c := mkCanvas(t, s, ann.ID, 0)
	must(t, "AddMember", s.AddMember(ctx, c.ID, bob.ID, store.RoleViewer, base))
	// "_" in the LIKE pattern must not stand for any character: eve's id
	// with one character replaced by "_" mentions nobody.
	fake := eve.ID[:1] + "_" + eve.ID[2:]
	comment := func(id, thread, author string, seq uint64, mentions ...string) store.Comment {
		return store.Comment{ID: id, Thread: thread, AuthorID: author, Seq: seq, Mentions: mentions,
			Body: []byte(`{"id":"` + id + `","text":"hi"}`)}
	}
	t1 := comment("t1", "", ann.ID, 1, bob.ID, eve.ID)
	r1 := comment("r1", "t1", ann.ID, 2, bob.ID)
	own := comment("own", "", bob.ID, 2, bob.ID)
	odd := comment("odd", "", ann.ID, 2, fake)
	must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 0, Seq: 2, At: at(0),
		PutComments: []store.Comment{t1, r1, own, odd}}))
	cp := load(t, s, c.ID)
	equal(t, "comments at 2", cp.Comments, []store.Comment{odd, own, r1, t1})

	unread := func(u store.User) int {
		t.Helper()
		m, err := s.UnreadMentions(ctx, u.ID)
		must(t, "UnreadMentions", err)
		return m[c.ID]
	}
	if n := unread(bob); n != 2 {
		t.Errorf("bob's unread mentions: %d; want 2 (t1 and r1, not his own)", n)
	}
	if n := unread(eve); n != 0 {
		t.Errorf("eve's unread mentions: %d; want 0: she is not a member", n)
	}
	must(t, "MarkCommentsRead", s.MarkCommentsRead(ctx, c.ID, bob.ID, 1))
	must(t, "MarkCommentsRead lower", s.MarkCommentsRead(ctx, c.ID, bob.ID, 0))
	if seq, err := s.CommentsRead(ctx, c.ID, bob.ID); err != nil || seq != 1 {
		t.Errorf("CommentsRead: %d, %v; want 1: a lower seq changes nothing", seq, err)
	}
	if n := unread(bob); n != 1 {
		t.Errorf("bob's unread mentions after reading up to 1: %d; want 1", n)
	}

	t1b := t1
	t1b.Mentions, t1b.Body = nil, []byte(`{"id":"t1","text":"edited"}`)
	must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 2, Seq: 4, At: at(0),
		PutComments: []store.Comment{t1b}, DeleteComments: []string{"r1", "nothing"}}))
	equal(t, "comments at 4", load(t, s, c.ID).Comments, []store.Comment{odd, own, t1b})
	must(t, "MarkCommentsRead", s.MarkCommentsRead(ctx, c.ID, bob.ID, 0))
	if n := unread(bob); n != 0 {
		t.Errorf("bob's unread mentions once r1 is gone and t1 no longer mentions him: %d; want 0", n)
	}
	if seq, err := s.CommentsRead(ctx, c.ID, eve.ID); err != nil || seq != 0 {
		t.Errorf("CommentsRead of a member who read nothing: %d, %v; want 0, nil", seq, err)
	}
}
