// CanvasWatcher shows who is on which canvas, for the canvas list: it joins
// canvases over a Connection only to receive their presence. It joins only
// canvases whose last seq this browser knows (from an earlier visit), with
// that seq as since, so that a join costs a short catch-up rather than a
// snapshot; the others stay unknown.

import type { Connection } from './connection';
import { Emitter } from './emitter';
import type { ServerFrame } from './protocol';

export interface Watched {
  id: string;
  since: number;
}

/** canvas id → session → the person's name, colour and user id. */
export type Presence = Map<string, Map<string, { user: string; name: string; color: string }>>;

export class CanvasWatcher extends Emitter<{ presence: Presence }> {
  readonly presence: Presence = new Map();
  private watched: Watched[] = [];
  private readonly offs: Array<() => void>;

  constructor(private readonly conn: Connection) {
    super();
    this.offs = [
      conn.on('open', () => this.joinAll()),
      conn.on('frame', (f) => this.onFrame(f)),
      conn.on('down', () => {
        this.presence.clear();
        this.emit('presence', this.presence);
      }),
    ];
  }

  /** Sets the canvases to watch (at most the server's limit). */
  watch(list: Watched[]): void {
    const max = Math.max(1, (this.conn.limits?.max_canvases ?? 16) - 1);
    // Keep the newer since of canvases already watched.
    const next = list.slice(0, max).map((w) => {
      const old = this.watched.find((x) => x.id === w.id);
      return { id: w.id, since: Math.max(w.since, old?.since ?? 0) };
    });
    const keep = new Set(next.map((w) => w.id));
    for (const w of this.watched) {
      if (!keep.has(w.id)) {
        this.conn.send({ type: 'leave', canvas: w.id });
        this.presence.delete(w.id);
      }
    }
    const had = new Set(this.watched.map((w) => w.id));
    this.watched = next;
    for (const w of next) if (!had.has(w.id)) this.conn.send({ type: 'join', canvas: w.id, since: w.since });
    this.emit('presence', this.presence);
  }

  close(): void {
    for (const off of this.offs) off();
  }

  private joinAll() {
    for (const w of this.watched) this.conn.send({ type: 'join', canvas: w.id, since: w.since });
  }

  private onFrame(f: ServerFrame) {
    if (f.type === 'presence') {
      let m = this.presence.get(f.canvas);
      if (!m) this.presence.set(f.canvas, (m = new Map()));
      const old = m.get(f.session);
      m.set(f.session, { user: f.user ?? old?.user ?? '', name: f.name ?? old?.name ?? '', color: f.color ?? old?.color ?? '#888' });
      this.emit('presence', this.presence);
    } else if (f.type === 'presence.leave') {
      if (this.presence.get(f.canvas)?.delete(f.session)) this.emit('presence', this.presence);
    } else if (f.type === 'changes') {
      // Keep since current, so that a rejoin stays a short catch-up.
      const w = this.watched.find((x) => x.id === f.canvas);
      const last = f.batches[f.batches.length - 1];
      if (w && last) w.since = Math.max(w.since, last.seq);
    } else if (f.type === 'joined') {
      const w = this.watched.find((x) => x.id === f.canvas);
      if (w && f.snapshot) w.since = f.seq;
    }
  }
}
