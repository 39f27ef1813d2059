/** Emitter is a minimal typed event emitter. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(arg: never) => void>>();

  /** Adds a handler; the result removes it. */
  on<K extends keyof Events>(name: K, fn: (arg: Events[K]) => void): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(fn as (arg: never) => void);
    return () => set.delete(fn as (arg: never) => void);
  }

  protected emit<K extends keyof Events>(name: K, arg: Events[K]): void {
    for (const fn of this.handlers.get(name) ?? []) (fn as (arg: Events[K]) => void)(arg);
  }
}
