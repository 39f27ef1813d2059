package skerhttp

import (
	"sort"
	"time"
)

// FailingCanvas is a canvas whose last load on this node failed, as
// /ready reports it.
type FailingCanvas struct {
	ID       string    `json:"id"`
	Reason   string    `json:"reason"`
	Error    string    `json:"error"`
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts"`
}

// MaxReadyFailingCanvases bounds the canvases /ready lists by id; its
// count is always the full number.
const MaxReadyFailingCanvases = 20

// canvasesFailing is /ready's detail of the canvases that cannot load.
// They do not make the node unready: every other canvas on it serves, and
// a load balancer that took the node out would take those too.
type canvasesFailing struct {
	Count int `json:"count"`
	// Canvases are the longest failing first, at most
	// MaxReadyFailingCanvases of them.
	Canvases []FailingCanvas `json:"canvases"`
}

// failingDetail is the detail of Deps.LoadFailures, nil when none fail.
func (s *Server) failingDetail() *canvasesFailing {
	if s.deps.LoadFailures == nil {
		return nil
	}
	list := s.deps.LoadFailures()
	if len(list) == 0 {
		return nil
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Since.Equal(list[j].Since) {
			return list[i].Since.Before(list[j].Since)
		}
		return list[i].ID < list[j].ID
	})
	return &canvasesFailing{Count: len(list), Canvases: list[:min(len(list), MaxReadyFailingCanvases)]}
}
