// SyncClient keeps one canvas in sync over a Connection:
//
//   - join with `since` (the last seq applied) after every (re)connect, so
//     the server sends exactly the batches missed, or a snapshot;
//   - local changes are applied at once (optimistically) and queued as
//     pending batches, each with a client batch id (cbid), sent in order
//     whenever the canvas is joined and caught up;
//   - the server's order wins: a committed batch from anyone is applied
//     under the pending ones (revert pending, apply, re-apply pending); a
//     committed batch carrying one of our cbids confirms that pending one;
//   - a reject rolls its batch back and is reported;
//   - batches already seen (seq at or below ours), acks and rejects for
//     batches no longer pending are ignored (duplicate suppression).

import { Connection, type ConnectionStatus } from './connection';
import { Doc, type Revert } from './doc';
import { Emitter } from './emitter';
import {
  commentOnly,
  MaxBatchOps,
  type AIFrame,
  type Committed,
  type Cursor,
  type Op,
  type PresenceFrame,
  type Role,
  type ServerFrame,
  type Snapshot,
} from './protocol';

/** A local batch not yet confirmed by a committed change. */
export interface Pending {
  cbid: string;
  ops: Op[];
  /** How to take it out of the doc; null while it is not applied. */
  revert: Revert | null;
  /** Sent on the current connection. */
  sent: boolean;
  /** The seq the server acknowledged; the committed change is still to come. */
  ackSeq?: number;
  /** Times sent again after an unavailable or rate_limited reject. */
  retries?: number;
}

/** Rejects after which nothing was committed and the batch is sent again (a few times). */
const retryCodes = new Set(['unavailable', 'rate_limited']);
const maxRetries = 3;

/** A peer without news for this long is dropped (the server does not expire presence). */
const peerTimeoutMs = 60_000;

/** What the editor shows as the connection state. */
export type SyncStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'stopped';

/** Another person on the canvas. */
export interface Peer {
  session: string;
  user: string;
  name: string;
  color: string;
  cursor?: Cursor;
  selection: string[];
  /** Date.now() of the last news. */
  seenAt: number;
}

/** The streaming answer of an AI card. */
export interface AIStream {
  run: string;
  text: string;
  /** UTF-8 bytes of text. */
  bytes: number;
  done: boolean;
}

export interface RejectInfo {
  cbid: string;
  code: string;
  message: string;
  ops: Op[];
}

type Events = {
  /** The doc changed; remote: the change came from the server. */
  change: { remote: boolean };
  status: SyncStatus;
  joined: { role: Role; seq: number };
  /** A local batch was committed. */
  confirm: { cbid: string; seq: number };
  /** A local batch was refused and rolled back. */
  reject: RejectInfo;
  peers: Map<string, Peer>;
  /** A streaming AI answer changed (node id). */
  ai: string;
  /** The canvas cannot be opened (not found, or no longer a member); the client stopped. */
  fatal: { code: string; message: string };
  /** A non-fatal error frame from the server. */
  error: { code: string; message: string };
};

export interface SyncClientOptions {
  canvas: string;
  conn: Connection;
  /** Presence: the name and colour shown to others. */
  name?: string;
  color?: string;
  /** Prefix of client batch ids; default random. */
  cbidPrefix?: string;
  /** The signed-in user's id, the author of local changes until the server says hello. */
  user?: string;
}

/** A canvas as kept on the device (see restore). */
export interface LocalCanvas {
  seq: number;
  role: Role | null;
  snapshot: Snapshot;
  pending: Array<{ cbid: string; ops: Op[] }>;
}

export class SyncClient extends Emitter<Events> {
  readonly doc = new Doc();
  readonly canvas: string;
  /** The last committed seq applied; undefined before the first join. */
  seq: number | undefined;
  role: Role | null = null;
  readonly pending: Pending[] = [];
  readonly peers = new Map<string, Peer>();
  /** Streaming AI answers by node id. */
  readonly ai = new Map<string, AIStream>();

  private readonly conn: Connection;
  private joined = false;
  /** After a join with since: the seq the catch-up ends at; sending waits for it. */
  private catchUpTo: number | null = null;
  private counter = 0;
  private readonly cbidPrefix: string;
  private readonly userHint: string;
  private readonly offs: Array<() => void> = [];
  private presence: { cursor?: Cursor; selection?: string[]; name?: string; color?: string } = {};
  private presenceSentAt = 0;
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(opts: SyncClientOptions) {
    super();
    this.canvas = opts.canvas;
    this.conn = opts.conn;
    this.cbidPrefix = opts.cbidPrefix ?? Math.random().toString(36).slice(2, 10);
    this.userHint = opts.user ?? '';
    this.presence = { name: opts.name, color: opts.color };
    this.offs.push(
      this.conn.on('open', () => this.join()),
      this.conn.on('frame', (f) => this.onFrame(f)),
      this.conn.on('down', () => this.onDown()),
      this.conn.on('status', () => this.emit('status', this.status)),
    );
    if (this.conn.isOpen) this.join();
    this.sweepTimer = setInterval(() => this.sweepPeers(), peerTimeoutMs / 4);
  }

  /** Stops listening; the connection is left to its owner. */
  close(): void {
    if (this.joined) this.conn.send({ type: 'leave', canvas: this.canvas });
    for (const off of this.offs) off();
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    clearInterval(this.sweepTimer);
    for (const t of this.retryTimers) clearTimeout(t);
  }

  get status(): SyncStatus {
    const s: ConnectionStatus = this.conn.status;
    if (s === 'open') return this.joined ? 'connected' : 'connecting';
    return s;
  }

  /** Whether changes may be made (joined or not: changes queue offline). */
  get canEdit(): boolean {
    return this.role !== null && this.role !== 'viewer';
  }

  /** Whether comments may be added, edited and resolved: every member, viewers included. */
  get canComment(): boolean {
    return this.role !== null;
  }

  get user(): string {
    return this.conn.user || this.userHint;
  }

  /** Whether the canvas was joined on the current connection (the server has answered). */
  get isJoined(): boolean {
    return this.joined;
  }

  /**
   * Starts from what the device kept of the canvas, before the first join:
   * the committed snapshot at seq, and the batches not confirmed then,
   * which are applied on top and sent again, with their cbids, once the
   * join from seq has caught up. Ignored once the canvas was joined.
   */
  restore(saved: LocalCanvas): void {
    if (this.seq !== undefined || this.joined) return;
    this.rewind();
    this.doc.load(saved.snapshot);
    this.seq = saved.seq;
    this.role = saved.role;
    const known = new Set(this.pending.map((p) => p.cbid));
    const kept = saved.pending.filter((b) => !known.has(b.cbid)).map((b) => ({ cbid: b.cbid, ops: b.ops, revert: null, sent: false }));
    this.pending.unshift(...kept);
    this.replay();
    this.emit('change', { remote: true });
  }

  /**
   * The committed state: the doc with the pending batches taken out, read
   * from their reverts (newest first) without touching the doc; undefined
   * before anything was loaded.
   */
  committed(): { seq: number; snapshot: Snapshot } | undefined {
    if (this.seq === undefined) return undefined;
    const d = this.doc;
    const nodes = new Map(d.nodes);
    const edges = new Map(d.edges);
    const comments = new Map(d.comments);
    let { title, settings } = d;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const r = this.pending[i].revert;
      if (!r) continue;
      for (const [id, n] of r.nodes) n ? nodes.set(id, n) : nodes.delete(id);
      for (const [id, e] of r.edges) e ? edges.set(id, e) : edges.delete(id);
      for (const [id, c] of r.comments) c ? comments.set(id, c) : comments.delete(id);
      if (r.meta) ({ title, settings } = r.meta);
    }
    const snapshot: Snapshot = {
      version: 1,
      id: this.canvas,
      title,
      settings: { ...settings },
      seq: this.seq,
      nodes: [...nodes.values()],
      edges: [...edges.values()],
      comments: [...comments.values()],
    };
    return { seq: this.seq, snapshot };
  }

  /**
   * Applies ops locally and queues them for the server, in batches of at
   * most MaxBatchOps. Returns the client batch ids, or null when nothing was
   * done (a viewer, unless every op is a comment op; or ops that do not fit
   * the canvas: an OpError is thrown for those, with the doc unchanged).
   */
  submit(ops: Op[]): string[] | null {
    if (ops.length === 0 || !(this.canEdit || (this.canComment && commentOnly(ops)))) return null;
    const added: Pending[] = [];
    try {
      for (let i = 0; i < ops.length; i += MaxBatchOps) {
        const chunk = ops.slice(i, i + MaxBatchOps);
        const revert = this.doc.apply(chunk, this.user);
        added.push({ cbid: `${this.cbidPrefix}-${++this.counter}`, ops: chunk, revert, sent: false });
      }
    } catch (err) {
      for (const p of added.reverse()) if (p.revert) this.doc.revert(p.revert);
      throw err;
    }
    this.pending.push(...added);
    this.flush();
    this.emit('change', { remote: false });
    return added.map((p) => p.cbid);
  }

  /** Updates what others see of us; sent at most once per presence interval. */
  setPresence(p: { cursor?: Cursor | null; selection?: string[]; name?: string; color?: string }): void {
    const next = { ...this.presence };
    if (p.cursor !== undefined) next.cursor = p.cursor ?? undefined;
    if (p.selection !== undefined) next.selection = p.selection.slice(0, 1000);
    if (p.name !== undefined) next.name = p.name;
    if (p.color !== undefined) next.color = p.color;
    this.presence = next;
    this.schedulePresence();
  }

  private schedulePresence() {
    if (!this.joined || this.presenceTimer) return;
    const interval = this.conn.limits?.presence_interval_ms ?? 50;
    const wait = this.presenceSentAt + interval - Date.now();
    if (wait <= 0) {
      this.sendPresence();
      return;
    }
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null;
      this.sendPresence();
    }, wait);
  }

  private sendPresence() {
    if (!this.joined) return;
    this.presenceSentAt = Date.now();
    const { cursor, selection, name, color } = this.presence;
    this.conn.send({ type: 'presence', canvas: this.canvas, cursor, selection, name, color });
  }

  private join() {
    this.joined = false;
    this.catchUpTo = null;
    this.conn.send(this.seq === undefined ? { type: 'join', canvas: this.canvas } : { type: 'join', canvas: this.canvas, since: this.seq });
  }

  private onDown() {
    this.joined = false;
    this.catchUpTo = null;
    // Batches sent and not acknowledged have an unknown outcome: they are
    // sent again after the catch-up unless it confirms them.
    for (const p of this.pending) if (p.ackSeq === undefined) p.sent = false;
    if (this.peers.size) {
      this.peers.clear();
      this.emit('peers', this.peers);
    }
    this.emit('status', this.status);
  }

  private onFrame(f: ServerFrame) {
    if ('canvas' in f && f.canvas !== undefined && f.canvas !== this.canvas) return;
    switch (f.type) {
      case 'joined':
        return this.onJoined(f);
      case 'changes':
        return this.onChanges(f.batches);
      case 'ack': {
        const p = this.pending.find((x) => x.cbid === f.cbid);
        if (p) p.ackSeq = f.seq;
        return;
      }
      case 'reject':
        return this.onReject(f.cbid ?? '', f.code, f.message);
      case 'presence':
        return this.onPresence(f);
      case 'presence.leave':
        if (this.peers.delete(f.session)) this.emit('peers', this.peers);
        return;
      case 'error':
        return this.onError(f.code, f.message);
      case 'ai.text':
      case 'ai.delta':
      case 'ai.end':
        return this.onAI(f);
    }
  }

  private onAI(f: AIFrame) {
    const old = this.ai.get(f.node);
    if (f.type === 'ai.text') {
      const text = f.text ?? '';
      this.ai.set(f.node, { run: f.run, text, bytes: utf8Length(text), done: false });
    } else if (f.type === 'ai.delta') {
      // A delta that does not continue what we hold means frames were
      // missed: wait for the committed answer instead.
      if (old && old.run === f.run && old.bytes !== f.offset) return;
      if (!old || old.run !== f.run) {
        if (f.offset !== 0) return;
        this.ai.set(f.node, { run: f.run, text: '', bytes: 0, done: false });
      }
      const s = this.ai.get(f.node)!;
      const delta = f.delta ?? '';
      this.ai.set(f.node, { ...s, text: s.text + delta, bytes: s.bytes + utf8Length(delta) });
    } else {
      if (!old || old.run !== f.run) return;
      this.ai.set(f.node, { ...old, done: true });
    }
    this.emit('ai', f.node);
  }

  private sweepPeers() {
    const now = Date.now();
    let changed = false;
    for (const [id, p] of this.peers) {
      if (now - p.seenAt > peerTimeoutMs) {
        this.peers.delete(id);
        changed = true;
      }
    }
    if (changed) this.emit('peers', this.peers);
  }

  private onJoined(f: Extract<ServerFrame, { type: 'joined' }>) {
    this.role = f.role;
    this.joined = true;
    if (f.snapshot) {
      this.rewind();
      this.doc.load(f.snapshot);
      this.seq = f.seq;
      this.replay();
      this.emit('change', { remote: true });
    } else if (this.seq !== undefined && f.seq > this.seq) {
      this.catchUpTo = f.seq;
    }
    this.emit('joined', { role: f.role, seq: f.seq });
    this.emit('status', this.status);
    if (this.presence.cursor || this.presence.selection) this.schedulePresence();
    this.flush();
  }

  private onChanges(batches: Committed[]) {
    const fresh = batches.filter((b) => this.seq === undefined || b.seq > this.seq);
    if (fresh.length === 0) return;
    this.rewind();
    const confirmed: Array<{ cbid: string; seq: number }> = [];
    for (const b of fresh) {
      if (this.seq !== undefined && b.seq !== this.seq + 1) {
        // A gap cannot happen by the protocol; if it does, start over.
        this.replay();
        this.resync();
        return;
      }
      try {
        this.doc.apply(b.ops, b.author, b.at, b.seq);
      } catch {
        this.replay();
        this.resync();
        return;
      }
      this.seq = b.seq;
      const i = b.cbid && b.author === this.user ? this.pending.findIndex((p) => p.cbid === b.cbid) : -1;
      if (i >= 0) {
        this.pending.splice(i, 1);
        confirmed.push({ cbid: b.cbid!, seq: b.seq });
      }
    }
    this.replay();
    this.emit('change', { remote: true });
    for (const c of confirmed) this.emit('confirm', c);
    if (this.catchUpTo !== null && this.seq! >= this.catchUpTo) {
      this.catchUpTo = null;
      this.flush();
    }
  }

  private onReject(cbid: string, code: string, message: string) {
    const i = this.pending.findIndex((p) => p.cbid === cbid);
    if (i < 0) return;
    if (code === 'outcome_unknown') {
      // Rejoin from our seq: the catch-up tells whether it committed, and
      // it is sent again if not.
      this.pending[i].sent = false;
      this.join();
      return;
    }
    const p = this.pending[i];
    if (retryCodes.has(code) && (p.retries ?? 0) < maxRetries) {
      // Nothing was committed: send it again after a short backoff.
      p.retries = (p.retries ?? 0) + 1;
      p.sent = false;
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        this.flush();
      }, 250 * 2 ** p.retries);
      this.retryTimers.add(t);
      return;
    }
    this.rewind();
    this.pending.splice(i, 1);
    this.replay();
    this.emit('change', { remote: false });
    this.emit('reject', { cbid, code, message, ops: p.ops });
  }

  private onError(code: string, message: string) {
    if (code === 'not_found') {
      this.emit('fatal', { code, message });
      this.close();
      return;
    }
    if (code === 'not_joined') {
      this.join();
      return;
    }
    if (!this.joined && (code === 'unavailable' || code === 'too_many_canvases')) {
      setTimeout(() => this.conn.isOpen && !this.joined && this.join(), 1000);
    }
    this.emit('error', { code, message });
  }

  private onPresence(f: PresenceFrame) {
    const old = this.peers.get(f.session);
    this.peers.set(f.session, {
      session: f.session,
      user: f.user ?? old?.user ?? '',
      name: f.name ?? old?.name ?? '',
      color: f.color ?? old?.color ?? '#888',
      cursor: f.cursor,
      selection: f.selection ?? [],
      seenAt: Date.now(),
    });
    this.emit('peers', this.peers);
  }

  /** Forgets the canvas content and joins again for a snapshot. */
  private resync() {
    this.seq = undefined;
    this.join();
  }

  /** Runs an AI card (or cancels its run); the answer streams in through 'ai' events. */
  runAI(nodeId: string, cancel = false): string[] | null {
    return this.submit([{ op: cancel ? 'ai.cancel' : 'ai.run', id: nodeId }]);
  }

  /** Sends the pending batches not sent yet, in order. */
  private flush() {
    if (!this.joined || this.catchUpTo !== null || !this.conn.isOpen) return;
    for (const p of this.pending) {
      if (p.sent) continue;
      if (!this.conn.send({ type: 'ops', canvas: this.canvas, cbid: p.cbid, ops: p.ops })) return;
      p.sent = true;
    }
  }

  /** Takes every pending batch out of the doc, newest first. */
  private rewind() {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.revert) this.doc.revert(p.revert);
      p.revert = null;
    }
  }

  /** Applies the pending batches again on top of the doc; one that no longer fits stays out (the server will refuse it). */
  private replay() {
    for (const p of this.pending) {
      try {
        p.revert = this.doc.apply(p.ops, this.user);
      } catch {
        p.revert = null;
      }
    }
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}
