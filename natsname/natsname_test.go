package natsname

import (
	"errors"
	"strings"
	"testing"
)

// all lists every name of n, per canvas for the ids given, by what it is.
func all(n Names, ids ...string) map[string]string {
	m := map[string]string{
		"journal stream":   n.JournalStream(),
		"journal subjects": n.JournalSubjects(),
		"revoked":          n.Revoked(),
		"ai stream":        n.AIStream(),
		"members stream":   n.MembersStream(),
		"members subjects": n.MemberEventsSubjects(),
		"ai jobs":          n.AIJobs(),
		"ai cancel":        n.AICancel(),
		"leases":           n.Leases(),
		"files":            n.Files(),
		"cluster nodes":    n.ClusterNodes(),
		"cluster node":     n.ClusterNode("node-1"),
	}
	for _, id := range ids {
		m["journal "+id] = n.Journal(id)
		m["changes "+id] = n.Changes(id)
		m["presence "+id] = n.Presence(id)
		m["members "+id] = n.Members(id)
		m["ai deltas "+id] = n.AIDeltas(id)
		m["member events "+id] = n.MemberEvents(id)
	}
	return m
}

// TestDefaultsAreTheEarlierNames: the default prefix gives exactly the
// names every release used before the prefix could be set, so an existing
// DATA_DIR/jetstream (stream SKER_JOURNAL on sker.journal.*) still loads.
func TestDefaultsAreTheEarlierNames(t *testing.T) {
	want := map[string]string{
		"journal stream":   "SKER_JOURNAL",
		"journal subjects": "sker.journal.*",
		"revoked":          "sker.canvas.revoked",
		"ai stream":        "SKER_AI",
		"members stream":   "SKER_MEMBERS",
		"members subjects": "sker.members.*",
		"ai jobs":          "sker.ai.jobs",
		"ai cancel":        "sker.ai.cancel",
		"leases":           "SKER_LEASES",
		"files":            "SKER_FILES",
		"cluster nodes":    "sker.cluster.nodes",
		"journal c1":       "sker.journal.c1",
		"changes c1":       "sker.canvas.c1.changes",
		"presence c1":      "sker.canvas.c1.presence",
		"members c1":       "sker.canvas.c1.members",
		"ai deltas c1":     "sker.canvas.c1.ai",
		"member events c1": "sker.members.c1",
	}
	for name, n := range map[string]Names{"Default()": Default(), `New("SKER")`: mustNew(t, "SKER"), `New("sker")`: mustNew(t, "sker")} {
		got := all(n, "c1")
		for what, w := range want {
			if got[what] != w {
				t.Errorf("%s %s: got %q; want %q", name, what, got[what], w)
			}
		}
	}
	if HeaderFirstSeq != "Sker-First-Seq" || HeaderLastSeq != "Sker-Last-Seq" || AIWorkers != "sker-ai-workers" {
		t.Errorf("fixed names: got %q, %q, %q; want Sker-First-Seq, Sker-Last-Seq, sker-ai-workers", HeaderFirstSeq, HeaderLastSeq, AIWorkers)
	}
	if Default().IsZero() || !(Names{}).IsZero() {
		t.Errorf("IsZero: got %t for Default, %t for the zero value; want false, true", Default().IsZero(), (Names{}).IsZero())
	}
}

// TestPrefixChangesEveryName: another prefix changes every stream, subject
// and bucket, and its subjects begin with a first token of its own.
func TestPrefixChangesEveryName(t *testing.T) {
	def := all(Default(), "c1")
	other := all(mustNew(t, "Team-b_2"), "c1")
	for what, d := range def {
		o := other[what]
		if o == d {
			t.Errorf("%s: got %q with both prefixes; want different names", what, o)
		}
		if strings.Contains(o, ".") && !strings.HasPrefix(o, "team-b_2.") {
			t.Errorf("%s: got subject %q; want it to start with the token team-b_2", what, o)
		}
		if !strings.Contains(o, ".") && !strings.HasPrefix(o, "TEAM-B_2_") {
			t.Errorf("%s: got stream or bucket %q; want it to start with TEAM-B_2_", what, o)
		}
	}
}

// TestNoTwoNamesCollide: for canvas ids the gateway accepts (letters,
// digits, '_' and '-'), including ids equal to the words used in the
// names, no two names of one or of two deployments are equal, and the
// journal's subject filter matches only journal subjects.
func TestNoTwoNamesCollide(t *testing.T) {
	ids := []string{"c1", "revoked", "cluster", "nodes", "jobs", "cancel", "journal", "canvas", "ai", "changes", "presence", "members",
		"sker", "SKER", "_", "-", "a_b-C", strings.Repeat("z", 64)}
	seen := map[string]string{}
	for _, prefix := range []string{"SKER", "OTHER", "sker-canvas", "SKER_AI", "KV"} {
		n := mustNew(t, prefix)
		for what, name := range all(n, ids...) {
			key := prefix + " " + what
			if prev, ok := seen[name]; ok {
				t.Errorf("%q is both %s and %s", name, prev, key)
			}
			seen[name] = key
			// JetStream stores a key-value bucket as the stream
			// KV_<bucket> and an object store as OBJ_<bucket>.
			for kind, stream := range map[string]string{"leases": "KV_", "files": "OBJ_"} {
				if what != kind {
					continue
				}
				if prev, ok := seen[stream+name]; ok {
					t.Errorf("bucket stream %s%s is also %s", stream, name, prev)
				}
				seen[stream+name] = key + " (its stream)"
			}
		}
	}
	for _, prefix := range []string{"SKER", "OTHER"} {
		n := mustNew(t, prefix)
		for name, what := range seen {
			if strings.Contains(name, "*") {
				continue // the filter itself
			}
			isJournal := strings.HasPrefix(what, prefix+" journal ") && what != prefix+" journal stream"
			if got := matches(n.JournalSubjects(), name); got != isJournal {
				t.Errorf("%s matches %q (%s): got %t; want %t", n.JournalSubjects(), name, what, got, isJournal)
			}
			isMembers := strings.HasPrefix(what, prefix+" member events ")
			if got := matches(n.MemberEventsSubjects(), name); got != isMembers {
				t.Errorf("%s matches %q (%s): got %t; want %t", n.MemberEventsSubjects(), name, what, got, isMembers)
			}
			if got := matches(n.AIJobs(), name); got != (what == prefix+" ai jobs") {
				t.Errorf("%s is %q (%s): got %t; want %t", n.AIJobs(), name, what, got, !got)
			}
		}
	}
}

// matches reports whether the subject filter (with '*' wildcards) matches
// subject; a name without a '.' is a stream or bucket, never a subject.
func matches(filter, subject string) bool {
	if !strings.Contains(subject, ".") {
		return false
	}
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"SKER", "sker", "a", "9", "team-b_2", strings.Repeat("P", MaxPrefixLen)} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q): got %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", "-a", "_a", "é", "a/b", "$SYS", strings.Repeat("P", MaxPrefixLen+1)} {
		err := Check(bad)
		if !errors.Is(err, ErrPrefix) {
			t.Errorf("Check(%q): got %v; want ErrPrefix", bad, err)
		}
		if _, err := New(bad); !errors.Is(err, ErrPrefix) {
			t.Errorf("New(%q): got %v; want ErrPrefix", bad, err)
		}
	}
}

func mustNew(t *testing.T, prefix string) Names {
	t.Helper()
	n, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMembersCanvas(t *testing.T) {
	n, err := New("ACME")
	if err != nil {
		t.Fatal(err)
	}
	for subject, want := range map[string]string{
		n.Members("c1"):               "c1",
		n.Changes("c1"):               "",
		"acme.canvas..members":        "",
		"acme.canvas.a.b.members":     "",
		"sker.canvas.c1.members":      "",
		"acme.canvas.c1.members.more": "",
	} {
		if got := n.MembersCanvas(subject); got != want {
			t.Errorf("MembersCanvas(%q) = %q; want %q", subject, got, want)
		}
	}
	if got := n.AllMembers(); got != "acme.canvas.*.members" {
		t.Errorf("AllMembers() = %q", got)
	}
}
