package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// The accounts of the foundation scenario.
var (
	alice = account{"alice@example.com", "alice-password-1", "Alice"} // owner
	bob   = account{"bob@example.com", "bob-password-12", "Bob"}      // viewer
	carol = account{"carol@example.com", "carol-password", "Carol"}   // stranger
)

type account struct{ email, password, name string }

// TestFoundationSQLite runs the foundation scenario on the embedded store
// (migrated by serve itself).
func TestFoundationSQLite(t *testing.T) {
	s := NewSker(t, Options{})
	foundation(t, s)
}

// TestFoundationPostgres runs the foundation scenario on a fresh
// PostgreSQL database, migrated with `sker migrate` as an operator would.
func TestFoundationPostgres(t *testing.T) {
	url := testkit.PostgresURL(t)
	s := NewSker(t, Options{DatabaseURL: url})

	// serve does not migrate PostgreSQL: on a fresh database it must stop
	// at once and say what to do.
	res := s.RunFor(30*time.Second, "serve")
	if res.Code == 0 {
		t.Errorf("serve on an unmigrated database: exit code 0; want non-zero. stderr:\n%s", res.Stderr)
	}
	if !strings.Contains(res.Stderr, "sker migrate") {
		t.Errorf("serve on an unmigrated database: stderr\n%s\nwant a message that says to run `sker migrate`", res.Stderr)
	}
	if strings.Contains(res.Stderr, "panic:") {
		t.Errorf("serve on an unmigrated database panicked:\n%s", res.Stderr)
	}

	res = s.Run("migrate")
	if res.Code != 0 || !strings.Contains(res.Stdout, "migrate: applied") {
		t.Fatalf("sker migrate on a fresh database: code %d, stdout %q, stderr %q; want code 0 and \"migrate: applied …\" lines",
			res.Code, res.Stdout, res.Stderr)
	}
	t.Logf("sker migrate:\n%s", res.Stdout)
	res = s.Run("migrate")
	if res.Code != 0 || !strings.Contains(res.Stdout, "up to date") {
		t.Errorf("sker migrate again: code %d, stdout %q, stderr %q; want code 0 and \"the store is up to date\"",
			res.Code, res.Stdout, res.Stderr)
	}

	foundation(t, s)
}

// foundation is the scenario both stores run: accounts, a shared canvas,
// roles enforced, and everything still there after a graceful restart.
func foundation(t *testing.T, s *Sker) {
	ctx := t.Context()
	s.Start()

	// Liveness and readiness.
	anon := s.NewClient()
	var health struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	noErr(t, anon.Do(ctx, http.MethodGet, "/health", nil, &health))
	if health.Status != "ok" || health.Version != testVersion {
		t.Errorf("/health: got status %q version %q; want ok %q", health.Status, health.Version, testVersion)
	}
	checkReady(t, anon)

	// Three accounts.
	a, b, c := s.NewClient(), s.NewClient(), s.NewClient()
	for _, x := range []struct {
		cl *Client
		ac account
	}{{a, alice}, {b, bob}, {c, carol}} {
		ses, err := x.cl.Register(ctx, x.ac.email, x.ac.password, x.ac.name)
		noErr(t, err)
		if ses.User.Email != x.ac.email || ses.AccessToken == "" || ses.RefreshToken == "" {
			t.Fatalf("register %s: got %+v; want the account and both tokens", x.ac.email, ses)
		}
	}
	_, err := s.NewClient().Register(ctx, alice.email, "another-password", "Alice 2")
	wantAPIError(t, "register an email twice", err, http.StatusConflict, "email_taken")

	// A logs in (a new session), creates a canvas and shares it with B.
	a = s.NewClient()
	ses, err := a.Login(ctx, alice.email, alice.password)
	noErr(t, err)
	me, err := a.Me(ctx)
	noErr(t, err)
	if me.Email != alice.email || me.ID != ses.User.ID {
		t.Errorf("A's /me: got %+v; want %s (%s)", me, alice.email, ses.User.ID)
	}
	_, err = s.NewClient().Login(ctx, alice.email, "wrong-password")
	wantAPIError(t, "login with a wrong password", err, http.StatusUnauthorized, "unauthorized")

	cv, err := a.CreateCanvas(ctx, "Roadmap")
	noErr(t, err)
	if cv.ID == "" || cv.Title != "Roadmap" || cv.Role != "owner" {
		t.Fatalf("create canvas: got %+v; want a new id, title Roadmap, role owner", cv)
	}
	cv, err = a.RenameCanvas(ctx, cv.ID, "Roadmap 2026")
	noErr(t, err)
	if cv.Title != "Roadmap 2026" {
		t.Errorf("A renames: got title %q; want %q", cv.Title, "Roadmap 2026")
	}
	// Read your writes: the list right after the rename shows the new title.
	list, err := a.ListCanvases(ctx)
	noErr(t, err)
	if got := find(list, cv.ID); got == nil || got.Title != "Roadmap 2026" {
		t.Errorf("A's list right after the rename answered 200: %s; want %s \"Roadmap 2026\"", brief(list), cv.ID)
	}

	m, err := a.AddMember(ctx, cv.ID, bob.email, "viewer")
	noErr(t, err)
	if m.Email != bob.email || m.Role != "viewer" {
		t.Errorf("add B as viewer: got %+v; want %s viewer", m, bob.email)
	}
	_, err = b.AddMember(ctx, cv.ID, carol.email, "editor")
	wantAPIError(t, "B (viewer) adds a member", err, http.StatusForbidden, "forbidden")

	// A adds a card; B (viewer) and C (stranger) cannot.
	seq, err := a.PostOps(ctx, cv.ID, "a-1",
		Op{Op: "node.add", ID: "n1", Kind: "text", X: F(0), Y: F(0), Data: map[string]any{"text": "hi"}})
	noErr(t, err)
	_, err = b.PostOps(ctx, cv.ID, "b-1", Op{Op: "node.update", ID: "n1", Set: map[string]any{"data.text": "B was here"}})
	wantAPIError(t, "B (viewer) posts ops", err, http.StatusForbidden, "forbidden")
	_, err = c.PostOps(ctx, cv.ID, "c-1", Op{Op: "node.update", ID: "n1", Set: map[string]any{"data.text": "C was here"}})
	wantAPIError(t, "C (stranger) posts ops", err, http.StatusNotFound, "not_found")

	// What each of them sees.
	check := func(phase string) {
		t.Helper()
		// A: owner, title, both members, the card.
		list, err := a.ListCanvases(ctx)
		noErr(t, err)
		if got := find(list, cv.ID); got == nil || got.Title != "Roadmap 2026" || got.Role != "owner" {
			t.Errorf("%s: A's list %s; want %s \"Roadmap 2026\" as owner", phase, brief(list), cv.ID)
		}
		got, err := a.GetCanvas(ctx, cv.ID)
		noErr(t, err)
		if got.Title != "Roadmap 2026" || got.Role != "owner" {
			t.Errorf("%s: A gets title %q role %q; want \"Roadmap 2026\" owner", phase, got.Title, got.Role)
		}
		if got.Seq == nil || *got.Seq != seq || len(got.Nodes) != 1 || got.Nodes[0].ID != "n1" || string(got.Nodes[0].Data["text"]) != `"hi"` {
			t.Errorf("%s: A gets seq %v nodes %+v; want seq %d and node n1 with text \"hi\" (the refused ops changed nothing)",
				phase, got.Seq, got.Nodes, seq)
		}
		members, err := a.Members(ctx, cv.ID)
		noErr(t, err)
		roles := map[string]string{}
		for _, m := range members {
			roles[m.Email] = m.Role
		}
		want := map[string]string{alice.email: "owner", bob.email: "viewer"}
		if !mapsEqual(roles, want) {
			t.Errorf("%s: members %v; want %v", phase, roles, want)
		}

		// B: sees it as viewer, cannot rename it.
		list, err = b.ListCanvases(ctx)
		noErr(t, err)
		if len(list) != 1 || list[0].ID != cv.ID || list[0].Role != "viewer" || list[0].Title != "Roadmap 2026" {
			t.Errorf("%s: B's list %s; want exactly %s \"Roadmap 2026\" as viewer", phase, brief(list), cv.ID)
		}
		got, err = b.GetCanvas(ctx, cv.ID)
		noErr(t, err)
		if got.Role != "viewer" {
			t.Errorf("%s: B gets role %q; want viewer", phase, got.Role)
		}
		_, err = b.RenameCanvas(ctx, cv.ID, "Hijacked")
		wantAPIError(t, phase+": B (viewer) renames", err, http.StatusForbidden, "forbidden")

		// C: the canvas does not exist for them.
		list, err = c.ListCanvases(ctx)
		noErr(t, err)
		if len(list) != 0 {
			t.Errorf("%s: C's list %s; want none", phase, brief(list))
		}
		_, err = c.GetCanvas(ctx, cv.ID)
		wantAPIError(t, phase+": C (stranger) gets the canvas", err, http.StatusNotFound, "not_found")
		_, err = c.RenameCanvas(ctx, cv.ID, "Hijacked")
		wantAPIError(t, phase+": C (stranger) renames", err, http.StatusNotFound, "not_found")
		_, err = c.Members(ctx, cv.ID)
		wantAPIError(t, phase+": C (stranger) lists members", err, http.StatusNotFound, "not_found")

		// The failed renames changed nothing.
		got, err = a.GetCanvas(ctx, cv.ID)
		noErr(t, err)
		if got.Title != "Roadmap 2026" {
			t.Errorf("%s: after refused renames the title is %q; want \"Roadmap 2026\"", phase, got.Title)
		}
	}
	check("before restart")

	// Graceful stop, start again on the same data.
	oldToken := a.Token
	s.Stop()
	s.Start()
	checkReady(t, anon)

	// JWT_SECRET is the same, so a token from before the restart still works.
	old := &Client{s: s, Token: oldToken}
	if me, err := old.Me(ctx); err != nil || me.Email != alice.email {
		t.Errorf("A's token from before the restart: /me got %+v, %v; want %s", me, err, alice.email)
	}
	for _, x := range []struct {
		cl *Client
		ac account
	}{{a, alice}, {b, bob}, {c, carol}} {
		_, err := x.cl.Login(ctx, x.ac.email, x.ac.password)
		noErr(t, err)
	}
	check("after restart")
}

// checkReady wants /ready to be 200 with store and nats ok.
func checkReady(t *testing.T, c *Client) {
	t.Helper()
	status, checks, err := c.Ready(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || checks["store"] != "ok" || checks["nats"] != "ok" {
		t.Errorf("/ready: got %d %v; want 200 with store and nats ok", status, checks)
	}
}

// brief shows a canvas list as [id "title" (role), …].
func brief(list []Canvas) string {
	parts := make([]string, len(list))
	for i, c := range list {
		parts[i] = fmt.Sprintf("%s %q (%s)", c.ID, c.Title, c.Role)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func find(list []Canvas, id string) *Canvas {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestConfigErrors: a bad setting stops the binary at once, non-zero, with
// a message that names the setting.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"PORT not a number", []string{"serve"}, map[string]string{"PORT": "abc"}, "PORT"},
		{"PORT out of range", []string{"serve"}, map[string]string{"PORT": "70000"}, "PORT"},
		{"production without JWT_SECRET", []string{"serve"}, map[string]string{"SKER_ENV": "production", "JWT_SECRET": ""}, "JWT_SECRET"},
		{"JWT_SECRET too short", []string{"serve"}, map[string]string{"JWT_SECRET": "short"}, "JWT_SECRET"},
		{"bad DATABASE_URL", []string{"migrate"}, map[string]string{"DATABASE_URL": "mysql://localhost/x"}, "DATABASE_URL"},
		{"NATS_PREFIX not one token", []string{"serve"}, map[string]string{"NATS_PREFIX": "sker.b"}, "NATS_PREFIX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSker(t, Options{Env: tc.env})
			res := s.RunFor(30*time.Second, tc.args...)
			if res.Code == 0 {
				t.Errorf("exit code 0; want non-zero. stderr:\n%s", res.Stderr)
			}
			if !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("stderr %q; want a message naming %s", res.Stderr, tc.want)
			}
			if strings.Contains(res.Stderr, "panic:") {
				t.Errorf("panicked:\n%s", res.Stderr)
			}
		})
	}
}

// TestVersion: `sker version` prints the version stamped at build time.
func TestVersion(t *testing.T) {
	s := NewSker(t, Options{})
	res := s.Run("version")
	if want := "sker " + testVersion + "\n"; res.Code != 0 || res.Stdout != want {
		t.Errorf("sker version: code %d, stdout %q, stderr %q; want code 0, stdout %q", res.Code, res.Stdout, res.Stderr, want)
	}
}

var (
	seedUserRE   = regexp.MustCompile(`seed: demo user (\S+), password (\S+)`)
	seedCanvasRE = regexp.MustCompile(`seed: demo canvas "([^"]+)" \(([^)]+)\)`)
)

// TestSeed: `sker seed` on a fresh DATA_DIR prints the demo user and
// canvas; after serve starts, the demo user logs in with the printed
// password and sees the canvas with its cards and edges. Seeding again
// keeps the password.
func TestSeed(t *testing.T) {
	ctx := t.Context()
	s := NewSker(t, Options{})
	res := s.Run("seed")
	t.Logf("sker seed:\n%s", res.Stdout)
	if res.Code != 0 {
		t.Fatalf("sker seed: code %d, stdout %q, stderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	um, cm := seedUserRE.FindStringSubmatch(res.Stdout), seedCanvasRE.FindStringSubmatch(res.Stdout)
	if um == nil || cm == nil {
		t.Fatalf("sker seed: stdout %q; want lines %q and %q", res.Stdout, seedUserRE, seedCanvasRE)
	}
	email, password, title, id := um[1], um[2], cm[1], cm[2]

	s.Start()
	demo := s.NewClient()
	if _, err := demo.Login(ctx, email, password); err != nil {
		t.Fatal(err)
	}
	checkSeeded(t, demo, id, title)

	// Seeding again: a second canvas, the same password.
	s.Stop()
	res = s.Run("seed")
	if res.Code != 0 || !strings.Contains(res.Stdout, "password is unchanged") || seedUserRE.MatchString(res.Stdout) {
		t.Errorf("sker seed again: code %d, stdout %q, stderr %q; want code 0, the user kept with its password unchanged",
			res.Code, res.Stdout, res.Stderr)
	}
	s.Start()
	if _, err := demo.Login(ctx, email, password); err != nil {
		t.Fatal(err)
	}
	list, err := demo.ListCanvases(ctx)
	noErr(t, err)
	if len(list) != 2 {
		t.Errorf("after seeding twice the demo user has %d canvases; want 2", len(list))
	}
	checkSeeded(t, demo, id, title)
}

func checkSeeded(t *testing.T, demo *Client, id, title string) {
	t.Helper()
	ctx := t.Context()
	list, err := demo.ListCanvases(ctx)
	noErr(t, err)
	if got := find(list, id); got == nil || got.Title != title || got.Role != "owner" {
		t.Errorf("demo user's canvases %s; want %s %q as owner", brief(list), id, title)
	}
	cv, err := demo.GetCanvas(ctx, id)
	noErr(t, err)
	var nodes, edges []string
	for _, n := range cv.Nodes {
		nodes = append(nodes, n.ID)
		var text string
		if err := json.Unmarshal(n.Data["text"], &text); err != nil || text == "" {
			t.Errorf("seeded node %s: data %v; want a text", n.ID, n.Data)
		}
	}
	for _, e := range cv.Edges {
		edges = append(edges, e.Source+"->"+e.Target)
	}
	slices.Sort(nodes)
	slices.Sort(edges)
	if want := []string{"ask", "idea", "welcome"}; !slices.Equal(nodes, want) {
		t.Errorf("seeded canvas nodes %v; want %v", nodes, want)
	}
	if want := []string{"idea->ask", "welcome->ask"}; !slices.Equal(edges, want) {
		t.Errorf("seeded canvas edges %v; want %v", edges, want)
	}
	if cv.Seq == nil || *cv.Seq < 1 {
		t.Errorf("seeded canvas seq %v; want at least 1", cv.Seq)
	}
}
