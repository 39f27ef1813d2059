// The canvas list: create, rename, delete (or leave), share, open; my role
// on canvases others shared; who is on each canvas now: live for those this
// browser opened before, and as the server lists it (every node) for all.

import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { accessToken, canvases, wsURL, type CanvasInfo, type User } from '../api/client';
import { colorFor, initials } from '../editor/ids';
import { Connection } from '../sync/connection';
import { CanvasWatcher, type Presence } from '../sync/watcher';
import { errorText } from './errors';
import { ShareDialog } from './ShareDialog';
import '../editor/comments.css';

function knownSeq(id: string): number | undefined {
  try {
    const v = localStorage.getItem(`sker.seq.${id}`);
    return v === null ? undefined : Number(v);
  } catch {
    return undefined;
  }
}

/** Live presence on the listed canvases this browser has opened before. */
function usePresence(list: CanvasInfo[] | null): Presence {
  const [presence, setPresence] = useState<Presence>(new Map());
  const watcher = useMemo(() => {
    const conn = new Connection({ url: wsURL(), getToken: accessToken });
    return { conn, w: new CanvasWatcher(conn) };
  }, []);
  useEffect(() => {
    const off = watcher.w.on('presence', (p) => setPresence(new Map(p)));
    watcher.conn.start();
    return () => {
      off();
      watcher.w.close();
      watcher.conn.stop();
    };
  }, [watcher]);
  useEffect(() => {
    if (!list) return;
    const known = list.map((c) => ({ id: c.id, since: knownSeq(c.id) })).filter((c): c is { id: string; since: number } => c.since !== undefined && Number.isFinite(c.since));
    const apply = () => watcher.w.watch(known);
    if (watcher.conn.isOpen) apply();
    return watcher.conn.on('open', apply);
  }, [list, watcher]);
  return presence;
}

/** How often the list is read again, for who is on each canvas. */
const refreshEvery = 15_000;

/**
 * Who is on canvas c: the people the live watcher sees (with the colour
 * they chose), then those the server lists that it does not.
 */
export function whoIsHere(c: CanvasInfo, live: Presence): { user: string; name: string; color: string }[] {
  const out: { user: string; name: string; color: string }[] = [];
  for (const p of live.get(c.id)?.values() ?? []) if (!out.some((q) => q.user === p.user)) out.push(p);
  for (const p of c.present ?? []) if (!out.some((q) => q.user === p.user_id)) out.push({ user: p.user_id, name: p.name, color: colorFor(p.user_id) });
  return out;
}

export function CanvasList({ user }: { user: User }) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const [list, setList] = useState<CanvasInfo[] | null>(null);
  const [error, setError] = useState('');
  const [title, setTitle] = useState('');
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  const [sharing, setSharing] = useState<CanvasInfo | null>(null);
  const presence = usePresence(list);

  const load = () =>
    canvases
      .list()
      .then((l) => setList(l.sort((a, b) => b.updated_at.localeCompare(a.updated_at))))
      .catch((err) => setError(errorText(t, err)));

  useEffect(() => {
    document.title = 'SKER';
    void load();
    // Read again now and then, for who is on each canvas; quietly.
    const timer = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      canvases
        .list()
        .then((l) => setList(l.sort((a, b) => b.updated_at.localeCompare(a.updated_at))))
        .catch(() => {});
    }, refreshEvery);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const act = async (f: () => Promise<unknown>) => {
    setError('');
    try {
      await f();
      await load();
    } catch (err) {
      setError(errorText(t, err));
    }
  };

  const fmt = new Intl.DateTimeFormat(i18n.resolvedLanguage, { dateStyle: 'medium', timeStyle: 'short' });

  return (
    <div className="list-page">
      <h1>{t('list.title')}</h1>
      <form
        className="create"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            const c = await canvases.create(title.trim() || t('list.untitled'));
            setTitle('');
            navigate(`/c/${c.id}`);
          });
        }}
      >
        <input
          value={title}
          maxLength={200}
          placeholder={t('list.newTitle')}
          aria-label={t('list.newTitle')}
          onChange={(e) => setTitle(e.target.value)}
          data-testid="new-title"
        />
        <button type="submit" className="primary" data-testid="create">
          {t('list.new')}
        </button>
      </form>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {list === null && <p>{t('list.loading')}</p>}
      {list?.length === 0 && <p className="empty">{t('list.empty')}</p>}
      <ul className="canvas-list">
        {list?.map((c) => {
          const here = whoIsHere(c, presence);
          const shared = c.created_by !== user.id;
          return (
            <li key={c.id} className="canvas-item" data-testid="canvas-item" data-id={c.id}>
              <div className="canvas-main">
                {renaming?.id === c.id ? (
                  <form
                    className="rename"
                    onSubmit={(e) => {
                      e.preventDefault();
                      const next = renaming.title.trim();
                      setRenaming(null);
                      if (next && next !== c.title) void act(() => canvases.rename(c.id, next));
                    }}
                  >
                    <input autoFocus value={renaming.title} maxLength={200} aria-label={t('list.rename')} onChange={(e) => setRenaming({ id: c.id, title: e.target.value })} />
                    <button type="submit">{t('list.save')}</button>
                    <button type="button" onClick={() => setRenaming(null)}>
                      {t('list.cancel')}
                    </button>
                  </form>
                ) : (
                  <Link to={`/c/${c.id}`} className="canvas-link">
                    {c.title}
                  </Link>
                )}
                {(c.unread_mentions ?? 0) > 0 && (
                  <span className="list-unread" title={t('comments.unread', { count: c.unread_mentions })} aria-label={t('comments.unread', { count: c.unread_mentions })} data-testid="unread-mentions">
                    @{c.unread_mentions}
                  </span>
                )}
                <div className="meta">
                  {t('list.updated', { when: fmt.format(new Date(c.updated_at)) })}
                  {shared && <span className="shared">{t('list.shared')}</span>}
                  {(shared || c.role !== 'owner') && <span className={`role-badge role-${c.role}`}>{t(`role.${c.role}`)}</span>}
                </div>
              </div>
              {here.length > 0 && (
                <div className="here" title={t('list.here')} data-testid="here">
                  {here.map((p) => (
                    <span key={p.user} className="avatar small" style={{ background: p.color }} title={p.name}>
                      {initials(p.name)}
                    </span>
                  ))}
                </div>
              )}
              <div className="actions">
                <button type="button" onClick={() => navigate(`/c/${c.id}`)}>
                  {t('list.open')}
                </button>
                <button type="button" disabled={c.role === 'viewer'} onClick={() => setRenaming({ id: c.id, title: c.title })}>
                  {t('list.rename')}
                </button>
                <button type="button" onClick={() => setSharing(c)}>
                  {t('list.share')}
                </button>
                {c.role === 'owner' ? (
                  <button type="button" className="danger" onClick={() => confirm(t('list.confirmDelete', { title: c.title })) && void act(() => canvases.remove(c.id))}>
                    {t('list.delete')}
                  </button>
                ) : (
                  <button type="button" className="danger" onClick={() => confirm(t('list.confirmLeave', { title: c.title })) && void act(() => canvases.removeMember(c.id, user.id))}>
                    {t('list.leave')}
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      {sharing && <ShareDialog canvasId={sharing.id} title={sharing.title} myRole={sharing.role} me={user} onClose={() => setSharing(null)} />}
    </div>
  );
}
