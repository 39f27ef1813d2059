import { describe, expect, it } from 'vitest';
import { Doc, MaxCommentBytes, OpError } from './doc';
import type { Op, Snapshot } from './protocol';

const ME = 'u-me';
const OTHER = 'u-other';

function doc(): Doc {
  const d = new Doc();
  const s: Snapshot = {
    version: 1,
    id: 'c1',
    title: 'Plan',
    settings: {},
    seq: 3,
    nodes: [{ id: 'card', kind: 'text', x: 10, y: 20, w: 240, h: 120, z: 1, data: {} }],
    edges: [],
    comments: [{ id: 't0', node: 'card', x: 250, y: 20, text: 'old thread', author: OTHER, created_at: 1, updated_at: 1, seq: 2 }],
  };
  d.load(s);
  return d;
}

/** The code of the OpError fn throws; fails when it throws none. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OpError);
    return (err as OpError).code;
  }
  throw new Error('no OpError thrown');
}

const thread = (id: string, extra: Partial<Extract<Op, { op: 'comment.add' }>> = {}): Op => ({ op: 'comment.add', id, node: 'card', x: 250, y: 20, text: 'Is this right?', ...extra });
const reply = (id: string, to: string, text = 'Yes'): Op => ({ op: 'comment.add', id, thread: to, text });

describe('Doc comments', () => {
  it('loads comments from the snapshot, and none when the snapshot has none', () => {
    const d = doc();
    expect(d.comments.get('t0')).toMatchObject({ text: 'old thread', node: 'card', author: OTHER });
    d.load({ version: 1, id: 'c1', title: '', settings: {}, seq: 0, nodes: [], edges: [] });
    expect(d.comments.size).toBe(0);
  });

  it('adds a thread and a reply stamped with author, time and seq', () => {
    const d = doc();
    d.apply([thread('t1', { mentions: [OTHER] })], ME, 100, 4);
    d.apply([reply('r1', 't1')], OTHER, 200, 5);
    expect(d.comments.get('t1')).toEqual({ id: 't1', node: 'card', x: 250, y: 20, text: 'Is this right?', mentions: [OTHER], author: ME, created_at: 100, updated_at: 100, seq: 4 });
    expect(d.comments.get('r1')).toMatchObject({ thread: 't1', author: OTHER, seq: 5 });
    expect(d.repliesOf('t1').map((c) => c.id)).toEqual(['r1']);
  });

  it('refuses what the server refuses, changing nothing', () => {
    const d = doc();
    d.apply([thread('t1'), reply('r1', 't1')], ME);
    const before = new Map(d.comments);
    const cases: Array<[string, Op[], string]> = [
      ['duplicate id', [thread('t1')], 'duplicate_id'],
      ['reply to an unknown thread', [reply('r2', 'nope')], 'unknown_id'],
      ['reply to a reply', [reply('r2', 'r1')], 'invalid_op'],
      ['reply with a place', [{ op: 'comment.add', id: 'r2', thread: 't1', x: 1, y: 1, text: 'x' }], 'invalid_op'],
      ['thread without a place', [{ op: 'comment.add', id: 't2', x: 1, text: 'x' }], 'invalid_op'],
      ['thread on a missing card', [thread('t2', { node: 'gone' })], 'missing_node'],
      ['blank text', [thread('t2', { text: '  \n' })], 'invalid_op'],
      ['text too long', [thread('t2', { text: 'é'.repeat(MaxCommentBytes / 2 + 1) })], 'data_too_large'],
      ['a mention twice', [thread('t2', { mentions: [OTHER, OTHER] })], 'invalid_op'],
      ['update of an unknown comment', [{ op: 'comment.update', id: 'nope', resolved: true }], 'unknown_id'],
      ['update with nothing', [{ op: 'comment.update', id: 't1' }], 'invalid_op'],
      ["edit of another's comment", [{ op: 'comment.update', id: 't0', text: 'mine now' }], 'forbidden'],
      ['resolve of a reply', [{ op: 'comment.update', id: 'r1', resolved: true }], 'invalid_op'],
      ["delete of another's comment", [{ op: 'comment.delete', id: 't0' }], 'forbidden'],
      ['delete of an unknown comment', [{ op: 'comment.delete', id: 'nope' }], 'unknown_id'],
      ['a good op then a bad one', [thread('t3'), { op: 'comment.delete', id: 't0' }], 'forbidden'],
    ];
    for (const [name, ops, code] of cases) {
      expect(codeOf(() => d.apply(ops, ME)), name).toBe(code);
      expect(d.comments, name).toEqual(before);
    }
  });

  it("lets anyone resolve and reopen a thread, but only its author edit it", () => {
    const d = doc();
    d.apply([{ op: 'comment.update', id: 't0', resolved: true }], ME, 50);
    expect(d.comments.get('t0')).toMatchObject({ resolved: true, text: 'old thread', updated_at: 1 });
    d.apply([{ op: 'comment.update', id: 't0', resolved: false }], ME);
    expect(d.comments.get('t0')?.resolved).toBeUndefined();
    d.apply([{ op: 'comment.update', id: 't0', text: 'new words', mentions: [ME] }], OTHER, 60);
    expect(d.comments.get('t0')).toMatchObject({ text: 'new words', mentions: [ME], updated_at: 60 });
    d.apply([{ op: 'comment.update', id: 't0', mentions: [] }], OTHER);
    expect(d.comments.get('t0')?.mentions).toBeUndefined();
  });

  it("deletes a thread with its replies, whoever wrote them, and a revert brings all back", () => {
    const d = doc();
    d.apply([thread('t1'), reply('r1', 't1')], ME);
    d.apply([reply('r2', 't1', 'from the other')], OTHER);
    const t1 = d.comments.get('t1');
    const r = d.apply([{ op: 'comment.delete', id: 't1' }], ME);
    expect([...d.comments.keys()]).toEqual(['t0']);
    d.revert(r);
    expect(d.comments.get('t1')).toBe(t1);
    expect(d.repliesOf('t1').map((c) => c.id)).toEqual(['r1', 'r2']);
  });

  it('never modifies a comment in place', () => {
    const d = doc();
    const old = d.comments.get('t0')!;
    d.apply([{ op: 'comment.update', id: 't0', resolved: true }], ME);
    expect(old.resolved).toBeUndefined();
    expect(d.comments.get('t0')).not.toBe(old);
  });
});
