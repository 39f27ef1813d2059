package journal_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/testkit"
)

// TestOpensTheJournalOfEarlierReleases: a NATS system that holds the
// journal as releases before NATS_PREFIX wrote it (stream SKER_JOURNAL,
// subjects sker.journal.<id>) is opened by the default Config, and its
// records are read.
func TestOpensTheJournalOfEarlierReleases(t *testing.T) {
	ctx := context.Background()
	_, js := testkit.JetStream(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "SKER_JOURNAL", Description: "SKER canvas journal: one subject per canvas", Subjects: []string{"sker.journal.*"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy, Replicas: 1, Discard: jetstream.DiscardOld,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "sker.journal.c1", []byte(`{"epoch":"old-owner"}`)); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatalf("Open with the default names beside the earlier stream: %v", err)
	}
	var epochs []string
	if _, err := j.Read(ctx, "c1", func(_ uint64, rec journal.Record) error {
		epochs = append(epochs, rec.Epoch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(epochs) != 1 || epochs[0] != "old-owner" {
		t.Fatalf("records of c1: got epochs %q; want [old-owner]", epochs)
	}
}

// TestPrefixesKeepSeparateJournals: two journals with different prefixes
// on one NATS system each read only their own records of a canvas id they
// share, and each fences only against its own.
func TestPrefixesKeepSeparateJournals(t *testing.T) {
	ctx := context.Background()
	_, js := testkit.JetStream(t)
	open := func(prefix string) *journal.Journal {
		n, err := natsname.New(prefix)
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.Open(ctx, js, journal.Config{Names: n})
		if err != nil {
			t.Fatalf("Open %s: %v", prefix, err)
		}
		return j
	}
	a, b := open("SKER"), open("OTHER")
	for _, tc := range []struct {
		j     *journal.Journal
		epoch string
	}{{a, "a1"}, {b, "b1"}, {a, "a2"}} {
		last, err := tc.j.Last(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := json.Marshal(journal.Record{Epoch: tc.epoch})
		if _, err := tc.j.Append(ctx, "c1", last, tc.epoch, rec); err != nil {
			t.Fatalf("append %s after %d: %v", tc.epoch, last, err)
		}
	}
	for name, tc := range map[string]struct {
		j    *journal.Journal
		want string
	}{"SKER": {a, "a1 a2"}, "OTHER": {b, "b1"}} {
		got := ""
		if _, err := tc.j.Read(ctx, "c1", func(_ uint64, rec journal.Record) error {
			if got != "" {
				got += " "
			}
			got += rec.Epoch
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s journal of c1: got records %q; want %q", name, got, tc.want)
		}
	}
}
