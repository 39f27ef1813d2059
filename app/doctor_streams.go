package app

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/natsname"
)

// StreamHealth is one JetStream stream of the deployment (the journal,
// the member events, the AI jobs, the leases and files buckets) as
// `sker doctor` found it: its replicas and their leader.
type StreamHealth struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"` // configured
	Cluster  string `json:"cluster,omitempty"`
	Leader   string `json:"leader,omitempty"`
	// Peers are the followers: whether each is current with the leader,
	// offline, and how many operations it is behind.
	Peers []PeerHealth `json:"peers,omitempty"`
	// Warning says what is unhealthy (no leader, a follower not current
	// or offline, fewer followers than replicas); empty when all is well.
	Warning string `json:"warning,omitempty"`
}

// PeerHealth is one follower of a stream.
type PeerHealth struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline"`
	Lag     uint64 `json:"lag"`
}

// deploymentStream reports whether a stream name is one of names's: its
// own streams and the streams behind its KV and object store buckets.
func deploymentStream(names natsname.Names, stream string) bool {
	for _, p := range []string{"KV_", "OBJ_"} {
		stream = strings.TrimPrefix(stream, p)
	}
	return strings.HasPrefix(stream, names.Prefix()+"_")
}

// streamHealth lists the deployment's streams with their replicas.
func streamHealth(ctx context.Context, js jetstream.JetStream, names natsname.Names) ([]StreamHealth, error) {
	var out []StreamHealth
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		if !deploymentStream(names, info.Config.Name) {
			continue
		}
		out = append(out, newStreamHealth(info))
	}
	if err := lister.Err(); err != nil {
		return out, fmt.Errorf("app: doctor: list streams: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func newStreamHealth(info *jetstream.StreamInfo) StreamHealth {
	h := StreamHealth{Name: info.Config.Name, Replicas: max(info.Config.Replicas, 1)}
	var warn []string
	if ci := info.Cluster; ci != nil {
		h.Cluster, h.Leader = ci.Name, ci.Leader
		for _, p := range ci.Replicas {
			h.Peers = append(h.Peers, PeerHealth{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
			switch {
			case p.Offline:
				warn = append(warn, p.Name+" offline")
			case !p.Current:
				warn = append(warn, fmt.Sprintf("%s not current (%d behind)", p.Name, p.Lag))
			}
		}
	}
	if h.Replicas > 1 && h.Leader == "" {
		warn = append([]string{"no leader"}, warn...)
	}
	if followers := h.Replicas - 1; h.Leader != "" && len(h.Peers) < followers {
		warn = append(warn, fmt.Sprintf("%d of %d followers known", len(h.Peers), followers))
	}
	h.Warning = strings.Join(warn, "; ")
	return h
}

// String is the stream's line in the doctor's text report.
func (h StreamHealth) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stream %s: R%d", h.Name, h.Replicas)
	if h.Leader != "" {
		current := 0
		for _, p := range h.Peers {
			if p.Current && !p.Offline {
				current++
			}
		}
		fmt.Fprintf(&b, ", leader %s, %d of %d followers current", h.Leader, current, h.Replicas-1)
	}
	if h.Warning != "" {
		fmt.Fprintf(&b, ": WARNING: %s", h.Warning)
	}
	return b.String()
}
