// Package cluster is what the nodes of a sker cluster know of each other:
// Membership, the table of live nodes kept from their announcements on
// NATS; Owner, the placement of a canvas on one of them by rendezvous
// hashing; Leases, the ownership of a canvas by one node; and Router, the
// canvases.Canvases of a cluster, which sends each call to the canvas's
// owner over NATS request/reply and answers the other nodes' calls for
// the canvases this node owns (the wire format is in wire.go).
// docs/cluster.md describes them.
package cluster
