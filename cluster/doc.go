// Package cluster is what the nodes of a sker cluster know of each other:
// Membership, the table of live nodes kept from their announcements on
// NATS, and Owner, the placement of a canvas on one of them by rendezvous
// hashing. docs/cluster.md describes both.
package cluster
