package skerhttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/skerhq/sker/files"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/versions"
)

// appRoutes are the routes of the spec that package app registers on the
// server, not this package: app/ops.go, app/membership.go,
// app/bridge_routes.go and app/app.go (/ws). app/openapi_routes_test.go
// holds them, with every other route, to the spec on a whole App.
var appRoutes = []string{
	"POST /ops/backup",
	"GET /cluster",
	"GET /cluster/canvases/{id}",
	"GET /bridge",
	"GET /ws",
}

// spec is the served document, loaded and validated once for every test
// of the package.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	raw, err := skerhttp.OpenAPI()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi %q; want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &spec{doc: doc, router: router}, nil
})

func mustSpec(t testing.TB) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return s
}

// TestOpenAPIDocument: the document is OpenAPI 3.1, valid, and every
// operation has an id, a summary, and responses for the errors its
// security implies.
func TestOpenAPIDocument(t *testing.T) {
	s := mustSpec(t)
	ids := map[string]string{}
	for _, op := range specOperations(s.doc) {
		o := s.doc.Paths.Find(op.path).GetOperation(op.method)
		name := op.method + " " + op.path
		if o.OperationID == "" || o.Summary == "" {
			t.Errorf("%s: want an operationId and a summary", name)
		}
		if prev, ok := ids[o.OperationID]; ok {
			t.Errorf("%s: operationId %q is also %s's", name, o.OperationID, prev)
		}
		ids[o.OperationID] = name
		if o.Responses.Len() == 0 {
			t.Errorf("%s: no responses", name)
		}
		needsBearer := o.Security == nil // the document's default: bearer
		if needsBearer && o.Responses.Status(http.StatusUnauthorized) == nil {
			t.Errorf("%s: signed in, and no 401 response", name)
		}
		if strings.HasPrefix(op.path, "/api/v1/") && o.Responses.Status(http.StatusNotFound) == nil {
			// A node without the gateway role answers 404 on all of /api/v1.
			t.Errorf("%s: no 404 response", name)
		}
		if strings.HasPrefix(op.path, "/api/v1/canvases") && o.Responses.Status(http.StatusInternalServerError) == nil {
			// Every canvas route reads the store, which may fail.
			t.Errorf("%s: no 500 response", name)
		}
		if o.RequestBody != nil && op.path != "/api/v1/canvases/{id}/files" &&
			o.Responses.Status(http.StatusUnsupportedMediaType) == nil {
			t.Errorf("%s: takes a JSON body, and no 415 response", name)
		}
	}
	for _, name := range []string{"Error", "User", "Session", "Canvas", "ListedCanvas", "Snapshot", "Node", "Edge",
		"Comment", "Op", "Member", "Token", "Version", "Diff", "File", "History"} {
		if s.doc.Components.Schemas[name] == nil {
			t.Errorf("components.schemas has no %s", name)
		}
	}
}

// TestOpenAPIServed: GET /api/v1/openapi.json answers the embedded
// document as JSON, to anyone, cacheable, and 304 to its ETag.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	want, err := skerhttp.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	r := h.get("/api/v1/openapi.json", "")
	if r.status != http.StatusOK || !bytes.Equal(r.body, want) {
		t.Fatalf("got %d with %d bytes; want 200 with the %d bytes of the document", r.status, len(r.body), len(want))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q; want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || strings.Contains(cc, "no-store") {
		t.Errorf("got Cache-Control %q; want cacheable", cc)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("got openapi %v (%v); want 3.1.0", doc["openapi"], err)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := h.do(request{method: "GET", path: "/api/v1/openapi.json", header: map[string]string{"If-None-Match": etag}})
	if again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Errorf("got %d with %d bytes for If-None-Match; want 304 and no body", again.status, len(again.body))
	}
}

// TestOpenAPICoversRoutes: every route of a fully wired server is in the
// spec with its method, and every operation of the spec is a route (those
// package app adds are listed in appRoutes).
func TestOpenAPICoversRoutes(t *testing.T) {
	s := mustSpec(t)
	h := newHarness(t)
	st, err := files.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pv, err := files.NewPreviews(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.srv.ServeFiles(skerhttp.FilesConfig{Store: st, Previews: pv})
	svc, err := versions.New(versions.Config{Store: h.st, Journal: h.journal, Canvases: h.hub})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.ServeVersions(svc)

	registered := skerhttp.Routes(h.srv.App())
	documented := map[string]bool{}
	for _, op := range specOperations(s.doc) {
		documented[op.method+" "+op.path] = true
	}
	for _, r := range appRoutes {
		if !documented[r] {
			t.Errorf("%s is listed as registered by package app, and the spec does not have it", r)
		}
		registered[r] = true
	}
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if !documented[r] {
			t.Errorf("route %s is not in http/openapi.yaml", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if !registered[r] {
			t.Errorf("the spec has %s, and no such route is registered", r)
		}
	}
	if len(registered) < 40 {
		t.Errorf("got %d routes; want the whole API (40 or more)", len(registered))
	}
}

type specOp struct{ method, path string }

func specOperations(doc *openapi3.T) []specOp {
	var out []specOp
	for _, path := range doc.Paths.InMatchingOrder() {
		for method := range doc.Paths.Value(path).Operations() {
			out = append(out, specOp{method: method, path: path})
		}
	}
	slices.SortFunc(out, func(a, b specOp) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return out
}

// checkSpec holds a response that a test received to the spec: its
// status must be one the operation lists, with the headers and body that
// status documents; and a request the server accepted (2xx) must be one
// the spec accepts, its JSON body included. A request the spec has no
// operation for (an unknown route, a method the path does not take) must
// be answered with the error shape. HEAD and OPTIONS answers have no body
// to check.
func (h *harness) checkSpec(r request, req *http.Request, status int, header http.Header, body []byte) {
	h.t.Helper()
	if req.Method == http.MethodHead || req.Method == http.MethodOptions {
		return
	}
	s := mustSpec(h.t)
	if header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			h.t.Errorf("%s %s: gzip body: %v", req.Method, req.URL.Path, err)
			return
		}
		header = header.Clone()
		header.Del("Content-Encoding")
	}
	route, params, err := s.router.FindRoute(req)
	var notInSpec *routers.RouteError // no such path, or not with this method
	if errors.As(err, &notInSpec) {
		if status < 400 {
			h.t.Errorf("%s %s answered %d, and the spec has no such operation", req.Method, req.URL.Path, status)
			return
		}
		if err := checkErrorBody(s, body); err != nil {
			h.t.Errorf("%s %s answered %d: %v", req.Method, req.URL.Path, status, err)
		}
		return
	}
	if err != nil {
		h.t.Errorf("%s %s: find route: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		h.t.Errorf("%s %s answered %d %.300q, which the spec (%s %s) does not allow: %v",
			req.Method, req.URL.Path, status, body, route.Method, route.Path, err)
	}
	if status >= 200 && status < 300 {
		h.checkAccepted(r, req, route, params)
	}
}

// checkAccepted checks a request that the server accepted against the
// operation's parameters and, when it is JSON, its request body. Other
// bodies (files, bundles) are bytes the spec does not describe further.
func (h *harness) checkAccepted(r request, req *http.Request, route *routers.Route, params map[string]string) {
	h.t.Helper()
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			h.t.Fatalf("marshal body: %v", err)
		}
	}
	sent := req.Clone(context.Background())
	sent.Body = io.NopCloser(bytes.NewReader(raw))
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	in := &openapi3filter.RequestValidationInput{Request: sent, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			ExcludeRequestBody: len(raw) == 0 || mt != "application/json"}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		h.t.Errorf("%s %s %.300q was accepted, and the spec (%s %s) does not allow it: %v",
			req.Method, req.URL, raw, route.Method, route.Path, err)
	}
}

// checkErrorBody checks body against the spec's Error schema.
func checkErrorBody(s *spec, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body %.200q is not JSON: %w", body, err)
	}
	if err := s.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("body %.200s is not the error shape: %w", body, err)
	}
	return nil
}

// TestOpenAPIContractWalk calls, through do and so through checkSpec, the
// routes and statuses that the other tests reach by other means (the file
// routes' own request helper) or not at all.
func TestOpenAPIContractWalk(t *testing.T) {
	h := newFileHarness(t)
	owner := h.owner.AccessToken
	cv := h.cv.ID
	viewer := h.user("viewer@example.com")
	h.addMember(owner, cv, "viewer@example.com", "viewer")
	files := "/api/v1/canvases/" + cv + "/files"
	img := string(pngOf(t, 600, 400))
	raw := map[string]string{"Content-Type": "image/png"}

	var f struct {
		ID string `json:"id"`
	}
	h.do(request{method: "POST", path: files + "?name=a.png", token: owner, body: img, header: raw}).decode(t, http.StatusCreated, &f)
	file := files + "/" + f.ID
	var tok struct {
		Token string `json:"token"`
	}
	h.post("/api/v1/tokens", owner, map[string]string{"name": "walk"}).decode(t, http.StatusCreated, &tok)
	for _, tc := range []struct {
		name   string
		req    request
		status int
	}{
		{"upload as a viewer", request{method: "POST", path: files, token: viewer.AccessToken, body: img, header: raw}, http.StatusForbidden},
		{"upload nothing", request{method: "POST", path: files, token: owner, body: "", header: raw}, http.StatusBadRequest},
		{"upload a bad name", request{method: "POST", path: files + "?name=%01", token: owner, body: img, header: raw}, http.StatusBadRequest},
		{"list files", request{method: "GET", path: files, token: viewer.AccessToken}, http.StatusOK},
		{"get a file", request{method: "GET", path: file, token: viewer.AccessToken}, http.StatusOK},
		{"get a range", request{method: "GET", path: file, token: owner, header: map[string]string{"Range": "bytes=0-9"}}, http.StatusPartialContent},
		{"get a range outside", request{method: "GET", path: file, token: owner, header: map[string]string{"Range": "bytes=99999999-"}}, http.StatusRequestedRangeNotSatisfiable},
		{"get a file again", request{method: "GET", path: file, token: owner, header: map[string]string{"If-None-Match": `"` + f.ID + `"`}}, http.StatusNotModified},
		{"get no file", request{method: "GET", path: files + "/" + strings.Repeat("0", 64), token: owner}, http.StatusNotFound},
		{"get a file signed out", request{method: "GET", path: file}, http.StatusUnauthorized},
		{"preview", request{method: "GET", path: file + "/preview?width=128", token: owner}, http.StatusOK},
		{"preview again", request{method: "GET", path: file + "/preview?width=128", token: owner, header: map[string]string{"If-None-Match": `"` + f.ID + `-128"`}}, http.StatusNotModified},
		{"preview a bad width", request{method: "GET", path: file + "/preview?width=7", token: owner}, http.StatusBadRequest},
		{"export a bundle", request{method: "GET", path: "/api/v1/canvases/" + cv + "/export?files=1", token: owner}, http.StatusOK},
		{"export gzipped", request{method: "GET", path: "/api/v1/canvases/" + cv + "/export", token: owner, header: map[string]string{"Accept-Encoding": "gzip"}}, http.StatusOK},
		{"AI providers", request{method: "GET", path: "/api/v1/ai/providers", token: owner}, http.StatusOK},
		{"AI usage", request{method: "GET", path: "/api/v1/ai/usage?days=7", token: owner}, http.StatusOK},
		{"AI usage of a bad span", request{method: "GET", path: "/api/v1/ai/usage?days=0", token: owner}, http.StatusBadRequest},
		{"compressed body", request{method: "POST", path: "/api/v1/canvases", token: owner, body: `{"title":"x"}`, header: map[string]string{"Content-Encoding": "gzip"}}, http.StatusUnsupportedMediaType},
		{"body too large", request{method: "POST", path: "/api/v1/canvases", token: owner, body: `{"title":"` + strings.Repeat("x", 2<<20) + `"}`}, http.StatusRequestEntityTooLarge},
		{"sign out everywhere with an API token", request{method: "POST", path: "/api/v1/auth/logout-everywhere", token: tok.Token}, http.StatusForbidden},
		{"sign out everywhere", request{method: "POST", path: "/api/v1/auth/logout-everywhere", token: viewer.AccessToken}, http.StatusNoContent},
		{"signed out everywhere", request{method: "GET", path: "/api/v1/me", token: viewer.AccessToken}, http.StatusUnauthorized},
	} {
		if r := h.do(tc.req); r.status != tc.status {
			t.Errorf("%s: got %d %.200s; want %d", tc.name, r.status, r.body, tc.status)
		}
	}
}

// TestOpenAPIErrorCodes: the spec's ErrorCode enum is exactly the codes of
// apierr/codes.go, less the group of the WebSocket protocol only, so that
// a code added there is added to the contract too.
func TestOpenAPIErrorCodes(t *testing.T) {
	s := mustSpec(t)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "apierr", "codes.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || strings.Contains(g.Doc.Text(), "WebSocket protocol only") {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					code, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					want[code] = true
				}
			}
		}
	}
	got := map[string]bool{}
	for _, c := range s.doc.Components.Schemas["ErrorCode"].Value.Enum {
		got[fmt.Sprint(c)] = true
	}
	for _, c := range slices.Sorted(maps.Keys(want)) {
		if !got[c] {
			t.Errorf("apierr code %s is not in the spec's ErrorCode", c)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(got)) {
		if !want[c] {
			t.Errorf("the spec's ErrorCode has %s, which apierr/codes.go does not", c)
		}
	}
	if len(want) < 30 {
		t.Errorf("read %d codes from apierr/codes.go; want all of them", len(want))
	}
}
