// Copy and paste of cards (with the edges between them), across canvases
// and tabs of the same browser through localStorage.

import type { Doc } from '../sync/doc';
import type { CanvasEdge, CanvasNode, Op } from '../sync/protocol';
import { newId } from './ids';

export interface Clip {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

const key = 'sker.clipboard';

/** The selected nodes and the edges between them. */
export function copy(doc: Doc, nodeIds: Iterable<string>): Clip {
  const ids = new Set(nodeIds);
  const nodes = [...ids].map((id) => doc.nodes.get(id)).filter((n): n is CanvasNode => !!n);
  const edges = [...doc.edges.values()].filter((e) => ids.has(e.source) && ids.has(e.target));
  const clip = { nodes, edges };
  try {
    localStorage.setItem(key, JSON.stringify(clip));
  } catch {
    /* too large or unavailable: paste within this tab still works */
  }
  last = clip;
  return clip;
}

let last: Clip | null = null;

/** The last copied clip, from this tab or another. */
export function clipboard(): Clip | null {
  try {
    const raw = localStorage.getItem(key);
    if (raw) return JSON.parse(raw) as Clip;
  } catch {
    /* fall back to this tab's */
  }
  return last;
}

/** Ops that add a copy of the clip, shifted by (dx, dy), with new ids; and the new node ids. */
export function pasteOps(clip: Clip, dx: number, dy: number, topZ: number): { ops: Op[]; ids: string[] } {
  const idMap = new Map<string, string>();
  const ops: Op[] = [];
  let z = topZ;
  for (const n of clip.nodes) {
    const id = newId('n');
    idMap.set(n.id, id);
    ops.push({ op: 'node.add', id, kind: n.kind, x: Math.round(n.x + dx), y: Math.round(n.y + dy), w: n.w, h: n.h, z: ++z, data: n.data });
  }
  for (const e of clip.edges) {
    const source = idMap.get(e.source);
    const target = idMap.get(e.target);
    if (source && target) ops.push({ op: 'edge.add', id: newId('e'), source, target, kind: e.kind, data: e.data });
  }
  return { ops, ids: [...idMap.values()] };
}
