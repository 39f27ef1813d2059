package app

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/cluster"
)

// newBridge builds the RabbitMQ bridge when RABBITMQ_URL is set and this
// node has the bridge role, nil otherwise. It needs the canvas actors,
// auth and the store. On a cluster the events go out from one node at a
// time, the holder of the events lease in the canvases' lease bucket, and
// so does each generic mapping from a subject (BRIDGE_CONFIG), under a
// lease of its own.
func (a *App) newBridge(ctx context.Context, js jetstream.JetStream, reg prometheus.Registerer) (*bridge.Bridge, error) {
	c := a.cfg
	var generic []bridge.GenericMapping
	if c.BridgeConfig != "" {
		// Read on every node, so that a bad file stops each at start.
		var err error
		if generic, err = bridge.LoadGenericConfig(c.BridgeConfig); err != nil {
			return nil, err
		}
	}
	if c.RabbitMQURL == "" || !a.hasRole(cluster.RoleBridge) {
		return nil, nil
	}
	if !c.BridgeCommands && !c.BridgeEvents && a.aiWorkers == nil && len(generic) == 0 {
		return nil, nil // only AI jobs, and this node runs none
	}
	cfg := bridge.Config{
		URL: c.RabbitMQURL, Logger: a.log, Registerer: reg,
		DisableCommands: !c.BridgeCommands, Canvases: a.canvases, Auth: a.auth, Roles: a.store,
		CommandsQueue: c.BridgeCommandsQueue, DeadLetterQueue: c.BridgeDeadLetterQueue,
		Prefetch: c.BridgePrefetch, MaxAttempts: c.BridgeMaxAttempts,
		DisableEvents: !c.BridgeEvents, JS: js, Names: a.names,
		EventsExchange: c.BridgeEventsExchange, EventsConsumer: c.BridgeEventsConsumer, MaxInFlight: c.BridgeMaxInFlight,
		Leases: a.leases, Node: c.NodeName, AIWorkers: a.aiWorkers,
		Generic: generic, Replicas: c.JournalReplicas,
	}
	// New creates the members stream and the events' durable consumers:
	// JetStream requests, which go unanswered while the cluster elects.
	var b *bridge.Bridge
	err := a.whenFormed(ctx, "RabbitMQ bridge", func(ctx context.Context) (err error) {
		b, err = bridge.New(ctx, cfg)
		var bad *bridge.ConfigError
		if errors.As(err, &bad) {
			return finalError{err}
		}
		return err
	})
	return b, err
}

// startBridge runs the bridge until Shutdown drains it (not until ctx
// ends: the drain finishes the commands in flight while the canvas actors
// still run).
func (a *App) startBridge(ctx context.Context) {
	if a.bridge == nil {
		return
	}
	go func() {
		if err := a.bridge.Run(context.WithoutCancel(ctx)); err != nil {
			a.log.Error("bridge stopped", "err", err)
		}
	}()
}
