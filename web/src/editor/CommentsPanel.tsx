// The comments panel: the thread being started, then the open or the
// resolved threads, each with its replies, a reply box, resolve or reopen
// (anyone who may comment), and edit and delete on one's own comments only
// (the server lets only a comment's author change it). Clicking a thread
// selects it and brings its pin into view.

import { useReactFlow } from '@xyflow/react';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { CanvasComment } from '../sync/protocol';
import { mentionSpans, pinPosition, threadsOf, type Thread } from './comments';
import { MentionInput } from './MentionInput';
import type { CommentsState } from './useComments';
import './comments.css';

export function CommentsPanel({ comments, version }: { comments: CommentsState; version: number }) {
  const { t } = useTranslation();
  void version;
  const doc = comments.client.doc;
  const open = threadsOf(doc, false);
  const resolved = threadsOf(doc, true);
  const shown = comments.showResolved ? resolved : open;
  return (
    <aside className="comments-panel" aria-label={t('comments.title')} data-testid="comments-panel">
      <div className="comments-head">
        <h2>{t('comments.title')}</h2>
        <button type="button" className="comments-close" aria-label={t('comments.close')} title={t('comments.close')} onClick={() => comments.setOpen(false)}>
          ×
        </button>
      </div>
      <div className="comments-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={!comments.showResolved} onClick={() => comments.setShowResolved(false)} data-testid="comments-tab-open">
          {t('comments.open', { count: open.length })}
        </button>
        <button type="button" role="tab" aria-selected={comments.showResolved} onClick={() => comments.setShowResolved(true)} data-testid="comments-tab-resolved">
          {t('comments.resolved', { count: resolved.length })}
        </button>
      </div>
      {comments.error && (
        <p className="form-error" role="alert" data-testid="comments-error">
          {t('errors.rejected', { reason: t(`errors.${comments.error}`, { defaultValue: comments.error }) })}
        </p>
      )}
      {comments.draft && (
        <div className="comment-thread draft" data-testid="comment-draft">
          <div className="comment-where">{comments.draft.node ? t('comments.onCard') : t('comments.onCanvas')}</div>
          <MentionInput
            members={comments.members}
            me={comments.me}
            placeholder={t('comments.newPlaceholder')}
            submitLabel={t('comments.post')}
            testId="comment-new"
            autoFocus
            onSubmit={(text, mentions) => comments.addThread(text, mentions) !== null}
            onCancel={comments.cancelDraft}
          />
        </div>
      )}
      {shown.length === 0 && !comments.draft && <p className="comments-empty">{comments.showResolved ? t('comments.noneResolved') : t('comments.none')}</p>}
      <ul className="comment-threads">
        {shown.map((th) => (
          <ThreadItem key={th.root.id} thread={th} comments={comments} />
        ))}
      </ul>
    </aside>
  );
}

function ThreadItem({ thread, comments }: { thread: Thread; comments: CommentsState }) {
  const { t } = useTranslation();
  const flow = useReactFlow();
  const ref = useRef<HTMLLIElement>(null);
  const { root, replies } = thread;
  const selected = comments.selected === root.id;
  useEffect(() => {
    if (selected) ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [selected]);
  const jump = () => {
    comments.select(root.id);
    const p = pinPosition(root, comments.client.doc);
    void flow.setCenter(p.x, p.y, { zoom: flow.getZoom(), duration: 250 });
  };
  return (
    <li ref={ref} className={`comment-thread${selected ? ' selected' : ''}`} data-testid="comment-thread" data-thread={root.id} data-resolved={root.resolved ? 'true' : 'false'}>
      <button type="button" className="comment-where" onClick={jump} data-testid="comment-jump">
        {root.node && comments.client.doc.nodes.has(root.node) ? t('comments.onCard') : t('comments.onCanvas')}
      </button>
      <CommentItem c={root} comments={comments} onClick={jump} />
      {replies.map((r) => (
        <CommentItem key={r.id} c={r} comments={comments} />
      ))}
      <div className="comment-thread-actions">
        <button type="button" onClick={() => comments.send([{ op: 'comment.update', id: root.id, resolved: !root.resolved }])} data-testid={root.resolved ? 'comment-reopen' : 'comment-resolve'}>
          {root.resolved ? t('comments.reopen') : t('comments.resolve')}
        </button>
      </div>
      <MentionInput
        members={comments.members}
        me={comments.me}
        placeholder={t('comments.replyPlaceholder')}
        submitLabel={t('comments.reply')}
        testId="comment-reply"
        onSubmit={(text, mentions) => comments.reply(root.id, text, mentions)}
      />
    </li>
  );
}

function CommentItem({ c, comments, onClick }: { c: CanvasComment; comments: CommentsState; onClick?(): void }) {
  const { t, i18n } = useTranslation();
  const [editing, setEditing] = useState(false);
  const mine = c.author === comments.me;
  const name = comments.nameOf(c.author) || t('comments.someone');
  const names = (c.mentions ?? []).map((id) => comments.nameOf(id));
  const when = new Intl.DateTimeFormat(i18n.resolvedLanguage, { dateStyle: 'short', timeStyle: 'short' }).format(new Date(c.created_at || Date.now()));
  return (
    <div className="comment" data-testid="comment" data-comment={c.id} data-author={c.author}>
      <div className="comment-meta">
        <span className="comment-author">{mine ? t('comments.you', { name }) : name}</span>
        <span className="comment-time">{when}</span>
        {c.updated_at !== c.created_at && <span className="comment-edited">{t('comments.edited')}</span>}
      </div>
      {editing ? (
        <MentionInput
          members={comments.members}
          me={comments.me}
          placeholder={t('comments.editPlaceholder')}
          submitLabel={t('comments.save')}
          initialText={c.text}
          initialMentions={(c.mentions ?? []).map((id) => ({ id, name: comments.nameOf(id) }))}
          testId="comment-edit-text"
          autoFocus
          onSubmit={(text, mentions) => {
            const ok = comments.send([{ op: 'comment.update', id: c.id, text, mentions }]);
            if (ok) setEditing(false);
            return ok;
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <p className="comment-text" onClick={onClick} data-testid="comment-text">
          {mentionSpans(c.text, names).map((s, i) =>
            s.mention ? (
              <span key={i} className="comment-mention">
                {s.text}
              </span>
            ) : (
              s.text
            ),
          )}
        </p>
      )}
      {mine && !editing && (
        <div className="comment-own-actions">
          <button type="button" onClick={() => setEditing(true)} data-testid="comment-edit">
            {t('comments.edit')}
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => confirm(c.thread ? t('comments.confirmDeleteReply') : t('comments.confirmDeleteThread')) && comments.send([{ op: 'comment.delete', id: c.id }])}
            data-testid="comment-delete"
          >
            {t('comments.delete')}
          </button>
        </div>
      )}
    </div>
  );
}
