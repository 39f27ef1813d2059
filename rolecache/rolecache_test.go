package rolecache

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/skerhq/sker/store"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a store with a canvas of ann's that bob is a viewer of.
func fixture(t *testing.T) (store.Store, string, string, string) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for _, u := range []store.User{{ID: "ann", Email: "ann@example.com", Name: "Ann", PasswordHash: "x", CreatedAt: now},
		{ID: "bob", Email: "bob@example.com", Name: "Bob", PasswordHash: "x", CreatedAt: now}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateCanvas(ctx, store.Canvas{ID: "c1", Title: "Plan", CreatedBy: "ann", CreatedAt: now, UpdatedAt: now}, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember(ctx, "c1", "bob", store.RoleViewer, now); err != nil {
		t.Fatal(err)
	}
	return st, "c1", "ann", "bob"
}

func wantRole(t *testing.T, c *Cache, canvasID, userID string, want store.Role, wantErr error) {
	t.Helper()
	got, err := c.Role(t.Context(), canvasID, userID)
	if got != want || !errors.Is(err, wantErr) {
		t.Fatalf("Role(%s, %s) = %q, %v; want %q, %v", canvasID, userID, got, err, want, wantErr)
	}
}

// TestCache: answers come from memory after the first; the cache's own
// member changes and Invalidate (another node's) are seen at once; a
// deleted canvas forgets every role; the lookups are counted.
func TestCache(t *testing.T) {
	st, cv, ann, bob := fixture(t)
	reg := prometheus.NewRegistry()
	c := New(st, Config{Registerer: reg})
	ctx := t.Context()

	wantRole(t, c, cv, bob, store.RoleViewer, nil)
	wantRole(t, c, cv, bob, store.RoleViewer, nil)
	wantRole(t, c, cv, "cy", "", store.ErrNotFound)
	wantRole(t, c, cv, "cy", "", store.ErrNotFound) // not a member: kept too

	if err := c.SetMemberRole(ctx, cv, bob, store.RoleEditor); err != nil {
		t.Fatal(err)
	}
	wantRole(t, c, cv, bob, store.RoleEditor, nil)

	// Another node changes the role behind this one's back: the cache
	// answers the old role until the event's Invalidate.
	if err := st.SetMemberRole(ctx, cv, bob, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	wantRole(t, c, cv, bob, store.RoleEditor, nil)
	c.Invalidate(cv, bob)
	wantRole(t, c, cv, bob, store.RoleViewer, nil)

	if err := c.RemoveMember(ctx, cv, bob); err != nil {
		t.Fatal(err)
	}
	wantRole(t, c, cv, bob, "", store.ErrNotFound)
	if err := c.AddMember(ctx, cv, bob, store.RoleEditor, now); err != nil {
		t.Fatal(err)
	}
	wantRole(t, c, cv, bob, store.RoleEditor, nil)

	wantRole(t, c, cv, ann, store.RoleOwner, nil)
	if err := c.DeleteCanvas(ctx, cv); err != nil {
		t.Fatal(err)
	}
	wantRole(t, c, cv, ann, "", store.ErrNotFound)
	wantRole(t, c, cv, bob, "", store.ErrNotFound)

	hits := testutil.ToFloat64(c.hits)
	misses := testutil.ToFloat64(c.misses)
	if hits != 3 || misses != 9 {
		t.Fatalf("hits %v, misses %v; want 3 and 9", hits, misses)
	}
}

// racing is a store whose Role read lets a change and its invalidation in
// before it returns the old answer.
type racing struct {
	store.Store
	during func()
}

func (r *racing) Role(ctx context.Context, canvasID, userID string) (store.Role, error) {
	role, err := r.Store.Role(ctx, canvasID, userID)
	if r.during != nil {
		f := r.during
		r.during = nil
		f()
	}
	return role, err
}

// TestCacheKeepsNoAnswerReadAcrossAChange: an answer read while the role
// changed is returned but not kept, so the next lookup sees the change.
func TestCacheKeepsNoAnswerReadAcrossAChange(t *testing.T) {
	st, cv, _, bob := fixture(t)
	r := &racing{Store: st}
	c := New(r, Config{})
	r.during = func() {
		if err := st.SetMemberRole(t.Context(), cv, bob, store.RoleEditor); err != nil {
			t.Error(err)
		}
		c.Invalidate(cv, bob)
	}
	wantRole(t, c, cv, bob, store.RoleViewer, nil) // read before the change
	wantRole(t, c, cv, bob, store.RoleEditor, nil)
}

// TestCacheExpires: an answer is trusted for the TTL only.
func TestCacheExpires(t *testing.T) {
	st, cv, _, bob := fixture(t)
	c := New(st, Config{TTL: 100 * time.Millisecond})
	wantRole(t, c, cv, bob, store.RoleViewer, nil)
	if err := st.SetMemberRole(t.Context(), cv, bob, store.RoleEditor); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	wantRole(t, c, cv, bob, store.RoleEditor, nil)
}
