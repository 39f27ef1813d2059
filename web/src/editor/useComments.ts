// useComments holds the studio's comment state for one canvas: the panel
// and its tab, the comment tool and the thread being started, the selected
// thread, the members one can mention, and the read marker, moved on while
// the panel is open (docs/comments.md). Comment changes go through the
// undo manager, so that one's own can be undone like cards; viewers may
// make them too (the sync client sends comment-only batches for them).

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { canvases } from '../api/client';
import { comments as commentsApi } from '../api/comments';
import type { SyncClient } from '../sync/client';
import { OpError } from '../sync/doc';
import type { Op } from '../sync/protocol';
import type { UndoManager } from '../undo/undo';
import { unreadMentions, type MentionCandidate } from './comments';
import { newId } from './ids';

/** Where a thread being started goes. */
export interface Draft {
  node?: string;
  x: number;
  y: number;
}

export interface CommentsState {
  client: SyncClient;
  me: string;
  open: boolean;
  setOpen(open: boolean): void;
  showResolved: boolean;
  setShowResolved(v: boolean): void;
  /** The comment tool: the next click on the canvas starts a thread there. */
  placing: boolean;
  setPlacing(v: boolean): void;
  draft: Draft | null;
  startDraft(d: Draft): void;
  cancelDraft(): void;
  selected: string | null;
  select(id: string | null): void;
  members: MentionCandidate[];
  /** A member's name by user id ('' when unknown). */
  nameOf(userId: string): string;
  /** Mentions of me by others not read yet. */
  unread: number;
  /** The last change refused here (an OpError's code), until the next one. */
  error: string;
  /** Sends ops through the undo manager; false (with error set) when they do not fit the canvas. */
  send(ops: Op[]): boolean;
  addThread(text: string, mentions: string[]): string | null;
  reply(thread: string, text: string, mentions: string[]): boolean;
}

export function useComments(canvasId: string, client: SyncClient, undo: UndoManager, me: string, version: number): CommentsState {
  const [open, setOpenState] = useState(false);
  const [showResolved, setShowResolved] = useState(false);
  const [placing, setPlacing] = useState(false);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [members, setMembers] = useState<MentionCandidate[]>([]);
  const [read, setRead] = useState(0);
  const [error, setError] = useState('');
  const marking = useRef(0);

  const loadMembers = useCallback(() => {
    canvases
      .members(canvasId)
      .then((ms) => setMembers(ms.map((m) => ({ id: m.user_id, name: m.name || m.email }))))
      .catch(() => {});
  }, [canvasId]);

  useEffect(() => {
    loadMembers();
    commentsApi
      .list(canvasId)
      .then((v) => setRead((r) => Math.max(r, v.read)))
      .catch(() => {});
  }, [canvasId, loadMembers]);

  const setOpen = useCallback(
    (v: boolean) => {
      setOpenState(v);
      if (v) loadMembers();
    },
    [loadMembers],
  );

  // While the panel is open, everything on the canvas counts as read.
  const seq = client.seq;
  useEffect(() => {
    if (!open || seq === undefined || seq <= read || marking.current >= seq) return;
    marking.current = seq;
    commentsApi
      .read(canvasId, seq)
      .then(() => setRead((r) => Math.max(r, seq)))
      .catch(() => {
        marking.current = 0;
      });
  }, [open, seq, read, canvasId]);

  // A thread deleted meanwhile is no longer selected.
  useEffect(() => {
    if (selected && !client.doc.comments.has(selected)) setSelected(null);
  }, [version, selected, client]);

  const send = useCallback(
    (ops: Op[]): boolean => {
      setError('');
      try {
        return undo.apply(ops) !== null;
      } catch (err) {
        setError(err instanceof OpError ? err.code : 'invalid_op');
        return false;
      }
    },
    [undo],
  );

  const names = useMemo(() => new Map(members.map((m) => [m.id, m.name])), [members]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const unread = useMemo(() => unreadMentions(client.doc, me, read), [client, me, read, version]);

  return {
    client,
    me,
    open,
    setOpen,
    showResolved,
    setShowResolved,
    placing,
    setPlacing: (v) => {
      setPlacing(v);
      if (v) setSelected(null);
    },
    draft,
    startDraft: (d) => {
      setDraft(d);
      setPlacing(false);
      setSelected(null);
      setShowResolved(false);
      setOpen(true);
    },
    cancelDraft: () => setDraft(null),
    selected,
    select: setSelected,
    members,
    nameOf: (id) => names.get(id) ?? '',
    unread,
    error,
    send,
    addThread: (text, mentions) => {
      if (!draft) return null;
      const id = newId('c');
      const op: Op = { op: 'comment.add', id, x: draft.x, y: draft.y, text };
      if (draft.node && client.doc.nodes.has(draft.node)) op.node = draft.node;
      if (mentions.length) op.mentions = mentions;
      if (!send([op])) return null;
      setDraft(null);
      setSelected(id);
      return id;
    },
    reply: (thread, text, mentions) => {
      const op: Op = { op: 'comment.add', id: newId('c'), thread, text };
      if (mentions.length) op.mentions = mentions;
      return send([op]);
    },
  };
}
