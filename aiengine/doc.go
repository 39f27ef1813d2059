// Package aiengine runs AI cards. Canvas actors put a job on a JetStream
// work queue when a card is run; a worker (any node with the engine role;
// by default the sker process itself) takes it, streams the provider's
// answer to every client of the canvas as ephemeral deltas, and commits the
// final text to the card through the canvas actor. It also keeps the
// per-user limits on concurrent and frequent runs, and records usage.
//
// What an AI card is (its ops and statuses, the Job, how a run is written
// on the card) is package aicard, which the canvas actors apply.
package aiengine
