package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

func testVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "vera")
	c := store.Canvas{ID: newID("c"), Title: "Plan", CreatedBy: u.ID, CreatedAt: base, UpdatedAt: base}
	must(t, "CreateCanvas", s.CreateCanvas(ctx, c, u.ID))
	vs := []store.Version{
		{CanvasID: c.ID, Seq: 0, Kind: store.VersionAuto, CreatedAt: base, State: []byte(`{"seq":0}`)},
		{CanvasID: c.ID, Seq: 5, Kind: store.VersionAuto, CreatedAt: base.Add(time.Minute), Authors: []string{"a", "b"}, State: []byte(`{"seq":5}`)},
		{CanvasID: c.ID, Seq: 5, Kind: store.VersionNamed, Name: "Draft", CreatedBy: u.ID, CreatedAt: base.Add(2 * time.Minute), State: []byte(`{"seq":5}`)},
		{CanvasID: c.ID, Seq: 9, Kind: store.VersionAI, CreatedAt: base.Add(3 * time.Minute), State: []byte(`{"seq":9}`)},
	}
	for _, v := range vs {
		must(t, fmt.Sprintf("SaveVersion %d %s", v.Seq, v.Kind), s.SaveVersion(ctx, v))
	}
	isErr(t, "SaveVersion twice", s.SaveVersion(ctx, vs[1]), store.ErrConflict)
	isErr(t, "SaveVersion of an unknown canvas", s.SaveVersion(ctx, store.Version{CanvasID: newID("none"), Kind: store.VersionAuto, CreatedAt: base, State: []byte("{}")}), store.ErrNotFound)

	list, err := s.ListVersions(ctx, c.ID)
	must(t, "ListVersions", err)
	got := ""
	for _, v := range list {
		got += fmt.Sprintf("%d/%s/%s/%v/%d/%v;", v.Seq, v.Kind, v.Name, v.Authors, v.CreatedAt.Sub(base).Round(time.Second)/time.Minute, v.State == nil)
	}
	want := "0/auto//[]/0/true;5/auto//[a b]/1/true;5/named/Draft/[]/2/true;9/ai//[]/3/true;"
	if got != want {
		t.Errorf("ListVersions: got %s; want %s", got, want)
	}
	for _, tt := range []struct {
		seq  uint64
		want string
	}{{0, `{"seq":0}`}, {4, `{"seq":0}`}, {5, `{"seq":5}`}, {8, `{"seq":5}`}, {100, `{"seq":9}`}} {
		v, err := s.VersionAtOrBefore(ctx, c.ID, tt.seq)
		if err != nil || string(v.State) != tt.want {
			t.Errorf("VersionAtOrBefore %d: got %s, %v; want %s", tt.seq, v.State, err, tt.want)
		}
	}
	other := store.Canvas{ID: newID("c"), Title: "Other", CreatedBy: u.ID, CreatedAt: base, UpdatedAt: base}
	must(t, "CreateCanvas other", s.CreateCanvas(ctx, other, u.ID))
	if _, err := s.VersionAtOrBefore(ctx, other.ID, 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VersionAtOrBefore of a canvas with none: got %v; want ErrNotFound", err)
	}
	ids, err := s.VersionCanvases(ctx, base.Add(30*time.Second))
	must(t, "VersionCanvases", err)
	if fmt.Sprint(ids) != fmt.Sprint([]string{c.ID}) {
		t.Errorf("VersionCanvases: got %v; want [%s]", ids, c.ID)
	}
	n, err := s.DeleteVersions(ctx, c.ID, []uint64{5, 9}, store.VersionAuto)
	if err != nil || n != 1 {
		t.Errorf("DeleteVersions: got %d, %v; want 1, nil", n, err)
	}
	list, _ = s.ListVersions(ctx, c.ID)
	if len(list) != 3 {
		t.Errorf("after DeleteVersions: got %d versions; want 3", len(list))
	}
	must(t, "DeleteCanvas", s.DeleteCanvas(ctx, c.ID))
	list, _ = s.ListVersions(ctx, c.ID)
	if len(list) != 0 {
		t.Errorf("after DeleteCanvas: got %d versions; want 0", len(list))
	}
}
