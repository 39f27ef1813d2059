package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/cluster"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// Canvases is what the bridge needs of the canvas contract
// (canvases.Canvases; *actors.Hub on one node): every command is applied
// through Submit, as REST and WebSocket changes are, so that it is
// validated, ordered, journaled and fanned out like theirs. Errors are the
// contract's: a *canvas.OpError for a rejected batch, canvases.ErrNotFound,
// canvases.ErrUnavailable and canvases.ErrOutcomeUnknown.
type Canvases interface {
	// Submit commits ops as one batch by author and returns its seq once
	// the journal has it. A second batch with the same author and
	// clientBatchID is answered with the first one's seq. The caller has
	// checked that author may edit.
	Submit(ctx context.Context, canvasID, author, clientBatchID string, ops []canvas.Op) (uint64, error)
}

var _ Canvases = canvases.Canvases(nil)

// Authenticator resolves the bearer token of a command; *auth.Service
// implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (auth.Principal, error)
}

// Roles looks up a user's role on a canvas (store.ErrNotFound for a
// non-member or a missing canvas); every store.Store implements it.
type Roles interface {
	Role(ctx context.Context, canvasID, userID string) (store.Role, error)
}

// Default names of the topology.
const (
	DefaultCommandsQueue   = "sker.commands"
	DefaultDeadLetterQueue = "sker.commands.dead"
	DefaultEventsExchange  = "sker.events"
	DefaultEventsConsumer  = "sker-bridge-events"
)

// Config configures a Bridge. Zero fields take the documented defaults.
type Config struct {
	// URL is the RabbitMQ server, amqp://… or amqps://…; required.
	URL string
	// Logger is where the bridge logs; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the bridge's metrics; nil leaves them
	// unregistered.
	Registerer prometheus.Registerer

	// DisableCommands turns the commands mapping off.
	DisableCommands bool
	// Canvases applies commands; required unless DisableCommands.
	Canvases Canvases
	// Auth authenticates commands' API tokens; required unless
	// DisableCommands.
	Auth Authenticator
	// Roles tells whether a command's user may edit its canvas; required
	// unless DisableCommands.
	Roles Roles
	// CommandsQueue is the durable queue of commands; default
	// DefaultCommandsQueue.
	CommandsQueue string
	// DeadLetterQueue is the durable queue that receives a copy of every
	// command rejected for good; default DefaultDeadLetterQueue.
	DeadLetterQueue string
	// Prefetch is how many commands may be unacked at once; default 64.
	Prefetch int
	// MaxAttempts is how many times a command that fails for a passing
	// reason (the canvas unavailable, the outcome unknown) is tried before
	// it is rejected for good; default 5.
	MaxAttempts int
	// MaxBodyBytes caps a command's body; default 1 MiB (the REST API's
	// cap).
	MaxBodyBytes int
	// SubmitTimeout bounds one attempt to apply a command; default 15s.
	SubmitTimeout time.Duration
	// Outcomes is how many final outcomes the bridge remembers for
	// redeliveries; default 10000.
	Outcomes int

	// DisableEvents turns the events mapping off.
	DisableEvents bool
	// JS is the node's JetStream; required unless DisableEvents.
	JS jetstream.JetStream
	// Names gives the journal's stream (Names.JournalStream()), which the
	// events mapping reads; zero means natsname.Default(). The canvas of a
	// record is the last token of its subject.
	Names natsname.Names
	// EventsExchange is the durable topic exchange that committed batches
	// go to; default DefaultEventsExchange.
	EventsExchange string
	// EventsConsumer is the durable JetStream consumer that keeps the
	// bridge's place in the journal; default DefaultEventsConsumer.
	EventsConsumer string
	// EventsDeadLetterQueue is the durable queue that receives a record of
	// the journal or the members stream that cannot be read (with the
	// reason in its headers) instead of the events exchange; default
	// EventsExchange + ".dead".
	EventsDeadLetterQueue string
	// MaxInFlight caps the journal records published and not yet
	// confirmed; default 256.
	MaxInFlight int
	// Leases, on a cluster, makes the events mapping run on one node at a
	// time: the holder of the lease EventsLeaseKey(EventsConsumer) in this
	// bucket (the canvases' ownership leases). The other nodes stand by
	// and claim it when it lapses or is released. Nil: the events run
	// whenever the bridge is connected, as on a node alone.
	Leases *cluster.Leases
	// Node is this node's name (NODE_NAME), the lease's holder; required
	// with Leases.
	Node string
	// StandbyPoll is how often a node standing by tries to claim the
	// events lease; default 500ms.
	StandbyPoll time.Duration

	// AIWorkers, when set, is a mapping of its own on the bridge's
	// connection: the AI jobs that the node's AI engine sends to workers
	// outside SKER (AI_WORKER_QUEUE), and their answers.
	AIWorkers *AIWorkers

	// Generic are the mappings of the configuration file (BRIDGE_CONFIG,
	// LoadGenericConfig), each on the bridge's connection. They need JS;
	// those from a subject run, on a cluster, on the holder of their lease
	// GenericLeaseKey(name) in Leases.
	Generic []GenericMapping
	// Replicas is the replicas of the streams the bridge creates: the
	// members stream, and the stream of a generic mapping whose subject no
	// stream captures; by default the journal's (1 where there is none).
	Replicas int

	// ConfirmTimeout bounds the wait for one publisher confirm (a wait
	// that does not end is amqp091-go#92); after it the connection is
	// dropped and made again. Default 30s.
	ConfirmTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval; default 10s.
	Heartbeat time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between dials;
	// defaults 200ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.CommandsQueue, DefaultCommandsQueue)
	def(&c.DeadLetterQueue, DefaultDeadLetterQueue)
	def(&c.EventsExchange, DefaultEventsExchange)
	def(&c.EventsConsumer, DefaultEventsConsumer)
	def(&c.EventsDeadLetterQueue, c.EventsExchange+".dead")
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&c.Prefetch, 64)
	defInt(&c.MaxAttempts, 5)
	defInt(&c.MaxBodyBytes, 1<<20)
	defInt(&c.Outcomes, 10000)
	defInt(&c.MaxInFlight, 256)
	defDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defDur(&c.SubmitTimeout, 15*time.Second)
	defDur(&c.ConfirmTimeout, 30*time.Second)
	defDur(&c.Heartbeat, 10*time.Second)
	defDur(&c.ReconnectMin, 200*time.Millisecond)
	defDur(&c.ReconnectMax, 30*time.Second)
	defDur(&c.StandbyPoll, 500*time.Millisecond)
}

// amqpName is what the bridge accepts as an exchange or queue name: what
// RabbitMQ accepts for exchanges, and no reserved amq. prefix.
var amqpName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)

// consumerName is a JetStream durable consumer name.
var consumerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate reports a configuration the bridge cannot run with, naming the
// field.
func (c *Config) Validate() error {
	if !strings.HasPrefix(c.URL, "amqp://") && !strings.HasPrefix(c.URL, "amqps://") {
		return errors.New("bridge: URL: want an amqp:// or amqps:// URL")
	}
	if c.DisableCommands && c.DisableEvents && c.AIWorkers == nil && len(c.Generic) == 0 {
		return errors.New("bridge: every mapping is disabled: nothing to run")
	}
	if !c.DisableCommands {
		switch {
		case c.Canvases == nil:
			return errors.New("bridge: Canvases is required for commands")
		case c.Auth == nil:
			return errors.New("bridge: Auth is required for commands")
		case c.Roles == nil:
			return errors.New("bridge: Roles is required for commands")
		}
		for _, n := range []struct{ field, v string }{
			{"CommandsQueue", c.CommandsQueue}, {"DeadLetterQueue", c.DeadLetterQueue},
		} {
			if err := checkName(n.field, n.v); err != nil {
				return err
			}
		}
		if c.CommandsQueue == c.DeadLetterQueue {
			return errors.New("bridge: DeadLetterQueue: must differ from CommandsQueue")
		}
	}
	if !c.DisableEvents {
		switch {
		case c.JS == nil:
			return errors.New("bridge: JS is required for events")
		case !consumerName.MatchString(c.EventsConsumer):
			return fmt.Errorf("bridge: EventsConsumer: want 1 to 64 letters, digits, '_' or '-', got %q", c.EventsConsumer)
		}
		if err := checkName("EventsExchange", c.EventsExchange); err != nil {
			return err
		}
		if err := checkName("EventsDeadLetterQueue", c.EventsDeadLetterQueue); err != nil {
			return err
		}
		if !c.DisableCommands && c.EventsDeadLetterQueue == c.CommandsQueue {
			return errors.New("bridge: EventsDeadLetterQueue: must differ from CommandsQueue")
		}
		if c.Leases != nil && c.Node == "" {
			return errors.New("bridge: Node is required with Leases: it names the events lease's holder")
		}
	}
	if c.Leases != nil && c.Node == "" && len(c.Generic) > 0 {
		return errors.New("bridge: Node is required with Leases: it names the generic mappings' lease holder")
	}
	return c.checkGeneric()
}

// CheckName reports whether v can name a bridge queue or exchange: 1 to
// 255 letters, digits, '_', '.', ':' or '-', not starting with the
// reserved "amq.".
func CheckName(v string) error {
	if !amqpName.MatchString(v) || strings.HasPrefix(v, "amq.") {
		return fmt.Errorf("want 1 to 255 letters, digits, '_', '.', ':' or '-', not starting with \"amq.\", got %q", v)
	}
	return nil
}

func checkName(field, v string) error {
	if err := CheckName(v); err != nil {
		return fmt.Errorf("bridge: %s: %w", field, err)
	}
	return nil
}
