package journal_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/testkit"
)

// TestTrimWaitsForDurableReaders: a trim keeps every record a durable
// consumer of the journal has not acked, and trims up to the checkpoint
// once it has; an ephemeral reader holds nothing back.
func TestTrimWaitsForDurableReaders(t *testing.T) {
	ctx := context.Background()
	_, js := testkit.JetStream(t)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	stream := natsname.Default().JournalStream()
	reader, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckAllPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := range 10 {
		if last, err = j.Append(ctx, "c1", last, "m"+strconv.Itoa(i), []byte(`{"epoch":"e"}`)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		if _, err := j.Read(ctx, "c1", func(uint64, journal.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Nothing read yet: the checkpoint covers 1..8, the reader none.
	if err := j.Trim(ctx, "c1", 9); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 10 {
		t.Fatalf("after a trim below 9 with a reader at 0: %d records; want all 10", got)
	}
	// The reader acks 1..4: the trim may take those.
	batch, err := reader.Fetch(4)
	if err != nil {
		t.Fatal(err)
	}
	var lastMsg jetstream.Msg
	for m := range batch.Messages() {
		lastMsg = m
	}
	if err := lastMsg.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the trim's last look at the readers expires
	if err := j.Trim(ctx, "c1", 9); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 6 {
		t.Fatalf("after a trim below 9 with the reader's ack floor at 4: %d records; want 6 (5..10)", got)
	}
	// Without durable readers, the trim goes up to the checkpoint.
	if err := js.DeleteConsumer(ctx, stream, "reader"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := j.Trim(ctx, "c1", 9); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 2 {
		t.Fatalf("after a trim below 9 without readers: %d records; want 2 (9, 10)", got)
	}
}
