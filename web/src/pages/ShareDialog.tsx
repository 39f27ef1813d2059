// The share dialog: who has access, add a member by email with a role,
// change or remove a role. Only owners may change anything; others see the
// list with the controls disabled.

import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { canvases, type Member, type Role, type User } from '../api/client';
import { errorText } from './errors';

const roles: Role[] = ['owner', 'editor', 'viewer'];

export function ShareDialog({
  canvasId,
  title,
  myRole,
  me,
  onClose,
}: {
  canvasId: string;
  title: string;
  myRole: Role | null;
  me: User;
  onClose(): void;
}) {
  const { t } = useTranslation();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const owner = myRole === 'owner';

  const load = () =>
    canvases
      .members(canvasId)
      .then(setMembers)
      .catch((err) => setError(errorText(t, err)));

  useEffect(() => {
    void load();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [canvasId]);

  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError('');
    try {
      await f();
      await load();
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="share-title" data-testid="share-dialog">
        <h2 id="share-title">{t('share.title', { title })}</h2>
        <form
          className="share-add"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await canvases.addMember(canvasId, email.trim(), role);
              setEmail('');
            });
          }}
        >
          <input
            type="email"
            required
            disabled={!owner || busy}
            placeholder={t('share.emailPlaceholder')}
            aria-label={t('auth.email')}
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid="share-email"
          />
          <select value={role} disabled={!owner || busy} onChange={(e) => setRole(e.target.value as Role)} aria-label={t('share.roleLabel')} data-testid="share-role">
            {roles.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}`)}
              </option>
            ))}
          </select>
          <button type="submit" className="primary" disabled={!owner || busy} data-testid="share-add">
            {t('share.add')}
          </button>
        </form>
        {!owner && <p className="hint">{t('share.onlyOwner')}</p>}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <h3>{t('share.members')}</h3>
        <ul className="members">
          {members === null && <li>{t('list.loading')}</li>}
          {members?.map((m) => (
            <li key={m.user_id} data-testid="member">
              <span className="member-name">
                {m.name || m.email}
                {m.user_id === me.id ? ` (${t('share.you')})` : ''}
                <small>{m.email}</small>
              </span>
              <select
                value={m.role}
                disabled={!owner || busy}
                aria-label={m.email}
                onChange={(e) => void run(() => canvases.setRole(canvasId, m.user_id, e.target.value as Role))}
              >
                {roles.map((r) => (
                  <option key={r} value={r}>
                    {t(`role.${r}`)}
                  </option>
                ))}
              </select>
              <button type="button" disabled={!owner || busy} onClick={() => void run(() => canvases.removeMember(canvasId, m.user_id))}>
                {t('share.remove')}
              </button>
            </li>
          ))}
        </ul>
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            {t('share.close')}
          </button>
        </div>
      </div>
    </div>
  );
}
