/** Backoff computes reconnect delays: exponential with full jitter, capped. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 250,
    private readonly maxMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call doubles the ceiling. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    // Full jitter, but never less than half the ceiling: clients that lost
    // the same server do not all come back at once, nor hammer it.
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
