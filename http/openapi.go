package skerhttp

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	"github.com/gofiber/fiber/v2"
	"sigs.k8s.io/yaml"
)

// openAPIYAML is the OpenAPI 3.1 document of the REST API: the contract
// that docs/api.md explains. The tests hold it to the routes the server
// registers and validate every response they receive against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON converts openAPIYAML once, on first use; the document is
// part of the binary, so an error is a build defect, which the tests catch.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := yaml.YAMLToJSON(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return doc, nil
})

// OpenAPI returns the OpenAPI 3.1 document of the REST API as JSON, as
// GET /api/v1/openapi.json serves it.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

// openAPIETag names the document's bytes, for conditional requests.
var openAPIETag = sync.OnceValue(func() string {
	doc, _ := openAPIJSON()
	sum := sha256.Sum256(doc)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
})

// openAPI: GET /api/v1/openapi.json → the OpenAPI document; anyone. It
// changes only with the binary: caches may keep it a few minutes and
// revalidate with its ETag.
func (s *Server) openAPI(c *fiber.Ctx) error {
	doc, err := openAPIJSON()
	if err != nil {
		return err
	}
	etag := openAPIETag()
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderETag, etag)
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(doc)
}

// fiberParam is a Fiber path parameter, :name.
var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// Routes lists the routes registered on app as the OpenAPI document
// names its operations, "METHOD /path/{param}": middleware and the HEAD
// that Fiber adds to each GET left out. The tests hold it to the document.
func Routes(app *fiber.App) map[string]bool {
	out := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		out[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return out
}
