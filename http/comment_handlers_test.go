package skerhttp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/actors"
)

// TestComments: who may comment (members, viewers included; strangers
// see no canvas), only the author edits or deletes, anyone resolves, the
// comments are in the snapshot, and mentions count as unread in the canvas
// list until read.
func TestComments(t *testing.T) {
	h := newHubHarness(t, func(c *actors.Config) { c.CheckpointOps = 1 })
	owner := h.user("owner@example.com")
	viewer := h.user("viewer@example.com")
	stranger := h.user("stranger@example.com").AccessToken
	c := h.canvas(owner.AccessToken, "Plan")
	h.addMember(owner.AccessToken, c.ID, "viewer@example.com", "viewer")
	base := "/api/v1/canvases/" + c.ID
	ops := func(token string, ops ...map[string]any) response {
		return h.post(base+"/ops", token, map[string]any{"ops": ops})
	}
	ops(owner.AccessToken, map[string]any{"op": "node.add", "id": "n1", "kind": "note"}).decode(t, http.StatusOK, nil)

	// A viewer starts a thread mentioning the owner; the owner replies.
	ops(viewer.AccessToken, map[string]any{"op": "comment.add", "id": "t1", "node": "n1", "text": "Why this?", "mentions": []string{owner.User.ID}}).
		decode(t, http.StatusOK, nil)
	ops(owner.AccessToken, map[string]any{"op": "comment.add", "id": "r1", "thread": "t1", "text": "Because."}).decode(t, http.StatusOK, nil)

	// A viewer still cannot change cards, not even along with a comment.
	ops(viewer.AccessToken, map[string]any{"op": "comment.add", "id": "t2", "x": 1, "y": 1, "text": "x"},
		map[string]any{"op": "node.delete", "id": "n1"}).wantError(t, http.StatusForbidden, "forbidden", "")
	ops(stranger, map[string]any{"op": "comment.add", "id": "t3", "x": 1, "y": 1, "text": "x"}).wantError(t, http.StatusNotFound, "not_found", "")
	h.get(base+"/comments", stranger).wantError(t, http.StatusNotFound, "not_found", "")
	// Only the author edits or deletes; anyone who may comment resolves.
	ops(owner.AccessToken, map[string]any{"op": "comment.update", "id": "t1", "text": "mine now"}).wantError(t, http.StatusForbidden, "forbidden", "")
	ops(viewer.AccessToken, map[string]any{"op": "comment.delete", "id": "r1"}).wantError(t, http.StatusForbidden, "forbidden", "")
	ops(owner.AccessToken, map[string]any{"op": "comment.update", "id": "t1", "resolved": true}).decode(t, http.StatusOK, nil)
	ops(viewer.AccessToken, map[string]any{"op": "comment.add", "id": "t4", "x": 1, "y": 1, "text": " "}).wantError(t, http.StatusBadRequest, "invalid_op", "")

	var snap struct {
		Comments []struct {
			ID, Thread, Author, Text string
			Resolved                 bool
		}
	}
	h.get(base, viewer.AccessToken).decode(t, http.StatusOK, &snap)
	if len(snap.Comments) != 2 || snap.Comments[0].ID != "r1" || snap.Comments[1].ID != "t1" || !snap.Comments[1].Resolved ||
		snap.Comments[1].Author != viewer.User.ID || snap.Comments[1].Text != "Why this?" {
		t.Fatalf("snapshot comments: %+v", snap.Comments)
	}
	var list struct {
		Seq, Read uint64
		Comments  []struct{ ID string }
	}
	h.get(base+"/comments", viewer.AccessToken).decode(t, http.StatusOK, &list)
	if list.Seq != 4 || list.Read != 0 || len(list.Comments) != 2 {
		t.Errorf("comments: %+v; want seq 4, read 0, two comments", list)
	}

	unread := func(token string) int {
		var l struct {
			Canvases []struct {
				ID             string
				UnreadMentions int `json:"unread_mentions"`
			}
		}
		h.get("/api/v1/canvases", token).decode(t, http.StatusOK, &l)
		for _, cv := range l.Canvases {
			if cv.ID == c.ID {
				return cv.UnreadMentions
			}
		}
		t.Fatalf("canvas %s not listed", c.ID)
		return 0
	}
	// The count follows the checkpoint, which each batch starts here.
	for deadline := time.Now().Add(10 * time.Second); unread(owner.AccessToken) != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("owner's unread mentions: %d; want 1", unread(owner.AccessToken))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := unread(viewer.AccessToken); n != 0 {
		t.Errorf("viewer's unread mentions: %d; want 0 (mentioned by nobody)", n)
	}
	h.post(base+"/comments/read", owner.AccessToken, map[string]any{}).wantError(t, http.StatusBadRequest, "invalid_field", "seq")
	h.post(base+"/comments/read", owner.AccessToken, map[string]any{"seq": -1}).wantError(t, http.StatusBadRequest, "invalid_field", "seq")
	h.post(base+"/comments/read", stranger, map[string]any{"seq": 4}).wantError(t, http.StatusNotFound, "not_found", "")
	h.post(base+"/comments/read", owner.AccessToken, map[string]any{"seq": 4}).decode(t, http.StatusNoContent, nil)
	if n := unread(owner.AccessToken); n != 0 {
		t.Errorf("owner's unread mentions after reading: %d; want 0", n)
	}

	// The export carries the comments; an import of it takes the content
	// and leaves the comments behind.
	var ex map[string]json.RawMessage
	h.get(base+"/export", viewer.AccessToken).decode(t, http.StatusOK, &ex)
	if !strings.Contains(string(ex["comments"]), `"id":"t1"`) {
		t.Fatalf("export comments: %s", ex["comments"])
	}
	var imp struct{ ID string }
	h.post("/api/v1/canvases/import", viewer.AccessToken, ex).decode(t, http.StatusCreated, &imp)
	h.get("/api/v1/canvases/"+imp.ID, viewer.AccessToken).decode(t, http.StatusOK, &snap)
	if len(snap.Comments) != 0 {
		t.Errorf("imported canvas comments: %+v; want none", snap.Comments)
	}
}
