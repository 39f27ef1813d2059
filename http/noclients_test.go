package skerhttp_test

import (
	"net/http"
	"testing"

	"github.com/skerhq/sker/apierr"
	skerhttp "github.com/skerhq/sker/http"
)

// TestNoClientsServesNoAPI: a node without the gateway role answers every
// API route 404 saying so, registration included (nothing is created),
// while /health still answers.
func TestNoClientsServesNoAPI(t *testing.T) {
	h := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) { c.NoClients = true })
	h.post("/api/v1/auth/register", "", map[string]string{"email": "ann@example.com", "password": "correct horse battery", "name": "Ann"}).
		wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	h.get("/api/v1/me", "").wantError(t, http.StatusNotFound, apierr.CodeNotFound, "")
	if r := h.get("/health", ""); r.status != http.StatusOK {
		t.Fatalf("/health on a node that serves no clients: %d; want 200", r.status)
	}
}
