// The history panel's logic, kept apart from React so that it can be
// tested: the timeline as the panel lists it, what the canvas outlines
// while it shows an earlier version, and the undo entry of a restore.

import type { TFunction } from 'i18next';
import { ApiError } from '../api/client';
import type { VersionDiff, VersionKind, VersionPoint } from '../api/versions';
import { errorText } from '../pages/errors';
import { jsonEqual, type Doc } from '../sync/doc';
import type { CanvasEdge, CanvasNode } from '../sync/protocol';
import { changedKeys, type Entry } from '../undo/undo';

/**
 * How a card or edge differs between the version shown and the live
 * canvas: added since (only the live canvas has it), removed since (only
 * the version has it) or changed since (both, with other content).
 */
export type DiffMark = 'added' | 'removed' | 'changed';

/** The class a card or edge of the preview carries for its mark (styles.css). */
export function markClass(mark: DiffMark | undefined): string | undefined {
  return mark ? `diff-${mark}` : undefined;
}

/** The marks of a diff taken from the version to the live canvas, by id. */
export function diffMarks(d: VersionDiff): { nodes: Map<string, DiffMark>; edges: Map<string, DiffMark> } {
  const nodes = new Map<string, DiffMark>();
  const edges = new Map<string, DiffMark>();
  for (const id of d.nodes_added ?? []) nodes.set(id, 'added');
  for (const id of d.nodes_removed ?? []) nodes.set(id, 'removed');
  for (const id of d.nodes_changed ?? []) nodes.set(id, 'changed');
  for (const id of d.edges_added ?? []) edges.set(id, 'added');
  for (const id of d.edges_removed ?? []) edges.set(id, 'removed');
  for (const id of d.edges_changed ?? []) edges.set(id, 'changed');
  return { nodes, edges };
}

/** How many cards a diff counts as added, removed and changed since the version. */
export function diffCounts(d: VersionDiff | null): Record<DiffMark, number> {
  return {
    added: d?.nodes_added?.length ?? 0,
    removed: d?.nodes_removed?.length ?? 0,
    changed: d?.nodes_changed?.length ?? 0,
  };
}

/**
 * What the canvas shows instead of the live canvas: an earlier version,
 * read-only, with its cards and edges marked against the live canvas, and
 * the cards and edges added since drawn as ghosts (from the live canvas).
 */
export interface CanvasPreview {
  seq: number;
  doc: Doc;
  nodeMarks: Map<string, DiffMark>;
  edgeMarks: Map<string, DiffMark>;
  ghostNodes: CanvasNode[];
  ghostEdges: CanvasEdge[];
}

/** The preview of version against live; without a diff yet, nothing is marked. */
export function buildPreview(seq: number, version: Doc, live: Doc, diff: VersionDiff | null): CanvasPreview {
  const { nodes, edges } = diff ? diffMarks(diff) : { nodes: new Map<string, DiffMark>(), edges: new Map<string, DiffMark>() };
  const ghostNodes: CanvasNode[] = [];
  for (const [id, mark] of nodes) {
    const n = live.nodes.get(id);
    if (mark === 'added' && n && !version.nodes.has(id)) ghostNodes.push(n);
  }
  const shown = (id: string) => version.nodes.has(id) || ghostNodes.some((n) => n.id === id);
  const ghostEdges: CanvasEdge[] = [];
  for (const [id, mark] of edges) {
    const e = live.edges.get(id);
    if (mark === 'added' && e && !version.edges.has(id) && shown(e.source) && shown(e.target)) ghostEdges.push(e);
  }
  return { seq, doc: version, nodeMarks: nodes, edgeMarks: edges, ghostNodes, ghostEdges };
}

/** One line of the timeline as the panel shows it. */
export interface TimelineEntry {
  key: string;
  seq: number;
  at: string;
  kind: VersionKind;
  name: string;
  /** The names of the people who changed the canvas since the previous point. */
  authors: string[];
  point: VersionPoint;
}

/**
 * The timeline newest first (the server lists it oldest first), with the
 * authors' names from names (user id → name); an id not there (someone no
 * longer a member) is shown as unknown.
 */
export function timelineEntries(points: readonly VersionPoint[], names: ReadonlyMap<string, string>, unknown: string): TimelineEntry[] {
  return points
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.seq - a.p.seq || Date.parse(b.p.at) - Date.parse(a.p.at) || b.i - a.i)
    .map(({ p, i }) => ({
      key: `${p.seq}-${p.kind}-${i}`,
      seq: p.seq,
      at: p.at,
      kind: p.kind,
      name: p.name ?? '',
      authors: [...new Set(p.authors ?? [])].map((id) => names.get(id) || unknown),
      point: p,
    }));
}

/**
 * A point's time for the timeline: the time of day with seconds when it
 * is on now's day, else the date and time (with the year when not now's).
 * timeZone is for tests; the browser's own by default.
 */
export function formatWhen(iso: string, locale: string, now: Date = new Date(), timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = (x: Date) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(x);
  const year = (x: Date) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric' }).format(x);
  const opts: Intl.DateTimeFormatOptions =
    day(d) === day(now)
      ? { hour: 'numeric', minute: '2-digit', second: '2-digit' }
      : { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', ...(year(d) === year(now) ? {} : { year: 'numeric' }) };
  return new Intl.DateTimeFormat(locale, { ...opts, timeZone }).format(d);
}

/** The message for an error of a history call, with the server's own words when the translation does not carry them. */
export function historyErrorText(t: TFunction, err: unknown): string {
  if (err instanceof ApiError && err.code === 'history_trimmed') return t('history.trimmed', { message: err.message });
  const text = errorText(t, err);
  if (err instanceof ApiError && err.message && err.code !== 'network' && !text.includes(err.message)) return `${text} (${err.message})`;
  return text;
}

function sameEdge(a: CanvasEdge, b: CanvasEdge): boolean {
  return a.source === b.source && a.target === b.target && a.kind === b.kind && jsonEqual(a.data, b.data);
}

/**
 * The undo entry of restoring version over live: for every card and edge
 * whose content differs, the live value (before) and the version's (after,
 * which the restore commits). Undoing it through the UndoManager brings
 * the live content back, except what others changed since.
 */
export function restoreEntry(live: Doc, version: Doc): Entry {
  const e: Entry = { nodes: new Map(), edges: new Map(), cbids: [], at: Date.now() };
  for (const id of new Set([...live.nodes.keys(), ...version.nodes.keys()])) {
    const before = live.nodes.get(id);
    const after = version.nodes.get(id);
    if (!before || !after || before.kind !== after.kind || changedKeys(before, after).length > 0) e.nodes.set(id, { before, after });
  }
  for (const id of new Set([...live.edges.keys(), ...version.edges.keys()])) {
    const before = live.edges.get(id);
    const after = version.edges.get(id);
    if (!before || !after || !sameEdge(before, after)) e.edges.set(id, { before, after });
  }
  if (live.title !== version.title) e.title = { before: live.title, after: version.title };
  return e;
}

/** Whether an entry changes anything. */
export function entryIsEmpty(e: Entry): boolean {
  return e.nodes.size === 0 && e.edges.size === 0 && !e.title;
}
