package cluster

// Placement: a canvas's preferred owner among the live nodes that have the
// canvases role, by rendezvous (highest-random-weight) hashing. Each node
// gets a weight for the canvas, a hash of both names, and the node of the
// highest weight is the owner. A node that joins takes only the canvases
// for which its weight is now the highest (about 1/(N+1) of them with N
// nodes before), all from the others; a node that leaves gives up only its
// own, each to the node of the next weight. Every node computes the same
// owner from the same list, since the hash is fixed (FNV-1a, 64 bits,
// then a finaliser), not seeded per process as hash/maphash is.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Owner is the node of nodes that rendezvous hashing prefers for
// canvasID; "" when nodes is empty. The order of nodes does not matter;
// a name listed twice counts once.
func Owner(canvasID string, nodes []string) string {
	best, bestW := "", uint64(0)
	for _, n := range nodes {
		w := Weight(canvasID, n)
		// Ties (of a 64-bit hash) go to the greater name, so that the
		// answer never depends on the order of nodes.
		if best == "" || w > bestW || (w == bestW && n > best) {
			best, bestW = n, w
		}
	}
	return best
}

// Weight is node's weight for canvasID: FNV-1a over the node's name, a
// zero byte (neither name has one) and the canvas id, mixed by the
// splitmix64 finaliser so that names that differ in their last bytes get
// weights that differ in every bit.
func Weight(canvasID, node string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(node); i++ {
		h ^= uint64(node[i])
		h *= fnvPrime
	}
	h *= fnvPrime // the zero byte: h ^= 0 changes nothing
	for i := 0; i < len(canvasID); i++ {
		h ^= uint64(canvasID[i])
		h *= fnvPrime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
