package canvas

import "sort"

// Upstream returns the nodes that feed node id through incoming edges,
// transitively, in graph order: the farthest first and the nearest last,
// nodes at the same distance by id. Cycles are followed once; id itself is
// never included.
func (s *State) Upstream(id string) []*Node {
	dist := map[string]int{id: 0}
	frontier := []string{id}
	var found []string
	for d := 1; len(frontier) > 0; d++ {
		var next []string
		for _, n := range frontier {
			for eid := range s.links[n] {
				e := s.Edges[eid]
				if e == nil || e.Target != n {
					continue
				}
				if _, seen := dist[e.Source]; seen || s.Nodes[e.Source] == nil {
					continue
				}
				dist[e.Source] = d
				next = append(next, e.Source)
				found = append(found, e.Source)
			}
		}
		frontier = next
	}
	sort.Slice(found, func(i, j int) bool {
		if dist[found[i]] != dist[found[j]] {
			return dist[found[i]] > dist[found[j]]
		}
		return found[i] < found[j]
	})
	out := make([]*Node, len(found))
	for i, nid := range found {
		out[i] = s.Nodes[nid]
	}
	return out
}
