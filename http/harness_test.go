package skerhttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/auth"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"golang.org/x/crypto/bcrypt"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// The handlers' Canvases is the real actor hub.
var _ skerhttp.Canvases = (*actors.Hub)(nil)

// harness is one Server on a fresh SQLite store, with real canvas actors on
// an in-process JetStream server (no TCP port).
type harness struct {
	t       testing.TB
	srv     *skerhttp.Server
	st      store.Store
	auth    *auth.Service
	logs    *testkit.LogBuffer
	reg     *prometheus.Registry
	js      jetstream.JetStream
	journal *journal.Journal
	hub     *actors.Hub
}

// newHarness builds a Server; edit may change its Config and Deps first.
func newHarness(t *testing.T, edit ...func(*skerhttp.Config, *skerhttp.Deps)) *harness {
	t.Helper()
	return newHubHarness(t, nil, edit...)
}

// newHubHarness is newHarness with hubEdit changing the actors.Config of
// the hub first.
func newHubHarness(t *testing.T, hubEdit func(*actors.Config), edit ...func(*skerhttp.Config, *skerhttp.Deps)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "sker.db"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := &harness{t: t, st: st, logs: logs}
	h.startHub(log, hubEdit)
	h.auth = auth.New(auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost}, st, nil, log)
	cfg := skerhttp.Config{Version: "test-1.2.3", StartedAt: time.Now().Add(-10 * time.Second)}
	deps := skerhttp.Deps{Store: st, Auth: h.auth, Canvases: h.hub, Logger: log, Registry: prometheus.NewRegistry(),
		Checks: []skerhttp.Check{{Name: "store", Ping: st.Ping}}}
	for _, e := range edit {
		e(&cfg, &deps)
	}
	h.srv, h.reg = skerhttp.New(cfg, deps), deps.Registry
	return h
}

// startHub runs nats-server in-process with JetStream, opens the journal
// and starts the hub on the harness's store; all stop with the test.
func (h *harness) startHub(log *slog.Logger, hubEdit func(*actors.Config)) {
	t := h.t
	t.Helper()
	nc, js := testkit.JetStream(t)
	h.js = js
	var err error
	if h.journal, err = journal.Open(context.Background(), h.js, journal.Config{}); err != nil {
		t.Fatalf("journal: %v", err)
	}
	cfg := actors.Config{Store: h.st, Journal: h.journal, Conn: nc, Logger: log, AskTimeout: 10 * time.Second}
	if hubEdit != nil {
		hubEdit(&cfg)
	}
	if h.hub, err = actors.NewHub(cfg); err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.hub.Shutdown(ctx); err != nil {
			t.Errorf("hub Shutdown: %v", err)
		}
	})
}

// journalSubjects counts the canvases with records in the journal.
func (h *harness) journalSubjects() uint64 {
	h.t.Helper()
	st, err := h.js.Stream(context.Background(), "SKER_JOURNAL")
	if err != nil {
		h.t.Fatalf("journal stream: %v", err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		h.t.Fatalf("journal stream info: %v", err)
	}
	return info.State.NumSubjects
}

// response is a finished test request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request is one call: body may be nil, a string (sent raw) or a value
// (sent as JSON).
type request struct {
	method, path string
	body         any
	token        string
	header       map[string]string
}

func (h *harness) do(r request) response {
	h.t.Helper()
	var body io.Reader
	ctype := ""
	switch b := r.body.(type) {
	case nil:
	case string:
		body, ctype = strings.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal body: %v", err)
		}
		body, ctype = bytes.NewReader(raw), "application/json"
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.App().Test(req, 10_000)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	h.checkSpec(r, req, resp.StatusCode, resp.Header, raw) // openapi_test.go
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// get, post, patch and del are shorthands for do.
func (h *harness) get(path, token string) response {
	h.t.Helper()
	return h.do(request{method: "GET", path: path, token: token})
}

func (h *harness) post(path, token string, body any) response {
	h.t.Helper()
	return h.do(request{method: "POST", path: path, token: token, body: body})
}

func (h *harness) patch(path, token string, body any) response {
	h.t.Helper()
	return h.do(request{method: "PATCH", path: path, token: token, body: body})
}

func (h *harness) del(path, token string) response {
	h.t.Helper()
	return h.do(request{method: "DELETE", path: path, token: token})
}

// decode unmarshals the body into v after checking the status.
func (r response) decode(t testing.TB, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d (%s); want %d", r.status, r.body, status)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// wantError checks a failure: status, the JSON error shape, its code and
// field ("" for none).
func (r response) wantError(t testing.TB, status int, code, field string) apiError {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d (%s); want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("got Content-Type %q; want application/json", ct)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v; want {\"error\":{code,message,field?}}", r.body, err)
	}
	if e.Error.Code != code || e.Error.Field != field || e.Error.Message == "" {
		t.Fatalf("got error %+v; want code %s field %q and a message", e.Error, code, field)
	}
	return e
}

type sessionBody struct {
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// user registers an account through the API.
func (h *harness) user(email string) sessionBody {
	h.t.Helper()
	var s sessionBody
	h.post("/api/v1/auth/register", "", map[string]string{"email": email, "password": "correct horse battery"}).
		decode(h.t, http.StatusCreated, &s)
	return s
}

type canvasBody struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Settings  json.RawMessage `json:"settings"`
	CreatedBy string          `json:"created_by"`
	Role      string          `json:"role"`
}

// canvas creates a canvas owned by token's user.
func (h *harness) canvas(token, title string) canvasBody {
	h.t.Helper()
	var c canvasBody
	h.post("/api/v1/canvases", token, map[string]string{"title": title}).decode(h.t, http.StatusCreated, &c)
	return c
}

// addMember adds email to canvas id with role, as owner.
func (h *harness) addMember(owner, id, email, role string) {
	h.t.Helper()
	h.post("/api/v1/canvases/"+id+"/members", owner, map[string]string{"email": email, "role": role}).
		decode(h.t, http.StatusCreated, nil)
}

// expiredToken is a correctly signed access token for userID that expired
// an hour ago.
func (h *harness) expiredToken(userID string) string {
	h.t.Helper()
	old := auth.New(auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost,
		Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}, h.st, nil, nil)
	tok, _, err := old.IssueAccess(userID)
	if err != nil {
		h.t.Fatalf("IssueAccess: %v", err)
	}
	return tok
}

// tamperedToken is tok with its subject changed and the signature kept.
func tamperedToken(t *testing.T, tok, sub string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	payload := `{"iss":"sker","sub":"` + sub + `","exp":` + "9999999999" + `}`
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

// serve runs the server on a loopback port until the test ends and returns
// its base URL.
func (h *harness) serve() string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ln) }()
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			h.t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			h.t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
