// The comments routes (docs/comments.md): the committed comments with the
// caller's read marker, and moving that marker on. The comments themselves
// change through ops, like cards.

import type { CanvasComment } from '../sync/protocol';
import { api } from './client';

/** GET /api/v1/canvases/:id/comments. */
export interface CommentsView {
  seq: number;
  /** The seq up to which the caller has read the comments. */
  read: number;
  comments: CanvasComment[];
}

export const comments = {
  list: (canvasId: string) => api<CommentsView>('GET', `/canvases/${encodeURIComponent(canvasId)}/comments`),
  /** The caller has read the comments up to seq (a lower seq than recorded changes nothing). */
  read: (canvasId: string, seq: number) => api<void>('POST', `/canvases/${encodeURIComponent(canvasId)}/comments/read`, { seq }),
};
