import { describe, expect, it } from 'vitest';
import { Doc } from '../sync/doc';
import type { Op } from '../sync/protocol';
import { UndoManager, type Submitter } from './undo';

/** A submitter that applies to a local doc at once, as the sync client does optimistically. */
function local(): Submitter & { sent: Op[][] } {
  const doc = new Doc();
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

/** Someone else's committed change. */
function others(doc: Doc, ops: Op[]) {
  doc.apply(ops, 'other');
}

const add = (id: string, x = 0, text = 'hello'): Op => ({ op: 'node.add', id, kind: 'text', x, y: 0, data: { text } });

describe('UndoManager', () => {
  it('undoes and redoes an added card', () => {
    const c = local();
    const u = new UndoManager(c);
    u.apply([add('a', 5)]);
    expect(u.undo()).toBe(true);
    expect(c.doc.nodes.has('a')).toBe(false);
    expect(c.sent.at(-1)).toEqual([{ op: 'node.delete', id: 'a' }]);
    expect(u.redo()).toBe(true);
    expect(c.doc.nodes.get('a')).toMatchObject({ x: 5, data: { text: 'hello' } });
    expect(u.canRedo).toBe(false);
    expect(u.canUndo).toBe(true);
  });

  it('restores only the properties it changed, keeping others\' edits to the same card', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a', 0)]);
    u.apply([{ op: 'node.update', id: 'a', set: { x: 100, y: 50 } }]);
    others(c.doc, [{ op: 'node.update', id: 'a', set: { 'data.text': 'theirs', w: 300 } }]);
    u.undo();
    expect(c.sent.at(-1)).toEqual([{ op: 'node.update', id: 'a', set: { x: 0, y: 0 } }]);
    expect(c.doc.nodes.get('a')).toMatchObject({ x: 0, y: 0, w: 300, data: { text: 'theirs' } });
  });

  it('never overwrites a newer change by someone else', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a', 0, 'v1')]);
    u.apply([{ op: 'node.update', id: 'a', set: { x: 10, 'data.text': 'mine' } }]);
    others(c.doc, [{ op: 'node.update', id: 'a', set: { 'data.text': 'newer' } }]);
    u.undo();
    // x is restored; the text someone changed after me is left alone.
    expect(c.doc.nodes.get('a')).toMatchObject({ x: 0, data: { text: 'newer' } });
    expect(c.sent.at(-1)).toEqual([{ op: 'node.update', id: 'a', set: { x: 0 } }]);
  });

  it('skips an entry that others have fully superseded and undoes the one before', () => {
    const c = local();
    const u = new UndoManager(c);
    u.apply([add('a', 0)]);
    u.apply([{ op: 'node.update', id: 'a', set: { x: 10 } }]);
    others(c.doc, [{ op: 'node.update', id: 'a', set: { x: 99 } }]);
    expect(u.undo()).toBe(true);
    expect(c.doc.nodes.has('a')).toBe(false);
  });

  it('undoes a delete with the edges that went with it', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a'), add('b'), { op: 'edge.add', id: 'e', source: 'a', target: 'b' }]);
    u.apply([{ op: 'node.delete', id: 'a' }]);
    expect(c.doc.edges.size).toBe(0);
    u.undo();
    expect(c.doc.nodes.has('a')).toBe(true);
    expect(c.doc.edges.get('e')).toMatchObject({ source: 'a', target: 'b' });
    u.redo();
    expect(c.doc.nodes.has('a')).toBe(false);
    expect(c.doc.edges.size).toBe(0);
  });

  it('does not bring back an edge whose other end someone deleted', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a'), add('b'), { op: 'edge.add', id: 'e', source: 'a', target: 'b' }]);
    u.apply([{ op: 'node.delete', id: 'a' }]);
    others(c.doc, [{ op: 'node.delete', id: 'b' }]);
    u.undo();
    expect(c.doc.nodes.has('a')).toBe(true);
    expect(c.doc.edges.size).toBe(0);
  });

  it('undoes an added edge and a title change', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a'), add('b'), { op: 'canvas.update', title: 'Old' }]);
    u.apply([{ op: 'edge.add', id: 'e', source: 'a', target: 'b' }]);
    u.apply([{ op: 'canvas.update', title: 'New' }]);
    u.undo();
    expect(c.doc.title).toBe('Old');
    u.undo();
    expect(c.doc.edges.has('e')).toBe(false);
  });

  it('merges typing in one card into one entry', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([add('a', 0, '')]);
    for (const t of ['h', 'he', 'hel']) u.apply([{ op: 'node.update', id: 'a', set: { 'data.text': t } }], 'text:a');
    expect(u.undoStack).toHaveLength(1);
    u.undo();
    expect(c.doc.nodes.get('a')?.data.text).toBe('');
  });

  it('removes a data key that the change added', () => {
    const c = local();
    const u = new UndoManager(c);
    c.submit([{ op: 'node.add', id: 'a', kind: 'note' }]);
    u.apply([{ op: 'node.update', id: 'a', set: { 'data.color': 'yellow' } }]);
    u.undo();
    expect(c.sent.at(-1)).toEqual([{ op: 'node.update', id: 'a', unset: ['data.color'] }]);
    expect(c.doc.nodes.get('a')?.data).toEqual({});
  });

  it('forgets a change the server refused', () => {
    const c = local();
    const u = new UndoManager(c);
    const [cbid] = u.apply([add('a')])!;
    u.forget(cbid);
    expect(u.canUndo).toBe(false);
  });

  it('starts a new redo history after a new change', () => {
    const c = local();
    const u = new UndoManager(c);
    u.apply([add('a')]);
    u.undo();
    u.apply([add('b')]);
    expect(u.canRedo).toBe(false);
  });
});
