import { describe, expect, it } from 'vitest';
import { Doc } from '../sync/doc';
import type { Op } from '../sync/protocol';
import { UndoManager, type Submitter } from './undo';

/** A submitter that applies to a local doc at once as 'me', as the sync client does optimistically. */
function local(): Submitter & { sent: Op[][] } {
  const doc = new Doc();
  doc.apply([{ op: 'node.add', id: 'card', kind: 'text', x: 0, y: 0 }], 'me');
  let n = 0;
  const sent: Op[][] = [];
  return {
    doc,
    sent,
    submit(ops: Op[]) {
      doc.apply(ops, 'me');
      sent.push(ops);
      return [`b${++n}`];
    },
  };
}

const thread: Op = { op: 'comment.add', id: 't1', node: 'card', x: 240, y: 0, text: 'Check this', mentions: ['u2'] };

describe('UndoManager with comments', () => {
  it('undoes an added thread by deleting it, and redoes it', () => {
    const c = local();
    const u = new UndoManager(c);
    u.apply([thread]);
    expect(u.undo()).toBe(true);
    expect(c.sent.at(-1)).toEqual([{ op: 'comment.delete', id: 't1' }]);
    expect(c.doc.comments.has('t1')).toBe(false);
    expect(u.redo()).toBe(true);
    expect(c.sent.at(-1)).toEqual([thread]);
    expect(c.doc.comments.get('t1')).toMatchObject({ node: 'card', text: 'Check this', mentions: ['u2'] });
  });

  it('undoes a resolve by reopening, and a reopen by resolving', () => {
    const c = local();
    c.submit([thread]);
    const u = new UndoManager(c);
    u.apply([{ op: 'comment.update', id: 't1', resolved: true }]);
    u.undo();
    expect(c.sent.at(-1)).toEqual([{ op: 'comment.update', id: 't1', resolved: false }]);
    expect(c.doc.comments.get('t1')?.resolved).toBeUndefined();
    u.redo();
    expect(c.doc.comments.get('t1')?.resolved).toBe(true);
  });

  it('undoes an edit of the text only while the text is still the edited one', () => {
    const c = local();
    c.submit([thread]);
    const u = new UndoManager(c);
    u.apply([{ op: 'comment.update', id: 't1', text: 'Check this again', mentions: [] }]);
    u.undo();
    expect(c.sent.at(-1)).toEqual([{ op: 'comment.update', id: 't1', text: 'Check this', mentions: ['u2'] }]);
    u.redo();
    c.doc.apply([{ op: 'comment.update', id: 't1', text: 'edited elsewhere' }], 'me');
    expect(u.undo()).toBe(false);
    expect(c.doc.comments.get('t1')?.text).toBe('edited elsewhere');
  });

  it("brings back a deleted thread with its place, resolved state and one's own replies, not others'", () => {
    const c = local();
    c.submit([thread, { op: 'comment.add', id: 'r1', thread: 't1', text: 'mine' }, { op: 'comment.update', id: 't1', resolved: true }]);
    c.doc.apply([{ op: 'comment.add', id: 'r2', thread: 't1', text: 'theirs' }], 'other');
    const u = new UndoManager(c);
    u.apply([{ op: 'comment.delete', id: 't1' }]);
    expect(c.doc.comments.size).toBe(0);
    u.undo();
    expect(c.sent.at(-1)).toEqual([
      { op: 'comment.add', id: 't1', node: 'card', x: 240, y: 0, text: 'Check this', mentions: ['u2'] },
      { op: 'comment.add', id: 'r1', thread: 't1', text: 'mine' },
      { op: 'comment.update', id: 't1', resolved: true },
    ]);
    expect([...c.doc.comments.keys()].sort()).toEqual(['r1', 't1']);
  });

  it('does not delete a thread others have replied to since', () => {
    const c = local();
    const u = new UndoManager(c);
    u.apply([thread]);
    c.doc.apply([{ op: 'comment.add', id: 'r2', thread: 't1', text: 'theirs' }], 'other');
    expect(u.undo()).toBe(false);
    expect(c.doc.comments.has('r2')).toBe(true);
  });

  it("adds a thread back at its point when its card is gone", () => {
    const c = local();
    c.submit([thread]);
    const u = new UndoManager(c);
    u.apply([{ op: 'comment.delete', id: 't1' }]);
    c.doc.apply([{ op: 'node.delete', id: 'card' }], 'other');
    u.undo();
    expect(c.sent.at(-1)).toEqual([{ op: 'comment.add', id: 't1', x: 240, y: 0, text: 'Check this', mentions: ['u2'] }]);
  });
});
