package skerhttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/gateway"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/textcheck"
)

// fuzzNode is one store's side of FuzzAPIInput: a node, its owner's token,
// the canvas the inputs aim at, and a WebSocket joined to it.
type fuzzNode struct {
	*storeNode
	kind   string
	token  string
	canvas string
	wsURL  string
	ws     *websocket.Conn
	sent   int
}

// fuzzRoutes are where FuzzAPIInput sends its body; {canvas} is the
// node's canvas.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/canvases"},
	{"PATCH", "/api/v1/canvases/{canvas}"},
	{"POST", "/api/v1/canvases/{canvas}/ops"},
	{"POST", "/api/v1/canvases/import"},
	{"POST", "/api/v1/auth/register"},
	{"POST", "/api/v1/auth/login"},
	{"POST", "/api/v1/tokens"},
	{"POST", "/api/v1/canvases/{canvas}/members"},
}

// FuzzAPIInput sends the same input to the same API on SQLite and on
// PostgreSQL: as a request body to one of fuzzRoutes (plain, gzip
// compressed, or merely labelled gzip), and as a WebSocket frame, with
// "{canvas}" standing for the canvas. Both stores must answer alike (status
// and code), never 500, always valid UTF-8 JSON, and hold the same canvas
// content afterwards, which must export as valid text equal to its
// snapshot. When the run ends, every canvas must survive a checkpoint and a
// restart unchanged.
func FuzzAPIInput(f *testing.F) {
	seeds := []struct {
		route int
		body  string
	}{
		{0, `{"title":"a\u0000b"}`},
		{0, "{\"title\":\"a\xff\xfeb\"}"},
		{0, `{"title":"T","settings":{"zoom":-0,"s":"\ud800"}}`},
		{0, `{"title":"T","settings":{"zoom":-0,"s":"\u0000"}}`},
		{1, `{"title":"T","settings":{"zoom":-0,"grid":{"step":-0.0}}}`},
		{1, `{"settings":{"theme":"\u0000"}}`},
		{2, `{"ops":[{"op":"node.add","id":"n","kind":"text","x":-0,"data":{"t":"\u0000"}}]}`},
		{2, "{\"ops\":[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"note\",\"data\":{\"t\":\"\xc3\"}}]}"},
		{2, `{"ops":[{"op":"node.add","id":"m","kind":"note","y":-0.0,"data":{"v":-0e3}}]}`},
		{2, `{"ops":[{"op":"node.delete","id":"m"}]}`},
		{3, `{"version":1,"nodes":[{"id":"a","kind":"note"},{"id":"b","kind":"text","w":0}]}`},
		{3, `{"version":1,"title":"\ud83d\ude00","nodes":[{"id":"a","kind":"note","data":{"k":"\udc00"}}],"edges":[]}`},
		{4, `{"email":"x\u0000@example.test","password":"correct horse battery"}`},
		{5, `{"email":"owner\u0000@example.test","password":"correct horse battery"}`},
		{6, `{"name":"bot\u0000"}`},
		{6, `{"name":"bot\ufffd"}`},
		{7, `{"email":"member@example.test","role":"viewer"}`},
		{2, `{"type":"ops","canvas":"{canvas}","cbid":"f1","ops":[{"op":"node.add","id":"w","kind":"note","data":{"t":"\u0000"}}]}`},
		{2, "{\"type\":\"ops\",\"canvas\":\"{canvas}\",\"cbid\":\"f2\",\"ops\":[{\"op\":\"node.add\",\"id\":\"w\",\"kind\":\"note\",\"data\":{\"t\":\"\xff\"}}]}"},
		{2, `{"type":"ops","canvas":"{canvas}","cbid":"f3","ops":[{"op":"node.add","id":"z","kind":"note","x":-0}]}`},
		{2, `{"type":"ops","canvas":"{canvas}","cbid":"f4","ops":[{"op":"canvas.update","title":"W\u0000"}]}`},
		{0, strings.Repeat(`{"a":`, 200) + strings.Repeat("}", 200)},
	}
	for _, s := range seeds {
		for enc := range uint8(3) {
			if enc == 0 || s.route == 0 {
				f.Add(uint8(s.route), enc, []byte(s.body))
			}
		}
	}
	nodes := []*fuzzNode{newFuzzNode(f, "sqlite"), newFuzzNode(f, "postgres")}
	f.Cleanup(func() {
		for _, n := range nodes {
			n.ws.Close()
			var cs struct {
				Canvases []canvasBody `json:"canvases"`
			}
			n.get("/api/v1/canvases", n.token).decode(f, http.StatusOK, &cs)
			var ids []string
			for _, c := range cs.Canvases {
				ids = append(ids, c.ID)
			}
			checkCanvases(f, n.storeNode, n.token, ids)
		}
	})
	f.Fuzz(func(t *testing.T, route, enc uint8, input []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		var answers [2]string
		for i, n := range nodes {
			answers[i] = n.send(t, r.method, strings.ReplaceAll(r.path, "{canvas}", n.canvas), enc, input)
		}
		if answers[0] != answers[1] {
			t.Fatalf("%s %s with %q (encoding %d):\n sqlite   %s\n postgres %s", r.method, r.path, input, enc%3, answers[0], answers[1])
		}
		var contents [2]string
		for i, n := range nodes {
			n.frame(t, input)
			contents[i] = n.content(t)
		}
		if contents[0] != contents[1] {
			t.Fatalf("canvas after %q:\n sqlite   %s\n postgres %s", input, contents[0], contents[1])
		}
	})
}

func newFuzzNode(f *testing.F, kind string) *fuzzNode {
	n := &fuzzNode{storeNode: newStoreNode(f, kind), kind: kind}
	n.token = n.user("owner@example.test").AccessToken
	n.user("member@example.test")
	var cv canvasBody
	n.post("/api/v1/canvases", n.token, `{"title":"Fuzzed"}`).decode(f, http.StatusCreated, &cv)
	n.canvas = cv.ID
	n.post("/api/v1/canvases/"+n.canvas+"/ops", n.token, `{"ops":[{"op":"node.add","id":"sentinel","kind":"note"}]}`).
		decode(f, http.StatusOK, nil)

	gw, err := gateway.New(gateway.Config{Canvases: n.hub, Auth: n.auth, Roles: n.st, Conn: n.nc, Logger: testkit.Logger()})
	if err != nil {
		f.Fatalf("gateway: %v", err)
	}
	srv := n.srv
	srv.App().Get("/ws", gw.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(gw.Listener(ln, "/ws", 10*time.Second)) }()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
		<-done
	})
	n.wsURL = "ws://" + ln.Addr().String() + "/ws?token=" + n.token
	if err := n.dial(); err != nil {
		f.Fatalf("%s: %v", kind, err)
	}
	return n
}

// dial opens the node's WebSocket and joins its canvas.
func (n *fuzzNode) dial() error {
	if n.ws != nil {
		n.ws.Close()
	}
	ws, _, err := websocket.DefaultDialer.Dial(n.wsURL, nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	n.ws = ws
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","canvas":"`+n.canvas+`"}`)); err != nil {
		return err
	}
	_, err = n.until(func(typ, _ string) bool { return typ == "joined" })
	return err
}

// until reads frames until match holds for one (its type and cbid).
func (n *fuzzNode) until(match func(typ, cbid string) bool) (map[string]any, error) {
	_ = n.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := n.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil || !utf8.Valid(data) {
			return nil, fmt.Errorf("frame %q is not valid UTF-8 JSON", data)
		}
		typ, _ := f["type"].(string)
		cbid, _ := f["cbid"].(string)
		if match(typ, cbid) {
			return f, nil
		}
	}
}

// send posts input to path and returns what a client learns: the status
// and, for an error, its code and field.
func (n *fuzzNode) send(t *testing.T, method, path string, enc uint8, input []byte) string {
	body := bytes.ReplaceAll(input, []byte("{canvas}"), []byte(n.canvas))
	req := httptest.NewRequest(method, path, nil)
	switch enc % 3 {
	case 1:
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
		req.Header.Set("Content-Encoding", "gzip")
	case 2:
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := n.srv.App().Test(req, 10_000)
	if err != nil {
		t.Fatalf("%s %s %s: %v", n.kind, method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s %s: got %d %s; want no server error", n.kind, method, path, resp.StatusCode, raw)
	}
	if len(raw) == 0 {
		return fmt.Sprint(resp.StatusCode)
	}
	if !utf8.Valid(raw) || !json.Valid(raw) {
		t.Fatalf("%s %s %s: got body %q; want valid UTF-8 JSON", n.kind, method, path, raw)
	}
	var e apiError
	_ = json.Unmarshal(raw, &e)
	return fmt.Sprintf("%d %s %s", resp.StatusCode, e.Error.Code, e.Error.Field)
}

// frame sends input as a WebSocket frame, then a sentinel batch, and waits
// for the sentinel's ack: the canvas actor orders batches, so whatever the
// input committed is committed by then. A connection the input got closed
// is opened again.
func (n *fuzzNode) frame(t *testing.T, input []byte) {
	n.sent++
	cbid := fmt.Sprintf("sentinel-%d", n.sent)
	sentinel := `{"type":"ops","canvas":"` + n.canvas + `","cbid":"` + cbid +
		`","ops":[{"op":"node.update","id":"sentinel","set":{"data.n":` + fmt.Sprint(n.sent) + `}}]}`
	err := n.ws.WriteMessage(websocket.TextMessage, bytes.ReplaceAll(input, []byte("{canvas}"), []byte(n.canvas)))
	if err == nil {
		err = n.ws.WriteMessage(websocket.TextMessage, []byte(sentinel))
	}
	if err == nil {
		_, err = n.until(func(typ, id string) bool { return typ == "ack" && id == cbid })
	}
	var ce *websocket.CloseError
	if err != nil && !errors.As(err, &ce) && !errors.Is(err, websocket.ErrCloseSent) && !isConnGone(err) {
		t.Fatalf("%s: websocket: %v", n.kind, err)
	}
	if err != nil {
		if err := n.dial(); err != nil {
			t.Fatalf("%s: reconnect: %v", n.kind, err)
		}
		if err := n.ws.WriteMessage(websocket.TextMessage, []byte(sentinel)); err != nil {
			t.Fatalf("%s: sentinel: %v", n.kind, err)
		}
		if _, err := n.until(func(typ, id string) bool { return typ == "ack" && id == cbid }); err != nil {
			t.Fatalf("%s: sentinel after reconnect: %v", n.kind, err)
		}
	}
}

func isConnGone(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && !ne.Timeout()
}

// content is the node's canvas as the two stores must agree on it: its
// nodes and edges without authors and times. The export must be valid text
// and equal the snapshot.
func (n *fuzzNode) content(t *testing.T) string {
	req := httptest.NewRequest("GET", "/api/v1/canvases/"+n.canvas+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := n.srv.App().Test(req, 10_000)
	if err != nil {
		t.Fatalf("%s export: %v", n.kind, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || textcheck.JSON(raw) != nil || !json.Valid(raw) {
		t.Fatalf("%s export: got %d %q; want 200 and valid text", n.kind, resp.StatusCode, raw)
	}
	snap, err := n.hub.Snapshot(context.Background(), n.canvas)
	if err != nil {
		t.Fatalf("%s snapshot: %v", n.kind, err)
	}
	if enc, _ := json.Marshal(snap); !bytes.Equal(enc, raw) {
		t.Fatalf("%s export:\n got %s\nwant the snapshot %s", n.kind, raw, enc)
	}
	var ex canvas.Export
	_ = json.Unmarshal(raw, &ex)
	for _, nd := range ex.Nodes {
		nd.Author, nd.CreatedAt, nd.UpdatedAt = "", 0, 0
	}
	for _, e := range ex.Edges {
		e.Author, e.CreatedAt = "", 0
	}
	out, _ := json.Marshal([]any{ex.Title, ex.Settings, ex.Seq, ex.Nodes, ex.Edges})
	return string(out)
}
