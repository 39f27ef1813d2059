import type { TFunction } from 'i18next';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import type { VersionDiff, VersionPoint } from '../api/versions';
import { Doc } from '../sync/doc';
import type { Op, Snapshot } from '../sync/protocol';
import { inverseOps, UndoManager } from '../undo/undo';
import { buildPreview, diffCounts, diffMarks, entryIsEmpty, formatWhen, historyErrorText, markClass, restoreEntry, timelineEntries } from './history';

const diff = (d: Partial<VersionDiff>): VersionDiff => ({
  from: 3,
  to: 9,
  nodes_added: [],
  nodes_removed: [],
  nodes_changed: [],
  edges_added: [],
  edges_removed: [],
  edges_changed: [],
  meta_changed: false,
  ...d,
});

const snapshot = (nodes: Snapshot['nodes'], edges: Snapshot['edges'] = [], title = 'Plan'): Snapshot => ({
  version: 1,
  id: 'c1',
  title,
  settings: {},
  seq: 0,
  nodes,
  edges,
});

const card = (id: string, text: string, x = 0) => ({ id, kind: 'text' as const, x, y: 0, w: 240, h: 120, z: 1, data: { text } });
const edge = (id: string, source: string, target: string) => ({ id, source, target, kind: 'default', data: {} });

function docOf(s: Snapshot): Doc {
  const d = new Doc();
  d.load(s);
  return d;
}

describe('diffMarks', () => {
  it('marks cards and edges added, removed and changed since the version', () => {
    const m = diffMarks(diff({ nodes_added: ['n1'], nodes_removed: ['n2'], nodes_changed: ['n3'], edges_added: ['e1'], edges_removed: ['e2'], edges_changed: ['e3'] }));
    expect([...m.nodes]).toEqual([
      ['n1', 'added'],
      ['n2', 'removed'],
      ['n3', 'changed'],
    ]);
    expect([...m.edges]).toEqual([
      ['e1', 'added'],
      ['e2', 'removed'],
      ['e3', 'changed'],
    ]);
  });

  it('takes the lists the server leaves out (null) as empty', () => {
    const m = diffMarks(diff({ nodes_added: null, nodes_removed: null, nodes_changed: null, edges_added: null }));
    expect(m.nodes.size).toBe(0);
    expect(m.edges.size).toBe(0);
    expect(diffCounts(diff({ nodes_changed: null }))).toEqual({ added: 0, removed: 0, changed: 0 });
  });

  it('gives each mark its own class and none to what did not change', () => {
    const classes = (['added', 'removed', 'changed'] as const).map(markClass);
    expect(classes).toEqual(['diff-added', 'diff-removed', 'diff-changed']);
    expect(markClass(undefined)).toBeUndefined();
  });

  it('counts the cards of a diff', () => {
    expect(diffCounts(diff({ nodes_added: ['a', 'b'], nodes_removed: ['c'], nodes_changed: ['d', 'e', 'f'], edges_added: ['x'] }))).toEqual({
      added: 2,
      removed: 1,
      changed: 3,
    });
    expect(diffCounts(null)).toEqual({ added: 0, removed: 0, changed: 0 });
  });
});

describe('buildPreview', () => {
  const version = docOf(snapshot([card('old', 'gone now'), card('kept', 'v1'), card('same', 'x')], [edge('e-old', 'old', 'kept')]));
  const live = docOf(snapshot([card('kept', 'v2'), card('same', 'x'), card('new', 'added since')], [edge('e-new', 'new', 'kept'), edge('e-far', 'new', 'elsewhere-missing')]));

  it('draws the cards and edges added since as ghosts from the live canvas, and marks the rest', () => {
    const d = diff({ nodes_added: ['new'], nodes_removed: ['old'], nodes_changed: ['kept'], edges_added: ['e-new'], edges_removed: ['e-old'] });
    const p = buildPreview(3, version, live, d);
    expect(p.doc).toBe(version);
    expect(p.ghostNodes.map((n) => [n.id, n.data.text])).toEqual([['new', 'added since']]);
    expect(p.ghostEdges.map((e) => e.id)).toEqual(['e-new']);
    expect(p.nodeMarks.get('old')).toBe('removed');
    expect(p.nodeMarks.get('kept')).toBe('changed');
    expect(p.nodeMarks.has('same')).toBe(false);
    expect(p.edgeMarks.get('e-old')).toBe('removed');
  });

  it('marks nothing and draws no ghost before the diff is known', () => {
    const p = buildPreview(3, version, live, null);
    expect(p.nodeMarks.size + p.edgeMarks.size + p.ghostNodes.length + p.ghostEdges.length).toBe(0);
  });

  it('leaves out a ghost the live canvas no longer has', () => {
    const p = buildPreview(3, version, live, diff({ nodes_added: ['deleted-meanwhile', 'new'] }));
    expect(p.ghostNodes.map((n) => n.id)).toEqual(['new']);
  });
});

const point = (seq: number, at: string, extra: Partial<VersionPoint> = {}): VersionPoint => ({ seq, at, kind: 'auto', authors: [], ...extra });

describe('timelineEntries', () => {
  const names = new Map([
    ['u1', 'Ada'],
    ['u2', 'Bo'],
  ]);

  it('lists the newest first, with names for authors and the unknown ones said so', () => {
    const got = timelineEntries(
      [
        point(2, '2026-12-03T10:00:00Z', { authors: ['u1'] }),
        point(7, '2026-12-03T11:00:00Z', { kind: 'named', name: 'Review', authors: ['u2', 'u1', 'u2'] }),
        point(5, '2026-12-03T10:30:00Z', { kind: 'ai', authors: ['gone'] }),
      ],
      names,
      'someone',
    );
    expect(got.map((e) => [e.seq, e.kind, e.name, e.authors])).toEqual([
      [7, 'named', 'Review', ['Bo', 'Ada']],
      [5, 'ai', '', ['someone']],
      [2, 'auto', '', ['Ada']],
    ]);
  });

  it('orders points at one seq by time, newest first, and keys each apart', () => {
    const got = timelineEntries([point(4, '2026-12-03T10:00:00Z'), point(4, '2026-12-03T10:05:00Z', { kind: 'named', name: 'Later' }), point(1, '2026-12-03T09:00:00Z', { authors: null })], names, '?');
    expect(got.map((e) => e.name || e.kind)).toEqual(['Later', 'auto', 'auto']);
    expect(new Set(got.map((e) => e.key)).size).toBe(3);
    expect(got[2].authors).toEqual([]);
  });
});

describe('formatWhen', () => {
  const now = new Date('2026-12-03T15:00:00Z');

  it('gives the time of day with seconds for a point of today', () => {
    const s = formatWhen('2026-12-03T14:05:09Z', 'en', now, 'UTC');
    expect(s).toMatch(/0?2:05:09/);
    expect(s).not.toMatch(/Dec/);
  });

  it('adds the date for an earlier day, and the year for an earlier year', () => {
    const s = formatWhen('2026-11-28T09:30:00Z', 'en', now, 'UTC');
    expect(s).toMatch(/Nov/);
    expect(s).toMatch(/28/);
    expect(s).not.toMatch(/2026/);
    expect(formatWhen('2025-11-28T09:30:00Z', 'en', now, 'UTC')).toMatch(/2025/);
  });

  it('follows the language', () => {
    expect(formatWhen('2026-11-28T09:30:00Z', 'zh-CN', now, 'UTC')).toMatch(/11月28日/);
  });

  it('gives back what is not a time as it is', () => {
    expect(formatWhen('not a time', 'en', now, 'UTC')).toBe('not a time');
  });
});

describe('historyErrorText', () => {
  const t = ((key: string, opts?: Record<string, unknown>) => {
    if (key === 'errors.forbidden') return 'You are not allowed to do this.';
    if (key === 'history.trimmed') return `Gone: ${opts?.message}`;
    if (key === 'errors.network') return 'No server.';
    return String(opts?.defaultValue ?? key);
  }) as unknown as TFunction;

  it("shows the server's own message beside the translated one", () => {
    expect(historyErrorText(t, new ApiError(403, 'forbidden', 'viewers cannot restore a version'))).toBe('You are not allowed to do this. (viewers cannot restore a version)');
  });

  it('says why a point can no longer be shown', () => {
    expect(historyErrorText(t, new ApiError(410, 'history_trimmed', 'batch 4 is no longer in the journal'))).toBe('Gone: batch 4 is no longer in the journal');
  });

  it('says nothing more for a network error', () => {
    expect(historyErrorText(t, new ApiError(0, 'network', 'the server cannot be reached'))).toBe('No server.');
  });
});

describe('restoreEntry', () => {
  /** Applies ops to a doc as the server's restore would, for the test. */
  function submitter(doc: Doc) {
    const sent: Op[][] = [];
    return {
      doc,
      sent,
      submit(ops: Op[]) {
        doc.apply(ops, 'me');
        sent.push(ops);
        return [`b${sent.length}`];
      },
    };
  }

  it('undoes a restore: the live content comes back', () => {
    const liveSnap = snapshot([card('a', 'edited later', 50), card('new', 'added later')], [edge('e2', 'a', 'new')], 'Plan v2');
    const versionSnap = snapshot([card('a', 'first', 0), card('b', 'deleted later')], [edge('e1', 'a', 'b')], 'Plan');
    const live = docOf(liveSnap);
    const version = docOf(versionSnap);
    const entry = restoreEntry(live, version);
    expect([...entry.nodes.keys()].sort()).toEqual(['a', 'b', 'new']);
    expect([...entry.edges.keys()].sort()).toEqual(['e1', 'e2']);
    expect(entry.title).toEqual({ before: 'Plan v2', after: 'Plan' });

    // The restore lands: the canvas is the version's content.
    const now = docOf(versionSnap);
    const c = submitter(now);
    const u = new UndoManager(c);
    u.recordEntry(entry);
    expect(u.canUndo).toBe(true);
    expect(u.undo()).toBe(true);
    expect(now.title).toBe('Plan v2');
    expect([...now.nodes.keys()].sort()).toEqual(['a', 'new']);
    expect(now.nodes.get('a')).toMatchObject({ x: 50, data: { text: 'edited later' } });
    expect([...now.edges.keys()]).toEqual(['e2']);
    // And redo restores again.
    expect(u.redo()).toBe(true);
    expect([...now.nodes.keys()].sort()).toEqual(['a', 'b']);
    expect(now.nodes.get('a')).toMatchObject({ x: 0, data: { text: 'first' } });
  });

  it("keeps a change someone made after the restore", () => {
    const live = docOf(snapshot([card('a', 'mine', 10)]));
    const version = docOf(snapshot([card('a', 'old', 0)]));
    const entry = restoreEntry(live, version);
    const now = docOf(snapshot([card('a', 'old', 0)]));
    now.apply([{ op: 'node.update', id: 'a', set: { 'data.text': 'theirs, after the restore' } }], 'other');
    expect(inverseOps(entry, now)).toEqual([{ op: 'node.update', id: 'a', set: { x: 10 } }]);
  });

  it('is empty when the version has the live content', () => {
    const a = docOf(snapshot([card('a', 'same')], [], 'T'));
    const b = docOf(snapshot([{ ...card('a', 'same'), author: 'someone else', updated_at: 5 }], [], 'T'));
    expect(entryIsEmpty(restoreEntry(a, b))).toBe(true);
    expect(entryIsEmpty(restoreEntry(a, docOf(snapshot([card('a', 'other')], [], 'T'))))).toBe(false);
  });
});
