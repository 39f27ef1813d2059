package cluster

import (
	"time"
)

// goneCheck is how often the router looks for calls waiting on a node
// that membership no longer lists.
const goneCheck = 500 * time.Millisecond

// watchGone ends, every goneCheck, the attempts waiting on a node that is
// no longer live (its heartbeats stopped: killed, cut off, or stopped),
// instead of letting each wait out RequestTimeout: they are retried at
// once, and the canvas is found again as soon as its lease lapses. An
// attempt so ended may have reached its node, so it counts as a timeout:
// a batch without a client batch id is then ErrOutcomeUnknown.
func (r *Router) watchGone() {
	t := time.NewTicker(goneCheck)
	defer t.Stop()
	for {
		select {
		case <-r.closed:
			return
		case <-t.C:
		}
		waiting := r.mux.subjects(2 * goneCheck)
		if len(waiting) == 0 {
			continue
		}
		live := map[string]bool{}
		for _, n := range r.cfg.Live() {
			live[r.cfg.Names.ClusterNode(n)] = true
		}
		for subject := range waiting {
			if !live[subject] {
				if n := r.mux.abandon(subject, "its node is gone from the cluster"); n > 0 {
					r.cfg.Logger.Info("cluster: calls to a node that is gone tried again", "subject", subject, "calls", n)
				}
			}
		}
	}
}
