import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import type { VersionPoint } from '../api/versions';
import '../i18n';
import { i18n } from '../i18n';
import { Doc } from '../sync/doc';
import { HistoryPanel, PreviewBanner } from './HistoryPanel';
import type { History } from './useHistory';

const points: VersionPoint[] = [
  { seq: 2, at: '2026-12-03T10:00:00Z', kind: 'auto', authors: ['u2'] },
  { seq: 5, at: '2026-12-03T11:00:00Z', kind: 'named', name: 'First draft', by: 'u1', authors: ['u1'] },
];

function history(over: Partial<History> = {}): History {
  return {
    open: true,
    setOpen: vi.fn(),
    points,
    names: new Map([
      ['u1', 'Ada'],
      ['u2', 'Bo'],
    ]),
    shown: null,
    loadingSeq: null,
    diff: null,
    busy: null,
    error: null,
    dismissError: vi.fn(),
    notice: null,
    show: vi.fn(),
    backToLive: vi.fn(),
    nameVersion: vi.fn(async () => true),
    restore: vi.fn(async () => undefined),
    ...over,
  };
}

const shownAt5 = { seq: 5, point: points[1], doc: new Doc() };

beforeEach(async () => {
  await i18n.changeLanguage('en');
});
afterEach(() => cleanup());

describe('HistoryPanel', () => {
  it('lists the timeline newest first and previews the entry clicked', () => {
    const h = history();
    render(<HistoryPanel history={h} mayEdit liveSeq={9} />);
    const entries = screen.getAllByTestId('history-entry');
    expect(entries.map((e) => e.getAttribute('data-seq'))).toEqual(['5', '2']);
    expect(entries[0].textContent).toContain('First draft');
    expect(entries[0].textContent).toContain('Changes by Ada');
    expect(entries[1].textContent).toContain('Automatic');
    fireEvent.click(entries[1]);
    expect(h.show).toHaveBeenCalledWith(2, points[0]);
  });

  it('names the current version', () => {
    const h = history();
    render(<HistoryPanel history={h} mayEdit liveSeq={9} />);
    fireEvent.change(screen.getByTestId('version-name'), { target: { value: '  Review  ' } });
    fireEvent.click(screen.getByTestId('name-version'));
    expect(h.nameVersion).toHaveBeenCalledWith('Review');
  });

  it('offers restore for the version shown, with what changed since', () => {
    const h = history({
      shown: shownAt5,
      diff: { from: 5, to: 9, nodes_added: ['a', 'b'], nodes_removed: [], nodes_changed: ['c'], edges_added: [], edges_removed: [], edges_changed: [], meta_changed: false },
    });
    render(<HistoryPanel history={h} mayEdit liveSeq={9} />);
    const legend = screen.getByTestId('history-legend').textContent ?? '';
    expect(legend).toContain('Added since (dashed, not in this version): 2');
    expect(legend).toContain('Changed since: 1');
    fireEvent.click(screen.getByTestId('restore-version'));
    expect(h.restore).toHaveBeenCalled();
    fireEvent.click(screen.getByTestId('back-to-live'));
    expect(h.backToLive).toHaveBeenCalled();
  });

  it('lets a viewer preview, but neither name nor restore', () => {
    render(<HistoryPanel history={history({ shown: shownAt5 })} mayEdit={false} liveSeq={9} />);
    expect(screen.getByTestId('history-viewer-hint')).toBeTruthy();
    expect(screen.queryByTestId('version-name')).toBeNull();
    expect(screen.queryByTestId('restore-version')).toBeNull();
    expect(screen.getByTestId('back-to-live')).toBeTruthy();
  });

  it("shows the server's error", () => {
    render(<HistoryPanel history={history({ error: new ApiError(403, 'forbidden', 'viewers cannot restore a version') })} mayEdit liveSeq={9} />);
    expect(screen.getByTestId('history-error').textContent).toContain('viewers cannot restore a version');
  });

  it('speaks 简体中文', async () => {
    await i18n.changeLanguage('zh-CN');
    render(<HistoryPanel history={history({ shown: shownAt5 })} mayEdit liveSeq={9} />);
    expect(screen.getByText('版本历史')).toBeTruthy();
    expect(screen.getByTestId('restore-version').textContent).toBe('恢复此版本');
  });
});

describe('PreviewBanner', () => {
  it('says which version is shown and that it is read-only', () => {
    const h = history({ shown: shownAt5 });
    render(<PreviewBanner history={h} />);
    expect(screen.getByTestId('history-banner').textContent).toMatch(/^Viewing version of .+ — read-only/);
    fireEvent.click(screen.getByTestId('banner-back-to-live'));
    expect(h.backToLive).toHaveBeenCalled();
  });

  it('names the seq of a point that is not on the timeline', () => {
    render(<PreviewBanner history={history({ shown: { seq: 3, doc: new Doc() } })} />);
    expect(screen.getByTestId('history-banner').textContent).toContain('Viewing the canvas at change 3 — read-only');
  });

  it('is not there on the live canvas', () => {
    render(<PreviewBanner history={history()} />);
    expect(screen.queryByTestId('history-banner')).toBeNull();
  });
});
