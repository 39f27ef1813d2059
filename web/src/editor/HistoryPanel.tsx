// The history panel beside the canvas: name the current version, pick any
// seq with the scrubber or a kept point from the timeline (newest first)
// to see it on the canvas read-only, what changed since, restore it or go
// back to the live canvas. PreviewBanner says on the canvas that what it
// shows is an earlier version.

import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { diffCounts, formatWhen, historyErrorText, timelineEntries, type DiffMark } from './history';
import type { History, Shown } from './useHistory';

/** How long the scrubber rests before the seq it points at is fetched. */
const scrubDelayMs = 250;

const marks: DiffMark[] = ['added', 'removed', 'changed'];

function useShownLabel(shown: Shown | null): string {
  const { t, i18n } = useTranslation();
  if (!shown) return '';
  const lang = i18n.resolvedLanguage ?? 'en';
  return shown.point ? t('history.banner', { time: formatWhen(shown.point.at, lang) }) : t('history.bannerSeq', { seq: shown.seq });
}

/** The banner over the canvas while it shows an earlier version. */
export function PreviewBanner({ history }: { history: History }) {
  const { t } = useTranslation();
  const label = useShownLabel(history.shown);
  if (!history.shown) return null;
  return (
    <div className="history-banner" role="status" data-testid="history-banner" data-seq={history.shown.seq}>
      <span>{label}</span>
      <button type="button" onClick={history.backToLive} data-testid="banner-back-to-live">
        {t('history.backToLive')}
      </button>
    </div>
  );
}

export function HistoryPanel({ history, mayEdit, liveSeq }: { history: History; mayEdit: boolean; liveSeq: number | undefined }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? 'en';
  const [name, setName] = useState('');
  const [scrub, setScrub] = useState<number | null>(null);
  const shownLabel = useShownLabel(history.shown);
  const { points, names, shown, loadingSeq, diff, busy, error, notice, show, backToLive } = history;
  const unknown = t('history.unknownAuthor');
  const entries = useMemo(() => timelineEntries(points ?? [], names, unknown), [points, names, unknown]);
  const current = liveSeq ?? 0;
  const selected = loadingSeq ?? shown?.seq ?? null;
  const scrubValue = Math.min(scrub ?? selected ?? current, current);

  useEffect(() => {
    if (scrub === null) return;
    const timer = setTimeout(() => {
      setScrub(null);
      if (scrub >= current) backToLive();
      else show(scrub, points?.find((p) => p.seq === scrub));
    }, scrubDelayMs);
    return () => clearTimeout(timer);
  }, [scrub, current, points, show, backToLive]);

  const counts = diffCounts(diff);

  return (
    <aside className="history-panel" data-testid="history-panel" aria-label={t('history.title')}>
      <div className="history-head">
        <h2>{t('history.title')}</h2>
        <button type="button" className="history-close" aria-label={t('history.close')} title={t('history.close')} onClick={() => history.setOpen(false)}>
          ×
        </button>
      </div>

      {mayEdit ? (
        <form
          className="history-name"
          onSubmit={(e) => {
            e.preventDefault();
            const n = name.trim();
            if (!n) return;
            void history.nameVersion(n).then((ok) => ok && setName(''));
          }}
        >
          <input
            value={name}
            maxLength={200}
            placeholder={t('history.namePlaceholder')}
            aria-label={t('history.nameLabel')}
            onChange={(e) => setName(e.target.value)}
            data-testid="version-name"
          />
          <button type="submit" disabled={!name.trim() || busy !== null} data-testid="name-version">
            {t('history.name')}
          </button>
        </form>
      ) : (
        <p className="hint" data-testid="history-viewer-hint">
          {t('history.viewerHint')}
        </p>
      )}

      <div className="history-scrub">
        <input
          type="range"
          min={0}
          max={current}
          step={1}
          value={scrubValue}
          list="history-ticks"
          aria-label={t('history.scrubLabel')}
          onChange={(e) => setScrub(Number(e.target.value))}
          data-testid="history-scrubber"
        />
        <datalist id="history-ticks">
          {(points ?? []).map((p, i) => (
            <option key={i} value={p.seq} />
          ))}
        </datalist>
        <span className="hint" data-testid="history-scrub-value">
          {scrubValue >= current ? t('history.scrubLive', { current }) : t('history.scrubValue', { seq: scrubValue, current })}
        </span>
      </div>

      {error ? (
        <p className="form-error" role="alert" data-testid="history-error">
          {historyErrorText(t, error)}
          <button type="button" className="history-dismiss" aria-label={t('history.dismiss')} onClick={history.dismissError}>
            ×
          </button>
        </p>
      ) : null}
      {notice && (
        <p className="history-notice" role="status" data-testid="history-notice">
          {notice === 'named' ? t('history.named') : t('history.restored')}
        </p>
      )}

      {shown && (
        <section className="history-selected" data-testid="history-selected" data-seq={shown.seq}>
          <p className="history-selected-title">{shownLabel}</p>
          {diff ? (
            <ul className="history-legend" data-testid="history-legend">
              {marks.map((m) => (
                <li key={m} data-mark={m} data-count={counts[m]}>
                  <span className={`swatch diff-${m}`} />
                  {t(`history.legend.${m}`, { count: counts[m] })}
                </li>
              ))}
              {diff.meta_changed && <li className="hint">{t('history.metaChanged')}</li>}
            </ul>
          ) : (
            <p className="hint">{t('history.diffLoading')}</p>
          )}
          <div className="history-actions">
            {mayEdit && (
              <button type="button" className="primary" disabled={busy !== null} onClick={() => void history.restore()} data-testid="restore-version">
                {busy === 'restore' ? t('history.restoring') : t('history.restore')}
              </button>
            )}
            <button type="button" onClick={backToLive} data-testid="back-to-live">
              {t('history.backToLive')}
            </button>
          </div>
        </section>
      )}

      {points === null && !error ? (
        <p className="hint">{t('history.loading')}</p>
      ) : (
        <ol className="history-list" data-testid="history-list">
          <li>
            <button type="button" className={`history-entry${selected === null ? ' is-selected' : ''}`} aria-pressed={selected === null} onClick={backToLive} data-testid="history-live">
              <span className="history-when">{t('history.live')}</span>
              <span className="history-meta">{t('history.liveSeq', { seq: current })}</span>
            </button>
          </li>
          {entries.map((e) => (
            <li key={e.key}>
              <button
                type="button"
                className={`history-entry${selected === e.seq ? ' is-selected' : ''}`}
                aria-pressed={selected === e.seq}
                onClick={() => show(e.seq, e.point)}
                data-testid="history-entry"
                data-seq={e.seq}
                data-kind={e.kind}
              >
                <span className="history-when">{formatWhen(e.at, lang)}</span>
                <span className={`history-kind kind-${e.kind}`}>{e.name || t(`history.kind.${e.kind}`, { defaultValue: e.kind })}</span>
                {e.authors.length > 0 && <span className="history-meta">{t('history.by', { names: e.authors.join(', ') })}</span>}
              </button>
            </li>
          ))}
          {entries.length === 0 && points !== null && <li className="hint">{t('history.empty')}</li>}
        </ol>
      )}
    </aside>
  );
}
