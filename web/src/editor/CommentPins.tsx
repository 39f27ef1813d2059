// Comment threads on the canvas: a pin for each (at its card's top-right
// corner, following the card, or at its point), the pin of the thread
// being started, and the comment tool's layer that turns the next click
// into a place for a thread. Pins live in the flow's viewport, so they
// pan and zoom with the cards.

import { useNodes, useReactFlow, useStore, ViewportPortal } from '@xyflow/react';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { cardCorner, pinPosition, threadsOf } from './comments';
import { initials } from './ids';
import type { CommentsState } from './useComments';
import './comments.css';

export function CommentPins({ comments, version }: { comments: CommentsState; version: number }) {
  const { t } = useTranslation();
  const zoom = useStore((s) => s.transform[2]);
  // The cards as drawn now, a drag in progress included.
  const drawn = useNodes();
  const doc = comments.client.doc;
  void version;
  const threads = threadsOf(doc, false);
  if (comments.showResolved && comments.open) threads.push(...threadsOf(doc, true));
  const draft = comments.draft;
  // The cards the pins are on, as drawn: one pass over the cards, not one per pin.
  const anchored = new Set(threads.map((th) => th.root.node).filter(Boolean));
  if (draft?.node) anchored.add(draft.node);
  const cards = new Map<string, { x: number; y: number; w: number }>();
  if (anchored.size) for (const n of drawn) if (anchored.has(n.id)) cards.set(n.id, { x: n.position.x, y: n.position.y, w: n.width ?? n.measured?.width ?? 0 });
  const cardOf = (id: string | undefined) => (id ? cards.get(id) : undefined);
  const draftAt = draft && (draft.node && cardOf(draft.node) ? cardCorner(cardOf(draft.node)!) : draft);
  return (
    <ViewportPortal>
      {threads.map(({ root, replies }) => {
        const p = pinPosition(root, doc, cardOf(root.node));
        const name = comments.nameOf(root.author);
        return (
          <button
            type="button"
            key={root.id}
            className={`comment-pin nopan nodrag nowheel${comments.selected === root.id ? ' selected' : ''}${root.resolved ? ' resolved' : ''}`}
            style={{ transform: `translate(${p.x}px, ${p.y}px) scale(${1 / zoom})` }}
            data-testid="comment-pin"
            data-thread={root.id}
            title={t('comments.pinTitle', { name: name || t('comments.someone'), count: replies.length })}
            onClick={(e) => {
              e.stopPropagation();
              comments.select(root.id);
              comments.setShowResolved(!!root.resolved);
              comments.setOpen(true);
            }}
          >
            <span className="comment-pin-face">{initials(name || '?')}</span>
            {replies.length > 0 && <span className="comment-pin-count">{replies.length + 1}</span>}
          </button>
        );
      })}
      {draftAt && (
        <div className="comment-pin draft" style={{ transform: `translate(${draftAt.x}px, ${draftAt.y}px) scale(${1 / zoom})` }} data-testid="comment-draft-pin">
          <span className="comment-pin-face">+</span>
        </div>
      )}
    </ViewportPortal>
  );
}

/**
 * The comment tool's layer over the canvas: a click on a card starts a
 * thread on it (its pin at the card's top-right corner, which is stored as
 * the thread's point too), a click elsewhere one at that point. M toggles
 * the tool; Escape leaves it, and drops a thread not yet posted.
 */
export function CommentPlacer({ comments, enabled }: { comments: CommentsState; enabled: boolean }) {
  const { t } = useTranslation();
  const flow = useReactFlow();
  const { placing, setPlacing, draft, cancelDraft } = comments;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable)) return;
      if (document.querySelector('[role="dialog"]')) return;
      if (e.key.toLowerCase() === 'm' && !e.ctrlKey && !e.metaKey && !e.altKey && enabled) {
        e.preventDefault();
        setPlacing(!placing);
      } else if (e.key === 'Escape' && (placing || draft)) {
        setPlacing(false);
        cancelDraft();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [placing, draft, enabled, setPlacing, cancelDraft]);

  if (!placing || !enabled) return null;
  return (
    <div
      className="comment-placer"
      data-testid="comment-placer"
      aria-label={t('comments.placeHint')}
      onClick={(e) => {
        const card = document
          .elementsFromPoint(e.clientX, e.clientY)
          .map((el) => el.closest('.react-flow__node'))
          .find((el): el is HTMLElement => el instanceof HTMLElement && !el.classList.contains('is-ghost'));
        const id = card?.dataset.id;
        const n = id ? comments.client.doc.nodes.get(id) : undefined;
        if (n) {
          comments.startDraft({ node: n.id, ...cardCorner(n) });
          return;
        }
        const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
        comments.startDraft({ x: Math.round(p.x), y: Math.round(p.y) });
      }}
    >
      <span className="comment-placer-hint">{t('comments.placeHint')}</span>
    </div>
  );
}
