package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers of every mapping's dead letter, besides the message's own (a
// generic mapping's; a command's, with those of HeaderCode; a journal
// record's, with HeaderStreamSeq).
const (
	HeaderReason  = "x-sker-reason"  // why it could not be moved
	HeaderMapping = "x-sker-mapping" // the mapping's name
	HeaderSubject = "x-sker-subject" // the NATS subject, from a subject
)

// Headers a generic mapping sets, on NATS (from a queue) and on RabbitMQ
// (from a subject).
const (
	// NATS headers of the AMQP properties.
	NATSHeaderCorrelationID = "Sker-Correlation-Id"
	NATSHeaderType          = "Sker-Type"
	NATSHeaderAppID         = "Sker-App-Id"
	NATSHeaderEncoding      = "Content-Encoding"
	NATSHeaderContentType   = "Content-Type"
	// AMQP headers of a message from a subject.
	HeaderNATSSubject = "sker-subject"    // the subject it was published on
	HeaderStreamSeq   = "sker-stream-seq" // its sequence in its stream
)

// GenericStreamMaxAge is how long a stream the bridge creates for a
// generic mapping keeps a message.
const GenericStreamMaxAge = 7 * 24 * time.Hour

// GenericDuplicateWindow is the duplicate window of a stream the bridge
// creates: a message id seen again within it is dropped.
const GenericDuplicateWindow = 2 * time.Minute

// GenericStream is the stream the bridge creates for a mapping whose
// subject no stream captures.
func GenericStream(prefix, mapping string) string {
	return strings.ToUpper(prefix) + "_BRIDGE_" + strings.ToUpper(mapping)
}

// GenericConsumer is the durable JetStream consumer of a mapping from a
// subject.
func GenericConsumer(mapping string) string { return "sker-bridge-" + mapping }

// GenericLeaseKey is the lease of a mapping from a subject on a cluster,
// in the lease bucket; like EventsLeaseKey it cannot be a canvas's key.
func GenericLeaseKey(mapping string) string { return "bridge-generic." + mapping }

// newGeneric builds the configured generic mappings; those from a subject
// create their stream (when none captures the subject) and durable
// consumer now, so that what is published after New returns goes out.
func (b *Bridge) newGeneric(ctx context.Context) error {
	for i := range b.cfg.Generic {
		m := &b.cfg.Generic[i]
		if m.Inbound() {
			b.mappings = append(b.mappings, newGenericIn(&b.cfg, m, b.log))
			continue
		}
		out, err := newGenericOut(ctx, &b.cfg, m, b.log)
		if err != nil {
			return err
		}
		b.mappings = append(b.mappings, out)
	}
	return nil
}

// declareGeneric declares the generic mappings' queues and exchanges.
// A queue a mapping consumes is a single active consumer queue: on a
// cluster, one node at a time takes its messages, in order.
func (b *Bridge) declareGeneric(ch *amqp.Channel) error {
	for _, m := range b.cfg.Generic {
		if m.Inbound() {
			args := amqp.Table{"x-single-active-consumer": true}
			if _, err := ch.QueueDeclare(m.FromQueue, true, false, false, false, args); err != nil {
				return fmt.Errorf("bridge: %s: declare queue %s: %w", m.Name, m.FromQueue, err)
			}
		} else if err := ch.ExchangeDeclare(m.ToExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("bridge: %s: declare exchange %s: %w", m.Name, m.ToExchange, err)
		}
		if _, err := ch.QueueDeclare(m.DeadLetterQueue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("bridge: %s: declare queue %s: %w", m.Name, m.DeadLetterQueue, err)
		}
	}
	return nil
}

// ensureStream returns the stream that captures subject, creating
// GenericStream for the mapping when none does.
func ensureStream(ctx context.Context, cfg *Config, m *GenericMapping, subject string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name, err := cfg.JS.StreamNameBySubject(ctx, subject)
	if err == nil {
		return name, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", fmt.Errorf("bridge: %s: find the stream of %s: %w", m.Name, subject, err)
	}
	name = GenericStream(cfg.Names.Prefix(), m.Name)
	_, err = cfg.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Description: "SKER bridge: mapping " + m.Name, Subjects: []string{subject},
		Storage: jetstream.FileStorage, MaxAge: GenericStreamMaxAge, Duplicates: GenericDuplicateWindow,
		Replicas: max(cfg.Replicas, 1),
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return "", fmt.Errorf("bridge: %s: create stream %s for %s: %w", m.Name, name, subject, err)
	}
	return name, nil
}

// checkGeneric reports a generic mapping the bridge cannot run.
func (c *Config) checkGeneric() error {
	seen := map[string]bool{}
	own := strings.ToLower(c.Names.Prefix())
	for i := range c.Generic {
		m := &c.Generic[i]
		if err := m.check(); err != nil { // again: it may be built in code, not read from a file
			return fmt.Errorf("bridge: Generic[%d] (%s): %w", i, m.Name, err)
		}
		if seen[m.Name] {
			return fmt.Errorf("bridge: Generic[%d] (%s): name: used by another mapping", i, m.Name)
		}
		seen[m.Name] = true
		if c.JS == nil {
			return fmt.Errorf("bridge: Generic[%d] (%s): JS is required", i, m.Name)
		}
		if m.Inbound() {
			toks := strings.SplitN(m.ToSubject, ".", 3)
			if strings.ToLower(toks[0]) == own && (len(toks) < 3 || toks[1] != "ext") {
				return fmt.Errorf("bridge: Generic[%d] (%s): to_subject: %q is in SKER's own subjects; use %s.ext.… or a subject outside %s.…", i, m.Name, m.ToSubject, own, own)
			}
		}
	}
	return nil
}

// natsHeaderValue is an AMQP header value as a NATS header's text, false
// for a value that has none (a table, an array, bytes).
func natsHeaderValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(v), true
	case time.Time:
		return v.UTC().Format(time.RFC3339), true
	}
	return "", false
}
