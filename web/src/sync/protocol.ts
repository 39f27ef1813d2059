// The frames of SKER's WebSocket protocol (docs/protocol.md; the server's
// side is package gateway). Only what the studio uses is typed here.

/** A JSON value as stored in node and edge data. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Node kinds the server accepts (canvas.NodeKinds). */
export type NodeKind = 'text' | 'note' | 'image' | 'ai' | 'file';

/** A card as the server holds it (canvas.Node). */
export interface CanvasNode {
  id: string;
  kind: NodeKind;
  x: number;
  y: number;
  w: number;
  h: number;
  z: number;
  data: Record<string, Json>;
  author?: string;
  created_at?: number;
  updated_at?: number;
}

/** An edge between two cards (canvas.Edge). */
export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  kind: string;
  data: Record<string, Json>;
  author?: string;
  created_at?: number;
}

/**
 * A comment (canvas.Comment): a thread (no thread field) anchored to a card
 * and/or a point, or a reply naming its thread (docs/comments.md).
 */
export interface CanvasComment {
  id: string;
  thread?: string;
  node?: string;
  x: number;
  y: number;
  text: string;
  /** User ids mentioned. */
  mentions?: string[];
  /** On a thread: resolved or open. */
  resolved?: boolean;
  author: string;
  created_at: number;
  updated_at: number;
  /** The seq of the batch that added it; 0 while it is a local change not yet committed. */
  seq: number;
}

/** One change (canvas.Op). Which fields matter depends on op. */
export type Op =
  | {
      op: 'node.add';
      id: string;
      kind: NodeKind;
      x?: number;
      y?: number;
      w?: number;
      h?: number;
      z?: number;
      data?: Record<string, Json>;
    }
  | { op: 'node.update'; id: string; set?: Record<string, Json>; unset?: string[] }
  | { op: 'node.delete'; id: string }
  | { op: 'edge.add'; id: string; source: string; target: string; kind?: string; data?: Record<string, Json> }
  | { op: 'edge.delete'; id: string }
  | { op: 'canvas.update'; title?: string; settings?: Record<string, Json> }
  /** Runs an AI card (alone in its batch); the server turns it into node.update ops. */
  | { op: 'ai.run'; id: string }
  | { op: 'ai.cancel'; id: string }
  | CommentOp;

/** The ops of comments (docs/comments.md); a viewer's batch may hold only these. */
export type CommentOp =
  | { op: 'comment.add'; id: string; thread?: string; node?: string; x?: number; y?: number; text: string; mentions?: string[] }
  | { op: 'comment.update'; id: string; text?: string; mentions?: string[]; resolved?: boolean }
  | { op: 'comment.delete'; id: string };

/** Whether every op is a comment op (and there is one): a batch a viewer may send (canvas.CommentOnly). */
export function commentOnly(ops: readonly Op[]): boolean {
  return ops.length > 0 && ops.every((o) => o.op === 'comment.add' || o.op === 'comment.update' || o.op === 'comment.delete');
}

/** The canonical form of a canvas (canvas.Export): the join snapshot. */
export interface Snapshot {
  version: number;
  id: string;
  title: string;
  settings: Record<string, Json>;
  seq: number;
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  /** Absent when the canvas has none. */
  comments?: CanvasComment[];
}

/** A committed batch as the server fans it out (journal.Committed). */
export interface Committed {
  seq: number;
  author: string;
  at: number;
  cbid?: string;
  ops: Op[];
}

export interface Cursor {
  x: number;
  y: number;
}

/** Limits the server announces in hello. */
export interface Limits {
  max_frame_bytes: number;
  max_canvases: number;
  ops_per_second: number;
  ops_burst: number;
  presence_interval_ms: number;
  send_queue: number;
}

// Frames the server sends.
export type ServerFrame =
  | { type: 'hello'; session: string; user: string; limits: Limits }
  | { type: 'joined'; canvas: string; role: Role; seq: number; snapshot?: Snapshot }
  | { type: 'changes'; canvas: string; batches: Committed[] }
  | { type: 'ack'; canvas: string; cbid?: string; seq: number }
  | { type: 'reject'; canvas: string; cbid?: string; code: string; message: string; index?: number }
  | { type: 'error'; canvas?: string; code: string; message: string }
  | { type: 'left'; canvas: string }
  | { type: 'pong'; id?: string }
  | PresenceFrame
  | { type: 'presence.leave'; canvas: string; session: string; user?: string }
  | AIFrame;

/** A streaming AI answer (ephemeral; the committed data.answer is authoritative). */
export interface AIFrame {
  type: 'ai.text' | 'ai.delta' | 'ai.end';
  canvas: string;
  node: string;
  run: string;
  /** Bytes (UTF-8) of the answer before this frame's text. */
  offset: number;
  delta?: string;
  text?: string;
}

export interface PresenceFrame {
  type: 'presence';
  canvas: string;
  session: string;
  user?: string;
  name?: string;
  color?: string;
  cursor?: Cursor;
  selection?: string[];
}

// Frames the client sends.
export type ClientFrame =
  | { type: 'auth'; token: string }
  | { type: 'join'; canvas: string; since?: number }
  | { type: 'leave'; canvas: string }
  | { type: 'ops'; canvas: string; cbid: string; ops: Op[] }
  | { type: 'presence'; canvas: string; cursor?: Cursor; selection?: string[]; name?: string; color?: string }
  | { type: 'ping'; id?: string };

export type Role = 'owner' | 'editor' | 'viewer';

/** WebSocket close codes of the protocol (gateway/errors.go). */
export const CloseCode = {
  Unauthorized: 4001,
  AuthTimeout: 4002,
  ProtocolError: 4003,
  SlowConsumer: 4008,
  RateLimited: 4009,
  Idle: 4010,
  Resync: 4011,
} as const;

/** The most ops the server takes in one batch (canvas.DefaultLimits). */
export const MaxBatchOps = 500;
