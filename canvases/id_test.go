package canvases_test

import (
	"testing"

	"github.com/skerhq/sker/canvases"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"01a234ca-ab7c-7d54-ad78-1b4dc519ce49":   true,
		"01A234CA-AB7C-7D54-AD78-1B4DC519CE49":   true,
		"":                                       false,
		"01a234caab7c7d54ad781b4dc519ce49":       false, // no dashes: not the canonical form
		"{01a234ca-ab7c-7d54-ad78-1b4dc519ce49}": false,
		"01a234ca-ab7c-7d54-ad78-1b4dc519ce4z":   false,
		"../../etc/passwd-xxxxxxxxxxxxxxxxxxxx":  false,
	} {
		if got := canvases.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v; want %v", id, got, want)
		}
	}
}
