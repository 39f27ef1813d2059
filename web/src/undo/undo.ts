// Undo and redo of one's own changes on a shared canvas.
//
// An entry remembers, for every node and edge a change touched, the value
// before and the value right after it. Undoing computes inverse ops from
// that against the canvas as it is now:
//
//   - only the properties the change set are restored, so others' changes
//     to other properties of the same card survive;
//   - a property is restored only while it still holds the value the change
//     gave it: undo never overwrites a newer change by someone else;
//   - a card the change added is deleted, one it deleted is added back (with
//     its edges, when both ends exist).
//
// Redo is the undo of the undo: applying the inverse ops records an entry
// of its own, which goes on the redo stack.

import { getProp, jsonEqual, type Doc } from '../sync/doc';
import type { CanvasComment, CanvasEdge, CanvasNode, Json, Op } from '../sync/protocol';
import { captureComments, commentPairs, inverseCommentOps, mergeCommentPairs, type CommentPair } from './comments';

/** Values before a change, captured before it is applied. */
export interface Before {
  nodes: Map<string, CanvasNode | undefined>;
  edges: Map<string, CanvasEdge | undefined>;
  title?: string;
  /** The comments the change touches (undo/comments.ts). */
  comments?: Map<string, CanvasComment | undefined>;
}

interface Pair<T> {
  before: T | undefined;
  after: T | undefined;
}

/** One undoable change. */
export interface Entry {
  nodes: Map<string, Pair<CanvasNode>>;
  edges: Map<string, Pair<CanvasEdge>>;
  title?: Pair<string>;
  comments?: Map<string, CommentPair>;
  /** Client batch ids of the change, to forget it if the server refuses it. */
  cbids: string[];
  /** Consecutive entries with the same key (typing in one card) merge. */
  mergeKey?: string;
  at: number;
}

/** The ids ops touch, including the edges a node.delete takes with it. */
export function capture(ops: readonly Op[], doc: Doc): Before {
  const b: Before = { nodes: new Map(), edges: new Map() };
  for (const op of ops) {
    switch (op.op) {
      case 'node.add':
      case 'node.update':
        captureNode(b, doc, op.id);
        break;
      case 'node.delete':
        captureNode(b, doc, op.id);
        for (const eid of doc.edgesOf(op.id)) captureEdge(b, doc, eid);
        break;
      case 'edge.add':
      case 'edge.delete':
        captureEdge(b, doc, op.id);
        break;
      case 'canvas.update':
        if (op.title !== undefined && b.title === undefined) b.title = doc.title;
        break;
    }
  }
  const comments = new Map<string, CanvasComment | undefined>();
  captureComments(comments, ops, doc);
  if (comments.size) b.comments = comments;
  return b;
}

function captureNode(b: Before, doc: Doc, id: string) {
  if (!b.nodes.has(id)) b.nodes.set(id, doc.nodes.get(id));
}

function captureEdge(b: Before, doc: Doc, id: string) {
  if (!b.edges.has(id)) b.edges.set(id, doc.edges.get(id));
}

/** Builds an entry from the values before a change and the doc right after it. */
export function entryFrom(before: Before, doc: Doc, cbids: string[], mergeKey?: string): Entry {
  const e: Entry = { nodes: new Map(), edges: new Map(), cbids, mergeKey, at: Date.now() };
  for (const [id, n] of before.nodes) e.nodes.set(id, { before: n, after: doc.nodes.get(id) });
  for (const [id, x] of before.edges) e.edges.set(id, { before: x, after: doc.edges.get(id) });
  if (before.title !== undefined) e.title = { before: before.title, after: doc.title };
  if (before.comments) e.comments = commentPairs(before.comments, doc);
  return e;
}

const geometryKeys = ['x', 'y', 'w', 'h', 'z'];

/** The op keys ("x", "data.text") whose values differ between two versions of a node. */
export function changedKeys(a: CanvasNode, b: CanvasNode): string[] {
  const keys = geometryKeys.filter((k) => getProp(a, k) !== getProp(b, k));
  const dataKeys = new Set([...Object.keys(a.data), ...Object.keys(b.data)]);
  for (const k of dataKeys) if (!jsonEqual(a.data[k], b.data[k])) keys.push(`data.${k}`);
  return keys;
}

function addOp(n: CanvasNode): Op {
  return { op: 'node.add', id: n.id, kind: n.kind, x: n.x, y: n.y, w: n.w, h: n.h, z: n.z, data: n.data };
}

/** The ops that undo an entry against the doc as it is now; empty when nothing is left to undo. */
export function inverseOps(e: Entry, doc: Doc): Op[] {
  const adds: Op[] = [];
  const updates: Op[] = [];
  const edgeOps: Op[] = [];
  const deletes: Op[] = [];
  const willExist = new Set<string>();
  for (const [id, { before, after }] of e.nodes) {
    const now = doc.nodes.get(id);
    if (!before && after) {
      if (now) deletes.push({ op: 'node.delete', id });
    } else if (before && !after) {
      if (!now) {
        adds.push(addOp(before));
        willExist.add(id);
      }
    } else if (before && after && now) {
      const set: Record<string, Json> = {};
      const unset: string[] = [];
      for (const key of changedKeys(before, after)) {
        if (!jsonEqual(getProp(now, key), getProp(after, key))) continue; // changed since by someone else
        const v = getProp(before, key);
        if (v === undefined) unset.push(key);
        else set[key] = v;
      }
      if (Object.keys(set).length || unset.length) {
        const op: Op = { op: 'node.update', id };
        if (Object.keys(set).length) op.set = set;
        if (unset.length) op.unset = unset;
        updates.push(op);
      }
    }
  }
  const deleted = new Set(deletes.map((d) => (d as { id: string }).id));
  const exists = (id: string) => (doc.nodes.has(id) && !deleted.has(id)) || willExist.has(id);
  for (const [id, { before, after }] of e.edges) {
    const now = doc.edges.get(id);
    if (!before && after) {
      if (now && !deleted.has(now.source) && !deleted.has(now.target)) edgeOps.push({ op: 'edge.delete', id });
    } else if (before && !after) {
      if (!now && exists(before.source) && exists(before.target)) {
        edgeOps.push({ op: 'edge.add', id, source: before.source, target: before.target, kind: before.kind, data: before.data });
      }
    }
  }
  const ops = [...adds, ...updates, ...edgeOps, ...deletes];
  if (e.title && e.title.before !== undefined && doc.title === e.title.after && e.title.before !== e.title.after) {
    ops.push({ op: 'canvas.update', title: e.title.before });
  }
  ops.push(...inverseCommentOps(e.comments, doc));
  return ops;
}

/** What UndoManager needs of the sync client. */
export interface Submitter {
  readonly doc: Doc;
  submit(ops: Op[]): string[] | null;
}

/** How long consecutive changes with the same merge key stay one entry. */
const mergeWindowMs = 1500;

/** UndoManager keeps the undo and redo stacks of the local user. */
export class UndoManager {
  readonly undoStack: Entry[] = [];
  readonly redoStack: Entry[] = [];

  constructor(
    private readonly client: Submitter,
    private readonly limit = 200,
  ) {}

  /**
   * Applies ops through the client and records them for undo. Returns the
   * client batch ids, or null when nothing was sent.
   */
  apply(ops: Op[], mergeKey?: string): string[] | null {
    const before = capture(ops, this.client.doc);
    const cbids = this.client.submit(ops);
    if (!cbids) return null;
    this.record(before, cbids, mergeKey);
    return cbids;
  }

  /** Records a change already applied (a drag sent in steps), from values captured before it. */
  record(before: Before, cbids: string[], mergeKey?: string): void {
    const e = entryFrom(before, this.client.doc, cbids, mergeKey);
    const top = this.undoStack[this.undoStack.length - 1];
    if (mergeKey && top?.mergeKey === mergeKey && e.at - top.at < mergeWindowMs) {
      merge(top, e);
    } else {
      this.undoStack.push(e);
      if (this.undoStack.length > this.limit) this.undoStack.shift();
    }
    this.redoStack.length = 0;
  }

  /** Records an entry built elsewhere: a change the server committed for us (a restore of an earlier version). */
  recordEntry(e: Entry): void {
    this.undoStack.push(e);
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack.length = 0;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Undoes the newest entry that still has an effect; false when none has. */
  undo(): boolean {
    return this.step(this.undoStack, this.redoStack);
  }

  /** Redoes the newest undone entry that still has an effect. */
  redo(): boolean {
    return this.step(this.redoStack, this.undoStack);
  }

  /** Forgets the entries of a batch the server refused (it was rolled back). */
  forget(cbid: string): void {
    for (const stack of [this.undoStack, this.redoStack]) {
      for (let i = stack.length - 1; i >= 0; i--) if (stack[i].cbids.includes(cbid)) stack.splice(i, 1);
    }
  }

  private step(from: Entry[], to: Entry[]): boolean {
    while (from.length) {
      const e = from.pop()!;
      const ops = inverseOps(e, this.client.doc);
      if (ops.length === 0) continue;
      const before = capture(ops, this.client.doc);
      const cbids = this.client.submit(ops);
      if (!cbids) {
        from.push(e);
        return false;
      }
      to.push(entryFrom(before, this.client.doc, cbids));
      return true;
    }
    return false;
  }
}

function merge(into: Entry, e: Entry) {
  for (const [id, p] of e.nodes) {
    const old = into.nodes.get(id);
    into.nodes.set(id, { before: old ? old.before : p.before, after: p.after });
  }
  for (const [id, p] of e.edges) {
    const old = into.edges.get(id);
    into.edges.set(id, { before: old ? old.before : p.before, after: p.after });
  }
  if (e.title) into.title = { before: into.title ? into.title.before : e.title.before, after: e.title.after };
  if (e.comments) mergeCommentPairs((into.comments ??= new Map()), e.comments);
  into.cbids.push(...e.cbids);
  into.at = e.at;
}
