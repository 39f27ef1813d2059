// Doc is the browser's copy of one canvas: the same change model as the
// server's package canvas (apply a batch atomically, revert it), so that
// local changes can be shown at once and re-based on the server's order.
//
// Nodes and edges are never modified in place: an update replaces the
// object, so a reference taken earlier stays a true picture, and the UI can
// tell what changed by comparing references.

import type { CanvasComment, CanvasEdge, CanvasNode, CommentOp, Json, Op, Snapshot } from './protocol';

/** What a batch replaced: enough to revert it. Only the first touch of an id is kept. */
export interface Revert {
  nodes: Map<string, CanvasNode | undefined>;
  edges: Map<string, CanvasEdge | undefined>;
  comments: Map<string, CanvasComment | undefined>;
  meta?: { title: string; settings: Record<string, Json> };
}

/** Thrown by apply when an op does not fit the current state. */
export class OpError extends Error {
  constructor(
    readonly index: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OpError';
  }
}

/** Bounds of comments (canvas/comment.go). */
export const MaxComments = 10_000;
export const MaxCommentBytes = 10_000;
export const MaxMentions = 20;

const defaultW = 240;
const defaultH = 120;

export class Doc {
  title = '';
  settings: Record<string, Json> = {};
  readonly nodes = new Map<string, CanvasNode>();
  readonly edges = new Map<string, CanvasEdge>();
  /** Comments by id, threads and replies; like nodes, never modified in place. */
  readonly comments = new Map<string, CanvasComment>();
  /** node id → ids of the edges that touch it */
  private readonly links = new Map<string, Set<string>>();

  /** Replaces the whole content with a snapshot. */
  load(s: Snapshot): void {
    this.title = s.title;
    this.settings = { ...(s.settings ?? {}) };
    this.nodes.clear();
    this.edges.clear();
    this.links.clear();
    this.comments.clear();
    for (const c of s.comments ?? []) this.comments.set(c.id, c);
    for (const n of s.nodes ?? []) this.nodes.set(n.id, { ...n, data: n.data ?? {} });
    for (const e of s.edges ?? []) this.setEdge(e.id, { ...e, data: e.data ?? {} });
  }

  /** Edge ids touching a node. */
  edgesOf(nodeId: string): string[] {
    return [...(this.links.get(nodeId) ?? [])];
  }

  /**
   * Applies ops as one unit: on success every op is applied and the result
   * reverts them; on error nothing changed and an OpError is thrown. seq
   * is the committed batch's (0 for a local change): comments keep it.
   */
  apply(ops: readonly Op[], author = '', at = Date.now(), seq = 0): Revert {
    const r: Revert = { nodes: new Map(), edges: new Map(), comments: new Map() };
    try {
      ops.forEach((op, i) => this.applyOp(i, op, r, author, at, seq));
    } catch (err) {
      this.revert(r);
      throw err;
    }
    return r;
  }

  /** Reverts what apply returned; batches must be reverted newest first. */
  revert(r: Revert): void {
    for (const [id, n] of r.nodes) {
      if (n) this.nodes.set(id, n);
      else this.nodes.delete(id);
    }
    for (const [id, e] of r.edges) this.setEdge(id, e);
    for (const [id, c] of r.comments ?? []) {
      if (c) this.comments.set(id, c);
      else this.comments.delete(id);
    }
    if (r.meta) {
      this.title = r.meta.title;
      this.settings = r.meta.settings;
    }
  }

  private saveNode(r: Revert, id: string) {
    if (!r.nodes.has(id)) r.nodes.set(id, this.nodes.get(id));
  }

  private saveEdge(r: Revert, id: string) {
    if (!r.edges.has(id)) r.edges.set(id, this.edges.get(id));
  }

  private setEdge(id: string, e: CanvasEdge | undefined) {
    const old = this.edges.get(id);
    if (old) {
      this.links.get(old.source)?.delete(id);
      this.links.get(old.target)?.delete(id);
    }
    if (!e) {
      this.edges.delete(id);
      return;
    }
    this.edges.set(id, e);
    for (const end of [e.source, e.target]) {
      let set = this.links.get(end);
      if (!set) this.links.set(end, (set = new Set()));
      set.add(id);
    }
  }

  /** The replies of a thread, oldest first. */
  repliesOf(threadId: string): CanvasComment[] {
    const out: CanvasComment[] = [];
    for (const c of this.comments.values()) if (c.thread === threadId) out.push(c);
    return out.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
  }

  private saveComment(r: Revert, id: string) {
    if (!r.comments.has(id)) r.comments.set(id, this.comments.get(id));
  }

  private applyOp(i: number, op: Op, r: Revert, author: string, at: number, seq: number) {
    switch (op.op) {
      case 'comment.add':
      case 'comment.update':
      case 'comment.delete':
        return applyCommentOp(this, i, op, (id) => this.saveComment(r, id), author, at, seq);
      case 'node.add': {
        if (this.nodes.has(op.id)) throw new OpError(i, 'duplicate_id', `node ${op.id} already exists`);
        this.saveNode(r, op.id);
        this.nodes.set(op.id, {
          id: op.id,
          kind: op.kind,
          x: op.x ?? 0,
          y: op.y ?? 0,
          w: op.w ?? defaultW,
          h: op.h ?? defaultH,
          z: op.z ?? 0,
          data: { ...(op.data ?? {}) },
          author,
          created_at: at,
          updated_at: at,
        });
        return;
      }
      case 'node.update': {
        const old = this.nodes.get(op.id);
        if (!old) throw new OpError(i, 'unknown_id', `no node ${op.id}`);
        const n: CanvasNode = { ...old, data: { ...old.data }, updated_at: at };
        for (const [key, v] of Object.entries(op.set ?? {})) setProp(n, key, v);
        for (const key of op.unset ?? []) delete n.data[key.slice('data.'.length)];
        this.saveNode(r, op.id);
        this.nodes.set(op.id, n);
        return;
      }
      case 'node.delete': {
        if (!this.nodes.has(op.id)) throw new OpError(i, 'unknown_id', `no node ${op.id}`);
        for (const eid of this.edgesOf(op.id)) {
          this.saveEdge(r, eid);
          this.setEdge(eid, undefined);
        }
        this.saveNode(r, op.id);
        this.nodes.delete(op.id);
        return;
      }
      case 'edge.add': {
        if (this.edges.has(op.id)) throw new OpError(i, 'duplicate_id', `edge ${op.id} already exists`);
        for (const end of [op.source, op.target]) {
          if (!this.nodes.has(end)) throw new OpError(i, 'missing_node', `no node ${end} to connect`);
        }
        if (op.source === op.target) throw new OpError(i, 'invalid_op', 'an edge cannot connect a node to itself');
        this.saveEdge(r, op.id);
        this.setEdge(op.id, {
          id: op.id,
          source: op.source,
          target: op.target,
          kind: op.kind ?? 'default',
          data: { ...(op.data ?? {}) },
          author,
          created_at: at,
        });
        return;
      }
      case 'edge.delete': {
        if (!this.edges.has(op.id)) throw new OpError(i, 'unknown_id', `no edge ${op.id}`);
        this.saveEdge(r, op.id);
        this.setEdge(op.id, undefined);
        return;
      }
      case 'ai.run':
      case 'ai.cancel':
        // The server turns these into node.update ops; nothing to show before.
        if (!this.nodes.has(op.id)) throw new OpError(i, 'unknown_id', `no node ${op.id}`);
        return;
      case 'canvas.update': {
        if (!r.meta) r.meta = { title: this.title, settings: this.settings };
        if (op.title !== undefined) this.title = op.title.trim();
        if (op.settings) {
          const s = { ...this.settings };
          for (const [k, v] of Object.entries(op.settings)) {
            if (v === null) delete s[k];
            else s[k] = v;
          }
          this.settings = s;
        }
        return;
      }
    }
  }
}

/** The comment ops with the server's rules (canvas/comment.go), so that a refusal shows before the round trip. */
function applyCommentOp(doc: Doc, i: number, op: CommentOp, save: (id: string) => void, author: string, at: number, seq: number) {
  const comments = doc.comments;
  switch (op.op) {
    case 'comment.add': {
      if (comments.has(op.id)) throw new OpError(i, 'duplicate_id', `comment ${op.id} already exists`);
      if (comments.size >= MaxComments) throw new OpError(i, 'canvas_full', `the canvas holds its maximum of ${MaxComments} comments`);
      if (typeof op.text !== 'string') throw new OpError(i, 'invalid_op', 'comment.add needs a text');
      const c: CanvasComment = { id: op.id, x: 0, y: 0, text: '', author, created_at: at, updated_at: at, seq };
      if (op.thread) {
        if (op.node || op.x !== undefined || op.y !== undefined) throw new OpError(i, 'invalid_op', "a reply takes its thread's place: no node, x or y");
        const t = comments.get(op.thread);
        if (!t) throw new OpError(i, 'unknown_id', `no comment ${op.thread} to reply to`);
        if (t.thread) throw new OpError(i, 'invalid_op', `comment ${op.thread} is a reply: reply to its thread ${t.thread}`);
        c.thread = op.thread;
      } else {
        if (!op.node && (op.x === undefined || op.y === undefined)) throw new OpError(i, 'invalid_op', 'a new thread needs a node, or x and y');
        if (op.node && !doc.nodes.has(op.node)) throw new OpError(i, 'missing_node', `no node ${op.node} to comment on`);
        if (op.node) c.node = op.node;
        c.x = op.x ?? 0;
        c.y = op.y ?? 0;
      }
      setCommentText(i, c, op.text, op.mentions);
      save(op.id);
      comments.set(op.id, c);
      return;
    }
    case 'comment.update': {
      const old = comments.get(op.id);
      if (!old) throw new OpError(i, 'unknown_id', `no comment ${op.id}`);
      if (op.text === undefined && op.mentions === undefined && op.resolved === undefined) throw new OpError(i, 'invalid_op', 'comment.update needs text, mentions or resolved');
      const c: CanvasComment = { ...old };
      if (op.text !== undefined || op.mentions !== undefined) {
        if (old.author !== author) throw new OpError(i, 'forbidden', `comment ${op.id} is another member's: only its author edits it`);
        setCommentText(i, c, op.text ?? old.text, op.mentions ?? old.mentions);
        c.updated_at = at;
      }
      if (op.resolved !== undefined) {
        if (old.thread) throw new OpError(i, 'invalid_op', `comment ${op.id} is a reply: resolve its thread ${old.thread}`);
        if (op.resolved) c.resolved = true;
        else delete c.resolved;
      }
      save(op.id);
      comments.set(op.id, c);
      return;
    }
    case 'comment.delete': {
      const c = comments.get(op.id);
      if (!c) throw new OpError(i, 'unknown_id', `no comment ${op.id}`);
      if (c.author !== author) throw new OpError(i, 'forbidden', `comment ${op.id} is another member's: only its author deletes it`);
      if (!c.thread) {
        // Its replies go with it, whoever wrote them: a thread is one conversation.
        for (const reply of doc.repliesOf(c.id)) {
          save(reply.id);
          comments.delete(reply.id);
        }
      }
      save(op.id);
      comments.delete(op.id);
      return;
    }
  }
}

const utf8 = new TextEncoder();

function setCommentText(i: number, c: CanvasComment, text: string, mentions: string[] | undefined) {
  if (text.trim() === '') throw new OpError(i, 'invalid_op', "a comment's text must not be empty");
  const bytes = utf8.encode(text).length;
  if (bytes > MaxCommentBytes) throw new OpError(i, 'data_too_large', `comment text is ${bytes} bytes; at most ${MaxCommentBytes}`);
  const ms = mentions ?? [];
  if (ms.length > MaxMentions) throw new OpError(i, 'invalid_op', `${ms.length} mentions; at most ${MaxMentions}`);
  ms.forEach((m, k) => {
    if (ms.indexOf(m) !== k) throw new OpError(i, 'invalid_op', `mentions[${k}]: ${m} is mentioned twice`);
  });
  c.text = text;
  if (ms.length) c.mentions = [...ms];
  else delete c.mentions;
}

const geometry = new Set(['x', 'y', 'w', 'h', 'z']);

function setProp(n: CanvasNode, key: string, v: Json) {
  if (key.startsWith('data.')) {
    n.data[key.slice('data.'.length)] = v;
    return;
  }
  if (!geometry.has(key) || typeof v !== 'number') throw new OpError(-1, 'invalid_op', `cannot set ${key}`);
  (n as unknown as Record<string, number>)[key] = v;
}

/** Reads a node property by its op key ("x", "data.text"); undefined when absent. */
export function getProp(n: CanvasNode, key: string): Json | undefined {
  if (key.startsWith('data.')) return n.data[key.slice('data.'.length)];
  return (n as unknown as Record<string, Json>)[key];
}

/** Deep equality of JSON values. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as Json[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ak = Object.keys(a);
  const bo = b as Record<string, Json>;
  return ak.length === Object.keys(bo).length && ak.every((k) => jsonEqual(a[k], bo[k]));
}
