// Undo of one's own comment changes (docs/comments.md), beside the cards'
// in undo.ts and by the same rule: an inverse is sent only while the
// comment still holds what the change made it, so undo never overwrites
// someone's newer change.
//
//   - a comment one added is deleted again, unless others have replied to
//     it since (deleting a thread takes their words with it);
//   - a comment one deleted is added back under its id (a thread with its
//     place and its resolved state; with it the replies one wrote oneself:
//     the others' replies cannot be written again in their names);
//   - an edit of one's text and mentions, a resolve or a reopen is turned
//     back.

import { jsonEqual, type Doc } from '../sync/doc';
import type { CanvasComment, Op } from '../sync/protocol';

/** A comment before and right after a change. */
export interface CommentPair {
  before: CanvasComment | undefined;
  after: CanvasComment | undefined;
}

/** Records, in into, the comments ops touch as they are before the ops, including the replies a thread's delete takes with it. */
export function captureComments(into: Map<string, CanvasComment | undefined>, ops: readonly Op[], doc: Doc): void {
  const save = (id: string) => {
    if (!into.has(id)) into.set(id, doc.comments.get(id));
  };
  for (const op of ops) {
    if (op.op !== 'comment.add' && op.op !== 'comment.update' && op.op !== 'comment.delete') continue;
    save(op.id);
    if (op.op === 'comment.delete') for (const r of doc.repliesOf(op.id)) save(r.id);
  }
}

/** Pairs the captured comments with the doc right after the change. */
export function commentPairs(before: Map<string, CanvasComment | undefined>, doc: Doc): Map<string, CommentPair> {
  const out = new Map<string, CommentPair>();
  for (const [id, c] of before) out.set(id, { before: c, after: doc.comments.get(id) });
  return out;
}

/** Merges the pairs of a later change into an earlier one's. */
export function mergeCommentPairs(into: Map<string, CommentPair>, later: Map<string, CommentPair>): void {
  for (const [id, p] of later) {
    const old = into.get(id);
    into.set(id, { before: old ? old.before : p.before, after: p.after });
  }
}

/** The ops that undo the comment part of a change against the doc as it is now. */
export function inverseCommentOps(pairs: Map<string, CommentPair> | undefined, doc: Doc): Op[] {
  if (!pairs) return [];
  const threads: Op[] = [];
  const replies: Op[] = [];
  const updates: Op[] = [];
  const deletes: Op[] = [];
  // Threads the change deleted and the undo adds back.
  const restored = new Map<string, CanvasComment>();
  for (const [id, { before, after }] of pairs) {
    if (before && !after && !before.thread && !doc.comments.has(id)) restored.set(id, before);
  }
  for (const [id, { before, after }] of pairs) {
    const now = doc.comments.get(id);
    if (!before && after) {
      if (!now) continue;
      const othersReplied = !now.thread && doc.repliesOf(id).some((r) => r.author !== now.author);
      if (!othersReplied) deletes.push({ op: 'comment.delete', id });
    } else if (before && !after) {
      if (now) continue;
      if (!before.thread) {
        threads.push(addOp(before, doc));
        if (before.resolved) updates.push({ op: 'comment.update', id, resolved: true });
        continue;
      }
      // A reply: deleted by itself (so one's own), or with its thread (restored when one wrote it, as one wrote the thread).
      const t = restored.get(before.thread);
      if (t ? before.author === t.author : doc.comments.has(before.thread)) replies.push(addOp(before, doc));
    } else if (before && after && now) {
      const op: Extract<Op, { op: 'comment.update' }> = { op: 'comment.update', id };
      const textChanged = before.text !== after.text || !jsonEqual(before.mentions ?? [], after.mentions ?? []);
      if (textChanged && now.text === after.text && jsonEqual(now.mentions ?? [], after.mentions ?? [])) {
        op.text = before.text;
        op.mentions = before.mentions ?? [];
      }
      if (!!before.resolved !== !!after.resolved && !!now.resolved === !!after.resolved) op.resolved = !!before.resolved;
      if (op.text !== undefined || op.resolved !== undefined) updates.push(op);
    }
  }
  // Replies of a thread deleted here go with it: no delete of their own.
  const deleted = new Set(deletes.map((d) => (d as { id: string }).id));
  const ownDeletes = deletes.filter((d) => {
    const c = doc.comments.get((d as { id: string }).id);
    return !(c?.thread && deleted.has(c.thread));
  });
  return [...threads, ...replies, ...updates, ...ownDeletes];
}

function addOp(c: CanvasComment, doc: Doc): Op {
  const op: Extract<Op, { op: 'comment.add' }> = { op: 'comment.add', id: c.id, text: c.text };
  if (c.thread) op.thread = c.thread;
  else {
    // A thread keeps its point; its card only while the card is there.
    if (c.node && doc.nodes.has(c.node)) op.node = c.node;
    op.x = c.x;
    op.y = c.y;
  }
  if (c.mentions?.length) op.mentions = [...c.mentions];
  return op;
}
