package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestVersionSweep runs the real binary with VERSION_RETENTION=1h and a
// sweep every second, on both stores: versions kept two hours ago are
// deleted by the running server, the version kept now stays, and the
// canvas still answers at every seq.
func TestVersionSweep(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { versionSweep(t, "") })
	t.Run("postgres", func(t *testing.T) { versionSweep(t, testkit.PostgresURL(t)) })
}

// timelinePoint is one entry of GET /api/v1/canvases/:id/versions.
type timelinePoint struct {
	Seq  uint64    `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	Name string    `json:"name"`
}

func versionSweep(t *testing.T, dbURL string) {
	s := NewSker(t, Options{DatabaseURL: dbURL, Env: map[string]string{"VERSION_RETENTION": "1h", "VERSION_SWEEP_INTERVAL": "1s"}})
	if dbURL != "" {
		if res := s.Run("migrate"); res.Code != 0 {
			t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
		}
	}
	s.Start()
	ctx := t.Context()
	owner := s.NewClient()
	_, err := owner.Register(ctx, "owner@example.com", "correct horse battery", "Owner")
	noErr(t, err)
	cv, err := owner.CreateCanvas(ctx, "Swept history")
	noErr(t, err)
	base := "/api/v1/canvases/" + cv.ID
	name := func(n string) {
		t.Helper()
		noErr(t, owner.Do(ctx, http.MethodPost, base+"/versions", map[string]string{"name": n}, nil))
	}
	for i := range 3 {
		_, err := owner.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: fmt.Sprintf("n%d", i), Kind: "note", X: F(0), Y: F(0)})
		noErr(t, err)
		switch i {
		case 0:
			name("old one") // seq 1
		case 1:
			name("old two") // seq 2
		case 2:
			name("fresh") // seq 3
		}
	}
	s.Stop()

	// The first two as if kept two hours ago: the server's own states,
	// saved again with an older time.
	ageVersions(t, dbURL, filepath.Join(s.DataDir, "sker.db"), cv.ID, time.Now().Add(-2*time.Hour), "old one", "old two")
	s.Start()

	timeline := func() []timelinePoint {
		t.Helper()
		var tl struct{ Versions []timelinePoint }
		noErr(t, owner.Do(ctx, http.MethodGet, base+"/versions", nil, &tl))
		return tl.Versions
	}
	names := func(tl []timelinePoint) string {
		var out []string
		for _, p := range tl {
			if p.Name != "" {
				out = append(out, fmt.Sprintf("%d %s", p.Seq, p.Name))
			}
		}
		return strings.Join(out, ", ")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := names(timeline())
		if got == "3 fresh" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("named versions 30s after start: got %q; want %q (the two kept two hours ago deleted)", got, "3 fresh")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Several sweeps later the fresh version is still kept, nothing
	// older than the retention is, and every seq still rebuilds.
	time.Sleep(3 * time.Second)
	tl := timeline()
	if got := names(tl); got != "3 fresh" {
		t.Errorf("named versions after several sweeps: got %q; want %q", got, "3 fresh")
	}
	for _, p := range tl {
		if time.Since(p.At) > time.Hour {
			t.Errorf("version %d %s kept at %v: older than VERSION_RETENTION and not deleted", p.Seq, p.Kind, p.At)
		}
	}
	for seq := range 4 {
		var at Canvas
		noErr(t, owner.Do(ctx, http.MethodGet, fmt.Sprintf("%s/versions/%d", base, seq), nil, &at))
		if len(at.Nodes) != seq {
			t.Errorf("versions/%d after the sweep: got %d cards; want %d", seq, len(at.Nodes), seq)
		}
	}
	if !s.LogContains(`"msg":"version sweep"`) {
		t.Errorf("the log does not say what the version sweep deleted")
	}
	s.Stop()
}

// ageVersions saves the named versions of the canvas again with the time
// at, on the store the stopped server used.
func ageVersions(t *testing.T, dbURL, sqlitePath, canvasID string, at time.Time, named ...string) {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if dbURL != "" {
		st, err = store.OpenPostgres(ctx, dbURL, "")
	} else {
		st, err = store.OpenSQLite(ctx, sqlitePath)
	}
	if err != nil {
		t.Fatalf("open the server's store: %v", err)
	}
	defer st.Close()
	vs, err := st.ListVersions(ctx, canvasID)
	noErr(t, err)
	aged := 0
	for _, v := range vs {
		if v.Kind != store.VersionNamed || !slices.Contains(named, v.Name) {
			continue
		}
		full, err := st.VersionAtOrBefore(ctx, canvasID, v.Seq)
		noErr(t, err)
		if full.Seq != v.Seq || full.Name != v.Name {
			t.Fatalf("version at or before %d: got %d %q; want %d %q", v.Seq, full.Seq, full.Name, v.Seq, v.Name)
		}
		if _, err := st.DeleteVersions(ctx, canvasID, []uint64{v.Seq}, v.Kind); err != nil {
			t.Fatal(err)
		}
		full.CreatedAt = at.UTC()
		noErr(t, st.SaveVersion(ctx, full))
		aged++
	}
	if aged != len(named) {
		t.Fatalf("versions %q: aged %d of %d; the timeline holds %+v", named, aged, len(named), vs)
	}
}
