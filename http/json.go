package skerhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/textcheck"
)

// DecodeJSON reads the request body into dst strictly: the body must be
// application/json (415 unsupported_media_type otherwise), one JSON object
// with no unknown fields and nothing after it (400 bad_request). A value of
// the wrong type is 400 invalid_field naming the field. A string anywhere
// in the body, keys included, that is not valid UTF-8 or holds U+0000 or a
// lone surrogate is 400 invalid_text naming where (textcheck): without it
// encoding/json would replace bad bytes in Go strings but keep them in raw
// values, and PostgreSQL would refuse a NUL that SQLite keeps.
func DecodeJSON(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(body) > 0 && !isJSON(c.Get(fiber.HeaderContentType)) {
		return unsupportedMedia()
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apierr.BadRequest("request body is required")
	}
	return decodeJSONBytes(body, dst)
}

// decodeJSONBytes decodes body as DecodeJSON does a request's: one object,
// no unknown field, text checked.
func decodeJSONBytes(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.BadRequest("request body must hold a single JSON object")
	}
	if p := textcheck.JSON(body); p != nil {
		return apierr.InvalidText(p.Path, p.Message())
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == fiber.MIMEApplicationJSON
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return apierr.BadRequest("request body must be a JSON object")
		}
		return apierr.Invalid(typeErr.Field, "must be a JSON "+jsonKind(typeErr.Type.Kind().String()))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		e := apierr.BadRequest("unknown field " + name)
		e.Field = strings.Trim(name, `"`)
		return e
	}
	return apierr.BadRequest("malformed JSON")
}

// jsonKind names a Go kind as JSON would.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
		"float32", "float64":
		return "number"
	}
	return "value"
}
