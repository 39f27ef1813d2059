package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

func testCanvases(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "cara")
	c := store.Canvas{ID: newID("c"), Title: "Plan", CreatedBy: u.ID, CreatedAt: base, UpdatedAt: base.Add(time.Second)}
	must(t, "CreateCanvas", s.CreateCanvas(ctx, c, u.ID))
	want := c
	want.Settings, want.CreatedAt, want.UpdatedAt = json.RawMessage("{}"), at(0), at(time.Second)

	got, err := s.Canvas(ctx, c.ID)
	isErr(t, "Canvas", err, nil)
	equal(t, "Canvas created without settings", got, want)
	role, err := s.Role(ctx, c.ID, u.ID)
	isErr(t, "Role of the creator", err, nil)
	equal(t, "Role of the creator", role, store.RoleOwner)

	isErr(t, "CreateCanvas with a taken id", s.CreateCanvas(ctx, c, u.ID), store.ErrConflict)
	orphan := store.Canvas{ID: newID("c"), Title: "Orphan", CreatedBy: u.ID, CreatedAt: base, UpdatedAt: base}
	isErr(t, "CreateCanvas with an unknown owner", s.CreateCanvas(ctx, orphan, newID("nobody")), store.ErrNotFound)
	_, err = s.Canvas(ctx, orphan.ID)
	isErr(t, "Canvas whose creation failed", err, store.ErrNotFound)

	settings := json.RawMessage(`{"theme": "dark",  "grid": [1, 2]}`)
	must(t, "UpdateCanvasMeta", s.UpdateCanvasMeta(ctx, c.ID, "Plan B", settings, base.Add(time.Hour)))
	want.Title, want.Settings, want.UpdatedAt = "Plan B", settings, at(time.Hour)
	got, err = s.Canvas(ctx, c.ID)
	isErr(t, "Canvas after UpdateCanvasMeta", err, nil)
	equal(t, "Canvas after UpdateCanvasMeta (settings byte for byte)", got, want)

	missing := newID("c")
	isErr(t, "UpdateCanvasMeta of an unknown canvas", s.UpdateCanvasMeta(ctx, missing, "x", nil, base), store.ErrNotFound)
	_, err = s.Canvas(ctx, missing)
	isErr(t, "Canvas of an unknown id", err, store.ErrNotFound)
	_, err = s.Role(ctx, c.ID, newID("nobody"))
	isErr(t, "Role of a non-member", err, store.ErrNotFound)
	isErr(t, "DeleteCanvas of an unknown canvas", s.DeleteCanvas(ctx, missing), store.ErrNotFound)
}

func testListCanvases(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := mkUser(t, s, "lisa"), mkUser(t, s, "olaf")
	old := mkCanvas(t, s, u.ID, time.Minute)
	newest := mkCanvas(t, s, u.ID, 3*time.Minute)
	shared := mkCanvas(t, s, other.ID, 2*time.Minute)
	mkCanvas(t, s, other.ID, 4*time.Minute) // not u's
	must(t, "AddMember", s.AddMember(ctx, shared.ID, u.ID, store.RoleEditor, base))

	entry := func(c store.Canvas, r store.Role) store.CanvasEntry { return store.CanvasEntry{Canvas: c, Role: r} }
	list, err := s.ListCanvases(ctx, u.ID)
	isErr(t, "ListCanvases", err, nil)
	equal(t, "ListCanvases, most recently updated first", list, []store.CanvasEntry{
		entry(newest, store.RoleOwner), entry(shared, store.RoleEditor), entry(old, store.RoleOwner)})

	must(t, "UpdateCanvasMeta", s.UpdateCanvasMeta(ctx, old.ID, "Old", old.Settings, base.Add(time.Hour)))
	list, err = s.ListCanvases(ctx, u.ID)
	isErr(t, "ListCanvases after an update", err, nil)
	if len(list) != 3 || list[0].ID != old.ID {
		t.Errorf("ListCanvases after updating %s: got %+v; want it first of 3", old.ID, list)
	}

	list, err = s.ListCanvases(ctx, newID("nobody"))
	isErr(t, "ListCanvases of a user with none", err, nil)
	equal(t, "ListCanvases of a user with none", list, []store.CanvasEntry{})
}

func testDeleteCanvasCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, guest := mkUser(t, s, "dora"), mkUser(t, s, "gus")
	c := mkCanvas(t, s, u.ID, 0)
	must(t, "AddMember", s.AddMember(ctx, c.ID, guest.ID, store.RoleViewer, base))
	must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, Seq: 7, At: base,
		PutNodes: []store.Node{node("n1", 0), node("n2", 0)},
		PutEdges: []store.Edge{edge("e1", "n1", "n2")},
	}))

	must(t, "DeleteCanvas", s.DeleteCanvas(ctx, c.ID))
	_, err := s.Canvas(ctx, c.ID)
	isErr(t, "Canvas after DeleteCanvas", err, store.ErrNotFound)
	_, err = s.LoadCheckpoint(ctx, c.ID)
	isErr(t, "LoadCheckpoint after DeleteCanvas", err, store.ErrNotFound)
	for _, user := range []string{u.ID, guest.ID} {
		_, err = s.Role(ctx, c.ID, user)
		isErr(t, "Role after DeleteCanvas", err, store.ErrNotFound)
		list, err := s.ListCanvases(ctx, user)
		isErr(t, "ListCanvases after DeleteCanvas", err, nil)
		equal(t, "ListCanvases after DeleteCanvas", list, []store.CanvasEntry{})
	}

	// A canvas made again with the same id starts empty: the nodes, edges,
	// checkpoint and members went with the first one.
	must(t, "CreateCanvas again", s.CreateCanvas(ctx, c, u.ID))
	cp, err := s.LoadCheckpoint(ctx, c.ID)
	isErr(t, "LoadCheckpoint of the new canvas", err, nil)
	equal(t, "checkpoint of the new canvas", cp, store.Checkpoint{CanvasID: c.ID, Nodes: []store.Node{}, Edges: []store.Edge{}, Comments: []store.Comment{}})
	members, err := s.Members(ctx, c.ID)
	isErr(t, "Members of the new canvas", err, nil)
	if len(members) != 1 || members[0].UserID != u.ID {
		t.Errorf("Members of the new canvas: got %+v; want the owner only", members)
	}
}

func testMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Emails order amy < Bob < zed case-insensitively, but the owner
	// comes first.
	zed, amy, bob := mkUser(t, s, "zed"), mkUser(t, s, "amy"), mkUser(t, s, "Bob")
	c := mkCanvas(t, s, zed.ID, 0)
	must(t, "AddMember viewer", s.AddMember(ctx, c.ID, bob.ID, store.RoleViewer, base.Add(time.Second)))
	must(t, "AddMember editor", s.AddMember(ctx, c.ID, amy.ID, store.RoleEditor, base.Add(2*time.Second)))

	member := func(u store.User, r store.Role, joined time.Duration) store.Member {
		return store.Member{CanvasID: c.ID, UserID: u.ID, Email: u.Email, Name: u.Name, Role: r, CreatedAt: at(joined)}
	}
	list, err := s.Members(ctx, c.ID)
	isErr(t, "Members", err, nil)
	equal(t, "Members, owners first, then by email", list, []store.Member{
		member(zed, store.RoleOwner, 0), member(amy, store.RoleEditor, 2*time.Second), member(bob, store.RoleViewer, time.Second)})

	for _, tt := range []struct {
		name   string
		canvas string
		user   string
		role   store.Role
		want   error
	}{
		{"an existing member", c.ID, amy.ID, store.RoleViewer, store.ErrConflict},
		{"to an unknown canvas", newID("c"), amy.ID, store.RoleViewer, store.ErrNotFound},
		{"an unknown user", c.ID, newID("nobody"), store.RoleViewer, store.ErrNotFound},
	} {
		isErr(t, "AddMember of "+tt.name, s.AddMember(ctx, tt.canvas, tt.user, tt.role, base), tt.want)
	}
	if err := s.AddMember(ctx, c.ID, mkUser(t, s, "x").ID, "admin", base); err == nil {
		t.Errorf("AddMember with role admin: got nil; want an error")
	}

	must(t, "SetMemberRole", s.SetMemberRole(ctx, c.ID, bob.ID, store.RoleEditor))
	role, err := s.Role(ctx, c.ID, bob.ID)
	isErr(t, "Role after SetMemberRole", err, nil)
	equal(t, "Role after SetMemberRole", role, store.RoleEditor)
	isErr(t, "SetMemberRole of a non-member", s.SetMemberRole(ctx, c.ID, newID("nobody"), store.RoleEditor), store.ErrNotFound)
	isErr(t, "RemoveMember of a non-member", s.RemoveMember(ctx, c.ID, newID("nobody")), store.ErrNotFound)

	must(t, "RemoveMember", s.RemoveMember(ctx, c.ID, bob.ID))
	_, err = s.Role(ctx, c.ID, bob.ID)
	isErr(t, "Role after RemoveMember", err, store.ErrNotFound)

	list, err = s.Members(ctx, newID("c"))
	isErr(t, "Members of an unknown canvas", err, nil)
	equal(t, "Members of an unknown canvas", list, []store.Member{})
}

func testLastOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	ann, ben := mkUser(t, s, "ann"), mkUser(t, s, "ben")
	c := mkCanvas(t, s, ann.ID, 0)

	isErr(t, "demoting the last owner", s.SetMemberRole(ctx, c.ID, ann.ID, store.RoleEditor), store.ErrLastOwner)
	isErr(t, "removing the last owner", s.RemoveMember(ctx, c.ID, ann.ID), store.ErrLastOwner)
	isErr(t, "the last owner staying owner", s.SetMemberRole(ctx, c.ID, ann.ID, store.RoleOwner), nil)
	role, _ := s.Role(ctx, c.ID, ann.ID)
	equal(t, "Role of the last owner after refusals", role, store.RoleOwner)

	must(t, "AddMember", s.AddMember(ctx, c.ID, ben.ID, store.RoleViewer, base))
	isErr(t, "promoting a viewer", s.SetMemberRole(ctx, c.ID, ben.ID, store.RoleOwner), nil)
	isErr(t, "removing one of two owners", s.RemoveMember(ctx, c.ID, ann.ID), nil)
	isErr(t, "demoting the owner left", s.SetMemberRole(ctx, c.ID, ben.ID, store.RoleViewer), store.ErrLastOwner)
}

// testLastOwnerRace has two owners demote (or remove) each other at once:
// one must win and the other get ErrLastOwner.
func testLastOwnerRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	ann, ben := mkUser(t, s, "ann"), mkUser(t, s, "ben")
	for round := range 10 {
		c := mkCanvas(t, s, ann.ID, 0)
		must(t, "AddMember", s.AddMember(ctx, c.ID, ben.ID, store.RoleOwner, base))
		change := func(user string) error { return s.SetMemberRole(ctx, c.ID, user, store.RoleEditor) }
		if round%2 == 1 {
			change = func(user string) error { return s.RemoveMember(ctx, c.ID, user) }
		}
		users := []string{ann.ID, ben.ID}
		errs := together(2, func(i int) error { return change(users[i]) })

		lost := 0
		for _, err := range errs {
			if errors.Is(err, store.ErrLastOwner) {
				lost++
			} else if err != nil {
				t.Errorf("round %d: got error %v; want nil or ErrLastOwner", round, err)
			}
		}
		if lost != 1 {
			t.Errorf("round %d: got %d ErrLastOwner (errors %v); want 1", round, lost, errs)
		}
		members, err := s.Members(ctx, c.ID)
		isErr(t, "Members", err, nil)
		if len(members) == 0 || members[0].Role != store.RoleOwner {
			t.Errorf("round %d: members %+v; want an owner left", round, members)
		}
	}
}
