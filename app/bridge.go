package app

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/bridge"
)

// newBridge builds the RabbitMQ bridge when RABBITMQ_URL is set, nil
// otherwise. It needs the canvas actors, auth and the store.
func (a *App) newBridge(ctx context.Context, js jetstream.JetStream, reg prometheus.Registerer) (*bridge.Bridge, error) {
	c := a.cfg
	if c.RabbitMQURL == "" {
		return nil, nil
	}
	return bridge.New(ctx, bridge.Config{
		URL: c.RabbitMQURL, Logger: a.log, Registerer: reg,
		DisableCommands: !c.BridgeCommands, Canvases: a.canvases, Auth: a.auth, Roles: a.store,
		CommandsQueue: c.BridgeCommandsQueue, DeadLetterQueue: c.BridgeDeadLetterQueue,
		Prefetch: c.BridgePrefetch, MaxAttempts: c.BridgeMaxAttempts,
		DisableEvents: !c.BridgeEvents, JS: js, Names: a.names,
		EventsExchange: c.BridgeEventsExchange, EventsConsumer: c.BridgeEventsConsumer, MaxInFlight: c.BridgeMaxInFlight,
	})
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
