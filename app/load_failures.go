package app

import skerhttp "github.com/skerhq/sker/http"

// loadFailures are the canvases whose last load on this node failed, for
// /ready's detail.
func (a *App) loadFailures() []skerhttp.FailingCanvas {
	m := a.hub.LoadFailures()
	out := make([]skerhttp.FailingCanvas, 0, len(m))
	for id, f := range m {
		out = append(out, skerhttp.FailingCanvas{ID: id, Reason: f.Reason, Error: f.Error, Since: f.Since, Attempts: f.Attempts})
	}
	return out
}
