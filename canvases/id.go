package canvases

import "github.com/google/uuid"

// ValidID reports whether id is a canvas id in the only form SKER issues:
// a UUID in canonical form (36 characters). Every entry point (REST, the
// bridge, the operator routes) checks an id with it before it asks for
// the canvas, so a malformed id is refused the same way everywhere.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}
