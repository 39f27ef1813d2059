// The editor page: header (back, title, people here, connection, share),
// toolbar, the canvas, and messages for changes the server refused.

import { ReactFlowProvider } from '@xyflow/react';
import { useCallback, useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import type { User } from '../api/client';
import { Canvas, type CanvasHandle } from '../editor/Canvas';
import { buildPreview } from '../editor/history';
import { HistoryPanel, PreviewBanner } from '../editor/HistoryPanel';
import { initials } from '../editor/ids';
import { CommentPins, CommentPlacer } from '../editor/CommentPins';
import { CommentsPanel } from '../editor/CommentsPanel';
import { useComments } from '../editor/useComments';
import { useAIProviders } from '../editor/ModelPicker';
import { useCanvasSync, type CanvasSync } from '../editor/useCanvasSync';
import { useHistory } from '../editor/useHistory';
import { useUploads, type Uploads } from '../editor/useUploads';
import { LanguageSwitch } from './LanguageSwitch';
import { ShareDialog } from './ShareDialog';

export function EditorPage({ user }: { user: User }) {
  const { id = '' } = useParams();
  return <Editor key={id} canvasId={id} user={user} />;
}

function Editor({ canvasId, user }: { canvasId: string; user: User }) {
  const { t } = useTranslation();
  const sync = useCanvasSync(canvasId, { id: user.id, name: user.name || user.email });
  const { client, undo, version, role, fatal } = sync;
  const canvas = useRef<CanvasHandle>(null);
  const [sharing, setSharing] = useState(false);
  const [selCount, setSelCount] = useState(0);
  const aiProviders = useAIProviders();
  const uploads = useUploads(canvasId);
  const imageInput = useRef<HTMLInputElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const history = useHistory(canvasId, client, undo, client.seq);
  // Comments: every member, viewers too; not on an earlier version.
  const comments = useComments(canvasId, client, undo, user.id, version);
  const canComment = role !== null && !history.shown;
  const mayEdit = role === 'owner' || role === 'editor';
  // An earlier version on the canvas is read-only.
  const canEdit = mayEdit && !history.shown;
  const title = client.doc.title;
  const { shown, diff } = history;
  const preview = useMemo(
    () => (shown ? buildPreview(shown.seq, shown.doc, client.doc, diff) : undefined),
    // version: the live canvas changed (the cards added since are drawn from it).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [shown, diff, client, version],
  );

  useEffect(() => {
    document.title = title ? `${title} · SKER` : 'SKER';
  }, [title]);

  const onSelectionCount = useCallback((n: number) => setSelCount(n), []);

  if (fatal) {
    return (
      <div className="page-message">
        <p>{t('editor.notFound')}</p>
        <Link to="/">{t('editor.back')}</Link>
      </div>
    );
  }

  return (
    <div className="editor" data-role={role ?? ''}>
      <header className="editor-header">
        <Link to="/" className="back" title={t('editor.back')}>
          ← {t('editor.back')}
        </Link>
        <TitleField title={title} canEdit={canEdit} onRename={(next) => undo.apply([{ op: 'canvas.update', title: next }])} />
        {role && (
          <span className={`role-badge role-${role}`} data-testid="my-role">
            {role === 'viewer' ? t('editor.viewOnly') : t(`role.${role}`)}
          </span>
        )}
        <div className="spacer" />
        <Avatars sync={sync} me={user} />
        <StatusIndicator sync={sync} />
        <button type="button" aria-pressed={comments.open} onClick={() => comments.setOpen(!comments.open)} data-testid="comments-toggle">
          {t('comments.toggle')}
          {comments.unread > 0 && (
            <span className="comments-unread" title={t('comments.unread', { count: comments.unread })} data-testid="comments-unread">
              {comments.unread}
            </span>
          )}
        </button>
        <button type="button" aria-pressed={history.open} onClick={() => history.setOpen(!history.open)} data-testid="history-toggle">
          {t('history.open')}
        </button>
        <button type="button" onClick={() => setSharing(true)}>
          {t('editor.share')}
        </button>
        <LanguageSwitch />
      </header>
      <div className="toolbar" role="toolbar">
        <button type="button" disabled={!canEdit} onClick={() => canvas.current?.addCard('text')} data-testid="add-text">
          {t('editor.addText')}
        </button>
        <button type="button" disabled={!canEdit} onClick={() => canvas.current?.addCard('note')} data-testid="add-note">
          {t('editor.addNote')}
        </button>
        <button type="button" disabled={!canEdit} onClick={() => canvas.current?.addCard('ai')} data-testid="add-ai">
          {t('editor.addAI')}
        </button>
        <button type="button" disabled={!canEdit} onClick={() => imageInput.current?.click()} data-testid="add-image">
          {t('editor.addImage')}
        </button>
        <button type="button" disabled={!canEdit} onClick={() => fileInput.current?.click()} data-testid="add-file">
          {t('editor.addFile')}
        </button>
        <FilePicker inputRef={imageInput} accept="image/*" testId="image-input" label={t('editor.addImage')} canvas={canvas} disabled={!canEdit} />
        <FilePicker inputRef={fileInput} testId="file-input" label={t('editor.addFile')} canvas={canvas} disabled={!canEdit} />
        <span className="sep" />
        <button type="button" disabled={!canEdit || selCount === 0} onClick={() => canvas.current?.deleteSelection()} data-testid="delete">
          {t('editor.delete')}
        </button>
        <button type="button" disabled={!canEdit || !undo.canUndo} onClick={() => undo.undo()} data-testid="undo">
          {t('editor.undo')}
        </button>
        <button type="button" disabled={!canEdit || !undo.canRedo} onClick={() => undo.redo()} data-testid="redo">
          {t('editor.redo')}
        </button>
        <span className="sep" />
        <button type="button" onClick={() => canvas.current?.fitView()}>
          {t('editor.fitView')}
        </button>
        <button type="button" aria-pressed={comments.placing} disabled={!canComment} title={t('comments.toolHint')} onClick={() => comments.setPlacing(!comments.placing)} data-testid="comment-tool">
          {t('comments.tool')}
        </button>
        <span className="hint">{role === 'viewer' ? t('editor.viewOnlyHint') : t('editor.shortcuts')}</span>
      </div>
      <main className={`editor-main${history.open ? ' with-history' : ''}`}>
        {client.seq === undefined ? (
          <div className="page-message">{t('editor.loading')}</div>
        ) : (
          <ReactFlowProvider>
            <Canvas
              ref={canvas}
              client={client}
              undo={undo}
              canEdit={canEdit}
              version={version}
              peers={sync.peers}
              aiProviders={aiProviders}
              onSelectionCount={onSelectionCount}
              uploads={uploads}
              preview={preview}
            />
            {!preview && <CommentPins comments={comments} version={version} />}
            <CommentPlacer comments={comments} enabled={canComment} />
            {comments.open && <CommentsPanel comments={comments} version={version} />}
          </ReactFlowProvider>
        )}
        <PreviewBanner history={history} />
        {history.open && <HistoryPanel history={history} mayEdit={mayEdit} liveSeq={client.seq} />}
      </main>
      <Toasts sync={sync} uploads={uploads} />
      {sharing && <ShareDialog canvasId={canvasId} title={title} myRole={role} me={user} onClose={() => setSharing(false)} />}
    </div>
  );
}

function TitleField({ title, canEdit, onRename }: { title: string; canEdit: boolean; onRename(t: string): void }) {
  const { t } = useTranslation();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(title);
  if (!editing) {
    return (
      <h1 className="canvas-title">
        <button
          type="button"
          className="title-button"
          disabled={!canEdit}
          title={canEdit ? t('editor.renameHint') : undefined}
          onClick={() => {
            setDraft(title);
            setEditing(true);
          }}
          data-testid="canvas-title"
        >
          {title}
        </button>
      </h1>
    );
  }
  const done = (save: boolean) => {
    setEditing(false);
    const next = draft.trim();
    if (save && next && next !== title) onRename(next.slice(0, 200));
  };
  return (
    <input
      className="title-input"
      autoFocus
      value={draft}
      maxLength={200}
      aria-label={t('list.rename')}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => done(true)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') done(true);
        if (e.key === 'Escape') done(false);
      }}
    />
  );
}

function Avatars({ sync, me }: { sync: CanvasSync; me: User }) {
  const { t } = useTranslation();
  const byUser = new Map<string, { name: string; color: string }>();
  for (const p of sync.peers.values()) if (p.user !== me.id && !byUser.has(p.user)) byUser.set(p.user, { name: p.name, color: p.color });
  return (
    <div className="avatars" data-testid="avatars">
      <span className="avatar me" style={{ background: sync.color }} title={`${me.name || me.email} (${t('editor.you')})`}>
        {initials(me.name || me.email)}
      </span>
      {[...byUser.entries()].map(([id, p]) => (
        <span key={id} className="avatar" style={{ background: p.color }} title={p.name} data-testid="peer-avatar">
          {initials(p.name)}
        </span>
      ))}
    </div>
  );
}

function StatusIndicator({ sync }: { sync: CanvasSync }) {
  const { t } = useTranslation();
  const { status, pending, local } = sync;
  return (
    <span className={`status status-${status}`} data-testid="status" data-status={status} data-pending={pending} data-local={local ? 'true' : undefined} role="status">
      <span className="dot" />
      {t(`status.${status}`)}
      {pending > 0 && status !== 'connected' ? ` · ${t('status.pending', { count: pending })}` : ''}
      {local && <span title={t('status.localHint')}>{` · ${t('status.local')}`}</span>}
    </span>
  );
}

/** A hidden file input whose chosen files the canvas uploads. */
function FilePicker(props: {
  inputRef: RefObject<HTMLInputElement | null>;
  accept?: string;
  testId: string;
  label: string;
  canvas: RefObject<CanvasHandle | null>;
  disabled: boolean;
}) {
  return (
    <input
      ref={props.inputRef}
      type="file"
      multiple
      hidden
      accept={props.accept}
      aria-label={props.label}
      disabled={props.disabled}
      data-testid={props.testId}
      onChange={(e) => {
        const files = [...(e.target.files ?? [])];
        e.target.value = '';
        props.canvas.current?.addFiles(files);
      }}
    />
  );
}

function Toasts({ sync, uploads }: { sync: CanvasSync; uploads: Uploads }) {
  const { t } = useTranslation();
  useEffect(() => {
    if (sync.rejects.length === 0) return;
    const first = sync.rejects[0];
    const timer = setTimeout(() => sync.dismissReject(first.cbid), 6000);
    return () => clearTimeout(timer);
  }, [sync]);
  const firstFailure = uploads.failures[0]?.key;
  const { dismiss } = uploads;
  useEffect(() => {
    if (!firstFailure) return;
    const timer = setTimeout(() => dismiss(firstFailure), 10000);
    return () => clearTimeout(timer);
  }, [firstFailure, dismiss]);
  return (
    <div className="toasts" aria-live="polite">
      {uploads.failures.map((f) => (
        <div key={f.key} className="toast" role="alert" data-testid="upload-error">
          {t('errors.uploadFailed', { name: f.name, reason: f.reason })}
          <button type="button" aria-label="×" onClick={() => uploads.dismiss(f.key)}>
            ×
          </button>
        </div>
      ))}
      {sync.rejects.map((r) => (
        <div key={r.cbid} className="toast" role="alert" data-testid="reject-toast" data-code={r.code}>
          {t('errors.rejected', { reason: t(`errors.${r.code}`, { defaultValue: r.message }) })}
          <button type="button" aria-label="×" onClick={() => sync.dismissReject(r.cbid)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
