// Package natsname holds every NATS name SKER uses: the JetStream streams,
// the subjects, the key-value buckets and the message headers. Each
// component gets its names from one Names value, built from the
// deployment's prefix (NATS_PREFIX), so that changing the prefix changes
// every name together and two deployments with different prefixes can
// share one NATS system without sharing a journal, a work queue or a
// fanout.
//
// The names of the default prefix SKER:
//
//	stream    SKER_JOURNAL   subjects sker.journal.*   (one per canvas: sker.journal.<id>)
//	stream    SKER_AI        subject  sker.ai.jobs     (consumer sker-ai-workers)
//	stream    SKER_MEMBERS   subjects sker.members.*   (membership changes for the bridge's events out: sker.members.<id>)
//	subject   sker.canvas.<id>.changes    committed batches, headers Sker-First-Seq, Sker-Last-Seq
//	subject   sker.canvas.<id>.presence   presence frames
//	subject   sker.canvas.<id>.members    membership changes
//	subject   sker.canvas.<id>.ai         AI answer deltas
//	subject   sker.canvas.revoked         revoked credentials
//	subject   sker.ai.cancel              AI runs to cancel
//	subject   sker.cluster.nodes          a cluster's node announcements (heartbeats and leaves)
//	subject   sker.cluster.node.<name>    requests to the canvases a node owns (the cluster's routing)
//	bucket    SKER_LEASES    canvas ownership leases of a cluster
//	objects   SKER_FILES     uploaded files with FILE_STORE=nats (stream OBJ_SKER_FILES)
//
// A prefix is case-insensitive: streams and buckets take it in upper case,
// subjects in lower case, so "sker" and "SKER" name one deployment. Every
// subject begins with the prefix as its own token, so deployments with
// different prefixes have disjoint subjects, wildcards included. Key-value
// buckets are named <PREFIX>_<PURPOSE> (JetStream stores a bucket as the
// stream KV_<PREFIX>_<PURPOSE>), and so is the object store (stored as the
// stream OBJ_<PREFIX>_FILES). Headers need no prefix: they travel on
// subjects that already have one.
package natsname

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// DefaultPrefix is the prefix of a deployment that sets none; its names
// are those of every release before the prefix could be set, so existing
// data folders keep their journal.
const DefaultPrefix = "SKER"

// MaxPrefixLen bounds a prefix, so that every stream and bucket name stays
// short (the longest, KV_<PREFIX>_LEASES, at most 42 bytes).
const MaxPrefixLen = 32

// Headers of a fanout message on a Changes subject; its body is a
// "changes" frame of the batches HeaderFirstSeq..HeaderLastSeq.
const (
	HeaderFirstSeq = "Sker-First-Seq"
	HeaderLastSeq  = "Sker-Last-Seq"
)

// AIWorkers is the durable consumer of the AI work queue that every AI
// worker shares. It lives on the deployment's AI stream, so it needs no
// prefix.
const AIWorkers = "sker-ai-workers"

// ErrPrefix: a prefix that is empty, too long or has a character other
// than a letter, a digit, '_' or '-'.
var ErrPrefix = errors.New("natsname: bad prefix")

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Check reports whether prefix can name a deployment: 1 to MaxPrefixLen
// letters (ASCII), digits, '_' and '-', starting with a letter or digit.
func Check(prefix string) error {
	if len(prefix) == 0 || len(prefix) > MaxPrefixLen || !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("%w: want 1 to %d letters, digits, '_' or '-' (starting with a letter or digit), got %q",
			ErrPrefix, MaxPrefixLen, prefix)
	}
	return nil
}

// Names are a deployment's NATS names. The zero value is not usable
// (IsZero reports it); components take Default in its place.
type Names struct {
	upper string // prefix of streams and buckets
	lower string // first token of every subject
}

// New returns the names of the deployment with prefix; see Check.
func New(prefix string) (Names, error) {
	if err := Check(prefix); err != nil {
		return Names{}, err
	}
	return Names{upper: strings.ToUpper(prefix), lower: strings.ToLower(prefix)}, nil
}

// Default is New(DefaultPrefix).
func Default() Names { return Names{upper: DefaultPrefix, lower: strings.ToLower(DefaultPrefix)} }

// IsZero reports whether n is the zero Names, which a Config leaves for
// Default.
func (n Names) IsZero() bool { return n.upper == "" }

// Prefix is the deployment's prefix, in upper case.
func (n Names) Prefix() string { return n.upper }

// String is the prefix, for logs.
func (n Names) String() string { return n.upper }

// JournalStream is the stream of every canvas's journal.
func (n Names) JournalStream() string { return n.upper + "_JOURNAL" }

// JournalSubjects is the journal stream's subject filter: one subject per
// canvas.
func (n Names) JournalSubjects() string { return n.lower + ".journal.*" }

// Journal is the journal subject of a canvas.
func (n Names) Journal(canvasID string) string { return n.lower + ".journal." + canvasID }

// Changes is the subject on which a canvas's committed batches are fanned
// out to every gateway, with the headers HeaderFirstSeq and HeaderLastSeq.
func (n Names) Changes(canvasID string) string { return n.canvas(canvasID, "changes") }

// Presence is the subject of a canvas's presence frames.
func (n Names) Presence(canvasID string) string { return n.canvas(canvasID, "presence") }

// Members is the subject that tells every gateway a canvas's membership
// changed.
func (n Names) Members(canvasID string) string { return n.canvas(canvasID, "members") }

// AllMembers matches the Members subject of every canvas.
func (n Names) AllMembers() string { return n.canvas("*", "members") }

// MembersCanvas is the canvas id of a Members subject, or "" when subject
// is not one.
func (n Names) MembersCanvas(subject string) string {
	id, ok := strings.CutPrefix(subject, n.lower+".canvas.")
	if !ok {
		return ""
	}
	id, ok = strings.CutSuffix(id, ".members")
	if !ok || id == "" || strings.Contains(id, ".") {
		return ""
	}
	return id
}

// AIDeltas is the subject on which the AI engine streams a canvas's
// answers to the gateways.
func (n Names) AIDeltas(canvasID string) string { return n.canvas(canvasID, "ai") }

// Revoked is the subject that tells every gateway a credential was
// revoked. It has a token fewer than the per-canvas subjects, so no canvas
// id can make one of them equal it.
func (n Names) Revoked() string { return n.lower + ".canvas.revoked" }

// MembersStream is the stream of membership changes that the RabbitMQ
// bridge publishes to its events exchange (canvas.<id>.members): the
// durable record of what Members only tells the gateways that listen.
func (n Names) MembersStream() string { return n.upper + "_MEMBERS" }

// MemberEventsSubjects is the members stream's subject filter: one
// subject per canvas.
func (n Names) MemberEventsSubjects() string { return n.lower + ".members.*" }

// MemberEvents is the subject of a canvas's membership changes in the
// members stream. Its second token is neither "canvas" nor "journal", so
// no canvas id can make it equal another name.
func (n Names) MemberEvents(canvasID string) string { return n.lower + ".members." + canvasID }

// AIStream is the stream of the AI work queue.
func (n Names) AIStream() string { return n.upper + "_AI" }

// AIJobs is the subject of the AI work queue, the AI stream's only one.
func (n Names) AIJobs() string { return n.lower + ".ai.jobs" }

// AICancel is the subject that tells every AI engine to stop a run.
func (n Names) AICancel() string { return n.lower + ".ai.cancel" }

// ClusterNodes is the subject on which every node of a cluster announces
// itself (a heartbeat each interval, and a leave when it stops). Its second
// token is neither "canvas" nor "journal", so no canvas id can make a
// per-canvas subject equal it.
func (n Names) ClusterNodes() string { return n.lower + ".cluster.nodes" }

// ClusterNode is the subject on which node takes requests for the canvases
// it owns, from the other nodes' routing. A node name (NODE_NAME) has no
// space or wildcard; a '.' in it only adds tokens, so two names never share
// a subject, and the third token "node" keeps every one apart from
// ClusterNodes.
func (n Names) ClusterNode(node string) string { return n.lower + ".cluster.node." + node }

// Leases is the key-value bucket of the canvas ownership leases of a
// cluster of nodes.
func (n Names) Leases() string { return n.upper + "_LEASES" }

// Files is the object store bucket of uploaded files when they are kept
// in JetStream (FILE_STORE=nats), replicated like the journal.
func (n Names) Files() string { return n.upper + "_FILES" }

func (n Names) canvas(canvasID, kind string) string {
	return n.lower + ".canvas." + canvasID + "." + kind
}
