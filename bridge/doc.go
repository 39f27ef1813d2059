// Package bridge connects SKER to RabbitMQ, the broker other systems
// already run, with one long-lived AMQP connection of its own.
//
// Two mappings run over it, each on by default and each switchable off
// (docs/bridge.md has their message schemas):
//
//   - Commands in: a durable queue whose messages are op batches for a
//     canvas, authorised by an API token in the message's authorization
//     header. Each batch goes through the canvas contract (Canvases) with
//     the validation of REST and WebSocket; its outcome goes to the
//     message's reply_to with its correlation_id. A delivery is acked to
//     RabbitMQ only once its outcome is final; a command rejected for good
//     is also copied to a dead-letter queue with the reason in its headers.
//     A redelivered command is answered with its first outcome instead of
//     being applied twice: the bridge remembers final outcomes by
//     message_id, and the canvas remembers committed batches by client
//     batch id, which the bridge derives from message_id when the command
//     has none.
//   - Events out: every committed batch of every canvas, read from the
//     journal stream with a durable JetStream consumer, goes to a durable
//     topic exchange with routing key canvas.<id>.changes, persistent and
//     with publisher confirms. A journal record is acked to JetStream only
//     once RabbitMQ has confirmed all its batches, and every new connection
//     resets the consumer to its ack floor, so neither a RabbitMQ outage nor
//     a restart loses a batch or reorders a canvas's batches; a batch whose
//     confirm was lost in a cut is published again, with the same
//     message_id. On a cluster (Config.Leases) one node at a time
//     publishes: the holder of the events lease, a key of its own in the
//     canvases' lease bucket. The others stand by and claim it once it is
//     released (a drain) or lapses (the holder died); the holder checks
//     the lease before every publish and stops the moment it is no longer
//     valid, before the server could let another node take it.
//
// amqp091-go does not reconnect: Run dials again with backoff, declares the
// topology again and restarts both mappings whenever the connection or one
// of its channels fails. Status and Ready report what the bridge really
// does (connected, consuming, last message moved, lag), not only that it
// runs.
package bridge
