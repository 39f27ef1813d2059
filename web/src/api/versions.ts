// The version history routes (docs/history.md): the timeline of kept
// points, the canvas at any seq, the diff between two seqs, naming the
// current version and restoring an earlier one.

import type { Snapshot } from '../sync/protocol';
import { api } from './client';

/** How a version was kept: by name, before an AI answer, or by a checkpoint. */
export type VersionKind = 'named' | 'ai' | 'auto';

/** One kept point of a canvas's timeline. */
export interface VersionPoint {
  seq: number;
  /** When it was kept (RFC 3339). */
  at: string;
  kind: VersionKind;
  name?: string;
  /** Who named it. */
  by?: string;
  /** The user ids who committed batches since the previous point. */
  authors: string[] | null;
}

/** What changed from one seq to another: ids of cards and edges. */
export interface VersionDiff {
  from: number;
  to: number;
  nodes_added: string[] | null;
  nodes_removed: string[] | null;
  nodes_changed: string[] | null;
  edges_added: string[] | null;
  edges_removed: string[] | null;
  edges_changed: string[] | null;
  meta_changed: boolean;
}

const path = (id: string) => `/canvases/${encodeURIComponent(id)}`;

export const versions = {
  /** The kept points, oldest first. */
  list: (id: string) => api<{ versions: VersionPoint[] | null }>('GET', `${path(id)}/versions`).then((r) => r.versions ?? []),
  /** The canvas as it was at seq, in the export form. */
  at: (id: string, seq: number) => api<Snapshot>('GET', `${path(id)}/versions/${seq}`),
  diff: (id: string, from: number, to: number) => api<VersionDiff>('GET', `${path(id)}/versions/diff?from=${from}&to=${to}`),
  /** Keeps the canvas as it is now under name; returns its seq. */
  name: (id: string, name: string) => api<{ seq: number }>('POST', `${path(id)}/versions`, { name }).then((r) => r.seq),
  /** Commits the difference from now to seq as one batch; returns the seq of that batch (the current one when nothing differs). */
  restore: (id: string, seq: number) => api<{ seq: number }>('POST', `${path(id)}/restore`, { seq }).then((r) => r.seq),
};
