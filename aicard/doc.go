// Package aicard is the domain of the AI card: a node of kind "ai" whose
// prompt, with the text of the cards that feed it, a model answers.
//
// It holds the ops a client sends to a card (ai.run, ai.cancel), the
// statuses the card shows in data.ai_status, the Job the AI engine runs,
// and how each step of a run is written on the card: as ordinary
// node.update ops, so that the journal, replay and every client see
// nothing but those. A run is started (Started), cancelled (Cancelled),
// finished with the engine's result (Finished) or ended by its deadline
// (Expired); a card whose provider cannot be resolved shows why
// (Unresolved).
//
// The package does no I/O and keeps no state. The canvas actor (package
// actors) applies what it returns, in the canvas's order, and owns what
// must happen there: the engine's admission and release of runs, queueing
// a job once its card's update is committed, and the deadlines. The AI
// engine (package aiengine) runs the jobs and reports a result
// (canvases.AIResult) whose Status is one of this package's.
package aicard
