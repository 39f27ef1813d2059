package skerhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/auth"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/textcheck"
)

// storeNode is a harness on a chosen store whose hub and server can be
// restarted on the same store and journal.
type storeNode struct {
	*harness
	nc      *nats.Conn
	running bool
}

func newStoreNode(t testing.TB, kind string) *storeNode {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	switch kind {
	case "sqlite":
		st, err = store.OpenSQLite(ctx, testkit.SQLitePath(t))
	case "postgres":
		url := testkit.PostgresURL(t)
		if _, err = store.MigratePostgres(ctx, url); err == nil {
			st, err = store.OpenPostgres(ctx, url, "")
		}
	}
	if err != nil {
		t.Fatalf("store %s: %v", kind, err)
	}
	t.Cleanup(func() { st.Close() })
	nc, js := testkit.JetStream(t)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	n := &storeNode{harness: &harness{t: t, st: st, logs: &testkit.LogBuffer{}, js: js, journal: j}, nc: nc}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *storeNode) start() {
	n.t.Helper()
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	hub, err := actors.NewHub(actors.Config{Store: n.st, Journal: n.journal, Conn: n.nc, Logger: log, AskTimeout: 10 * time.Second})
	if err != nil {
		n.t.Fatalf("NewHub: %v", err)
	}
	n.hub = hub
	n.auth = auth.New(auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost}, n.st, nil, log)
	n.reg = prometheus.NewRegistry()
	n.srv = skerhttp.New(skerhttp.Config{Version: "test"}, skerhttp.Deps{Store: n.st, Auth: n.auth, Canvases: hub, Logger: log, Registry: n.reg})
	n.running = true
}

// stop shuts the hub down, which checkpoints every live canvas.
func (n *storeNode) stop() {
	if !n.running {
		return
	}
	n.running = false
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.hub.Shutdown(ctx); err != nil {
		n.t.Errorf("hub Shutdown: %v", err)
	}
}

// state is what a refused request must leave unchanged: the owner's
// canvases, their content and members, and the owner's API tokens.
func (n *storeNode) state(token string) string {
	n.t.Helper()
	var b bytes.Buffer
	list := n.get("/api/v1/canvases", token)
	b.Write(list.body)
	var cs struct {
		Canvases []canvasBody `json:"canvases"`
	}
	list.decode(n.t, http.StatusOK, &cs)
	for _, c := range cs.Canvases {
		b.Write(n.get("/api/v1/canvases/"+c.ID+"/export", token).body)
		b.Write(n.get("/api/v1/canvases/"+c.ID+"/members", token).body)
	}
	b.Write(n.get("/api/v1/tokens", token).body)
	return b.String()
}

// TestInvalidTextRefused: a string that is not valid UTF-8, or that holds
// U+0000 or a lone surrogate, anywhere in a request is refused with 400
// invalid_text naming the field, on SQLite and PostgreSQL alike, and
// changes nothing. Text that is valid (emoji, U+FFFD itself, an escaped
// backslash before "u0000") is accepted the same on both. Afterwards every
// canvas exports valid UTF-8 JSON equal to its snapshot, checkpoints, and
// exports the same bytes after a restart.
func TestInvalidTextRefused(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { testInvalidText(t, kind) })
	}
}

func testInvalidText(t *testing.T, kind string) {
	n := newStoreNode(t, kind)
	owner := n.user("owner@example.test")
	n.user("member@example.test")
	tok := owner.AccessToken

	// Valid text, some of it escaped, is accepted and kept.
	const fine = `Plan ✓ \ud83d\ude00 \ufffd ` + "\uFFFD" + ` \\u0000 \u00e9`
	var cv canvasBody
	n.post("/api/v1/canvases", tok, `{"title":"`+fine+`","settings":{"theme":"`+fine+`"}}`).decode(t, http.StatusCreated, &cv)
	n.post("/api/v1/canvases/"+cv.ID+"/ops", tok, `{"cbid":"c-`+fine+`","ops":[`+
		`{"op":"node.add","id":"a","kind":"text","data":{"text":"`+fine+`","k`+fine+`":1}},`+
		`{"op":"node.add","id":"b","kind":"note"},{"op":"edge.add","id":"e","source":"a","target":"b","data":{"l":"`+fine+`"}}]}`).
		decode(t, http.StatusOK, nil)
	n.post("/api/v1/tokens", tok, `{"name":"`+fine+`"}`).decode(t, http.StatusCreated, nil)
	var imported canvasBody
	n.post("/api/v1/canvases/import", tok, `{"version":1,"title":"`+fine+`","settings":{"s":"`+fine+`"},`+
		`"nodes":[{"id":"x","kind":"text","x":0,"y":0,"w":10,"h":10,"data":{"text":"`+fine+`"}}],"edges":[]}`).
		decode(t, http.StatusCreated, &imported)

	ops := "/api/v1/canvases/" + cv.ID + "/ops"
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"create title NUL", "POST", "/api/v1/canvases", `{"title":"a\u0000b"}`, "title"},
		{"create title bytes", "POST", "/api/v1/canvases", "{\"title\":\"a\xff\xfeb\"}", "title"},
		{"create settings value", "POST", "/api/v1/canvases", "{\"title\":\"T\",\"settings\":{\"theme\":\"\xff\xfe\"}}", "settings.theme"},
		{"create settings key", "POST", "/api/v1/canvases", `{"title":"T","settings":{"t\u0000":1}}`, "settings"},
		{"create settings nested", "POST", "/api/v1/canvases", `{"title":"T","settings":{"a":{"b":["\ud800"]}}}`, "settings.a.b[0]"},
		{"update title surrogate", "PATCH", "/api/v1/canvases/" + cv.ID, `{"title":"x\ud800"}`, "title"},
		{"update settings NUL", "PATCH", "/api/v1/canvases/" + cv.ID, `{"settings":{"theme":"\u0000"}}`, "settings.theme"},
		{"ops data bytes", "POST", ops, "{\"ops\":[{\"op\":\"node.add\",\"id\":\"n2\",\"kind\":\"text\",\"data\":{\"text\":\"\xff\xfe\"}}]}", "ops[0].data.text"},
		{"ops data NUL", "POST", ops, `{"ops":[{"op":"node.delete","id":"b"},{"op":"node.add","id":"n2","kind":"text","data":{"text":"a\u0000"}}]}`, "ops[1].data.text"},
		{"ops data key", "POST", ops, `{"ops":[{"op":"node.add","id":"n2","kind":"text","data":{"\udc00":1}}]}`, "ops[0].data"},
		{"ops set", "POST", ops, `{"ops":[{"op":"node.update","id":"a","set":{"data.text":"\u0000"}}]}`, `ops[0].set["data.text"]`},
		{"ops unset", "POST", ops, `{"ops":[{"op":"node.update","id":"a","unset":["data.\u0000"]}]}`, "ops[0].unset[0]"},
		{"ops title", "POST", ops, `{"ops":[{"op":"canvas.update","title":"T\u0000"}]}`, "ops[0].title"},
		{"ops settings", "POST", ops, `{"ops":[{"op":"canvas.update","settings":{"s":"\ud83d"}}]}`, "ops[0].settings.s"},
		{"ops id", "POST", ops, `{"ops":[{"op":"node.add","id":"n\u0000","kind":"text"}]}`, "ops[0].id"},
		{"ops edge data", "POST", ops, "{\"ops\":[{\"op\":\"edge.add\",\"id\":\"e2\",\"source\":\"b\",\"target\":\"a\",\"data\":{\"l\":\"\xc3\"}}]}", "ops[0].data.l"},
		{"ops cbid", "POST", ops, `{"cbid":"b\u0000","ops":[{"op":"node.delete","id":"b"}]}`, "cbid"},
		{"import node data", "POST", "/api/v1/canvases/import", `{"version":1,"nodes":[{"id":"a","kind":"text","x":0,"y":0,"w":10,"h":10},` +
			`{"id":"b","kind":"text","x":0,"y":0,"w":10,"h":10,"data":{"text":"\u0000"}}],"edges":[]}`, "nodes[1].data.text"},
		{"import title", "POST", "/api/v1/canvases/import", "{\"version\":1,\"title\":\"\xff\",\"nodes\":[],\"edges\":[]}", "title"},
		{"import settings", "POST", "/api/v1/canvases/import", `{"version":1,"settings":{"s":"\ud800"},"nodes":[],"edges":[]}`, "settings.s"},
		{"import title query NUL", "POST", "/api/v1/canvases/import?title=a%00b", `{"version":1,"nodes":[],"edges":[]}`, "title"},
		{"import title query bytes", "POST", "/api/v1/canvases/import?title=a%FFb", `{"version":1,"nodes":[],"edges":[]}`, "title"},
		{"register email", "POST", "/api/v1/auth/register", `{"email":"n\u0000@example.test","password":"correct horse battery"}`, "email"},
		{"register name", "POST", "/api/v1/auth/register", "{\"email\":\"n@example.test\",\"password\":\"correct horse battery\",\"name\":\"\xff\"}", "name"},
		{"register password", "POST", "/api/v1/auth/register", `{"email":"n@example.test","password":"correct horse\u0000battery"}`, "password"},
		{"login email", "POST", "/api/v1/auth/login", `{"email":"owner\u0000@example.test","password":"correct horse battery"}`, "email"},
		{"login password", "POST", "/api/v1/auth/login", "{\"email\":\"owner@example.test\",\"password\":\"\xff\"}", "password"},
		{"refresh", "POST", "/api/v1/auth/refresh", `{"refresh_token":"\u0000"}`, "refresh_token"},
		{"token name", "POST", "/api/v1/tokens", `{"name":"t\u0000"}`, "name"},
		{"member email", "POST", "/api/v1/canvases/" + cv.ID + "/members", `{"email":"member\u0000@example.test","role":"editor"}`, "email"},
		{"member role", "PATCH", "/api/v1/canvases/" + cv.ID + "/members/" + owner.User.ID, `{"role":"owner\u0000"}`, "role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.state(tok)
			r := n.do(request{method: tc.method, path: tc.path, token: tok, body: tc.body})
			r.wantError(t, http.StatusBadRequest, "invalid_text", tc.field)
			if after := n.state(tok); after != before {
				t.Errorf("state after the refused request:\n got %s\nwant %s", after, before)
			}
		})
	}
	// A refused login is not a failed attempt, and the account still works.
	n.post("/api/v1/auth/login", "", `{"email":"owner@example.test","password":"correct horse battery"}`).decode(t, http.StatusOK, nil)

	checkCanvases(t, n, tok, []string{cv.ID, imported.ID})
}

// checkCanvases checks that every canvas of the token's user exports valid
// UTF-8 JSON equal to its snapshot, that a graceful stop checkpoints each
// at its seq, and that each exports the same bytes after the restart.
func checkCanvases(t testing.TB, n *storeNode, tok string, want []string) {
	t.Helper()
	var cs struct {
		Canvases []canvasBody `json:"canvases"`
	}
	n.get("/api/v1/canvases", tok).decode(t, http.StatusOK, &cs)
	if got := len(cs.Canvases); got != len(want) {
		t.Fatalf("got %d canvases; want %d (%v)", got, len(want), want)
	}
	for _, c := range cs.Canvases {
		if !slices.Contains(want, c.ID) {
			t.Fatalf("got canvas %s (%q); want only %v", c.ID, c.Title, want)
		}
	}
	exports := map[string][]byte{}
	seqs := map[string]uint64{}
	for _, c := range cs.Canvases {
		r := n.get("/api/v1/canvases/"+c.ID+"/export", tok)
		if r.status != http.StatusOK || !utf8.Valid(r.body) || !json.Valid(r.body) || textcheck.JSON(r.body) != nil {
			t.Fatalf("export %s: got status %d, body %q; want 200 and valid UTF-8 JSON without refused text", c.ID, r.status, r.body)
		}
		snap, err := n.hub.Snapshot(context.Background(), c.ID)
		if err != nil {
			t.Fatalf("snapshot %s: %v", c.ID, err)
		}
		enc, _ := json.Marshal(snap)
		if !bytes.Equal(r.body, enc) {
			t.Errorf("export %s:\n got %s\nwant the snapshot %s", c.ID, r.body, enc)
		}
		exports[c.ID], seqs[c.ID] = r.body, snap.Seq
	}
	n.stop()
	for id, seq := range seqs {
		cp, err := n.st.LoadCheckpoint(context.Background(), id)
		if err != nil || cp.Seq != seq {
			t.Errorf("checkpoint of %s: got seq %d, %v; want %d", id, cp.Seq, err, seq)
		}
	}
	n.start()
	for id, before := range exports {
		if r := n.get("/api/v1/canvases/"+id+"/export", tok); r.status != http.StatusOK || !bytes.Equal(r.body, before) {
			t.Errorf("export %s after the restart: got %d %s; want %s", id, r.status, r.body, before)
		}
	}
}
