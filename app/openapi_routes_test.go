package app

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/skerhq/sker/config"
	skerhttp "github.com/skerhq/sker/http"
)

// TestOpenAPICoversAppRoutes: the routes of a whole node (every role, so
// the HTTP package's routes, the files and versions it is given, and the
// routes this package adds: /ops/backup, /cluster, /bridge, /ws) are
// exactly the operations of the served OpenAPI document, method by method.
func TestOpenAPICoversAppRoutes(t *testing.T) {
	a, doc := newOpenAPINode(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	registered := skerhttp.Routes(a.http.App())
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if !documented[r] {
			t.Errorf("route %s is not in http/openapi.yaml", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if !registered[r] {
			t.Errorf("http/openapi.yaml has %s, and a node registers no such route", r)
		}
	}
	for _, r := range []string{"POST /ops/backup", "GET /cluster", "GET /cluster/canvases/{id}", "GET /bridge", "GET /ws"} {
		if !registered[r] {
			t.Errorf("a node does not register %s", r)
		}
	}
}

// TestOpenAPIAppResponses: what the routes this package adds answer, to
// the ops token and to anyone else, is what the OpenAPI document says.
func TestOpenAPIAppResponses(t *testing.T) {
	a, doc := newOpenAPINode(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	out := filepath.Join(t.TempDir(), "backup")
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/cluster", openAPIOpsToken, "", http.StatusOK},
		{"GET", "/cluster", "", "", http.StatusNotFound},
		{"GET", "/cluster/canvases/0190f8d2-5c1e-7b3a-9f00-1a2b3c4d5e6f", openAPIOpsToken, "", http.StatusOK},
		{"GET", "/cluster/canvases/nope", openAPIOpsToken, "", http.StatusBadRequest},
		{"GET", "/bridge", openAPIOpsToken, "", http.StatusOK},
		{"GET", "/bridge", "wrong", "", http.StatusNotFound},
		{"POST", "/ops/backup", openAPIOpsToken, `{"out":"relative"}`, http.StatusBadRequest},
		{"POST", "/ops/backup", openAPIOpsToken, `{"out":"` + out + `"}`, http.StatusOK},
		{"POST", "/ops/backup", "", `{}`, http.StatusNotFound},
		{"GET", "/ws", "", "", http.StatusUpgradeRequired},
		{"GET", "/health", "", "", http.StatusOK},
		{"GET", "/ready", "", "", http.StatusOK},
	} {
		name := tc.method + " " + tc.path
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := a.http.App().Test(req, 30_000)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: read body: %v", name, err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s: got %d %s; want %d", name, resp.StatusCode, body, tc.status)
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s: find route: %v", name, err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		in.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s answered %d %.300s, which the spec does not allow: %v", name, resp.StatusCode, body, err)
		}
	}
}

// openAPIOpsToken is OPS_TOKEN of the node newOpenAPINode starts.
const openAPIOpsToken = "openapi-ops-token"

// newOpenAPINode builds a node with every role on SQLite and embedded
// NATS, serving nothing (its routes are called through Fiber's Test), and
// loads the OpenAPI document it serves.
func newOpenAPINode(t *testing.T) (*App, *openapi3.T) {
	t.Helper()
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": "0", "DATA_DIR": t.TempDir(), "OPS_TOKEN": openAPIOpsToken,
		"JWT_SECRET": "openapi-test-secret-of-at-least-32-bytes", "LOG_LEVEL": "error",
	}
	cfg, _, err := config.Load(nil, func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	raw, err := skerhttp.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	return a, doc
}
