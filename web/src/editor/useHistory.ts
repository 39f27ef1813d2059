// useHistory holds the history panel's state for the editor: the timeline,
// the earlier version shown instead of the live canvas (the live canvas
// keeps syncing underneath, so leaving the preview shows it at once), the
// diff of that version against the live seq, naming and restoring.

import { useCallback, useEffect, useRef, useState } from 'react';
import { canvases } from '../api/client';
import { versions, type VersionDiff, type VersionPoint } from '../api/versions';
import type { SyncClient } from '../sync/client';
import { Doc } from '../sync/doc';
import type { UndoManager } from '../undo/undo';
import { entryIsEmpty, restoreEntry } from './history';

/** The version shown instead of the live canvas. */
export interface Shown {
  seq: number;
  /** The timeline's point at that seq, when it is one. */
  point?: VersionPoint;
  doc: Doc;
}

export interface History {
  open: boolean;
  setOpen(open: boolean): void;
  /** The timeline, oldest first; null until loaded. */
  points: VersionPoint[] | null;
  /** User id → name, for the authors. */
  names: Map<string, string>;
  shown: Shown | null;
  /** The seq being fetched, if any. */
  loadingSeq: number | null;
  /** What changed from the shown version to the live canvas. */
  diff: VersionDiff | null;
  busy: 'name' | 'restore' | null;
  error: unknown;
  dismissError(): void;
  /** The last thing done, for a short confirmation. */
  notice: 'named' | 'restored' | null;
  show(seq: number, point?: VersionPoint): void;
  backToLive(): void;
  nameVersion(name: string): Promise<boolean>;
  restore(): Promise<void>;
}

/** How long the diff waits for the live canvas to settle before it is asked again. */
const diffDelayMs = 400;
/** How long a restore waits for its batch to reach this browser before undo can take it back. */
const restoreArrivalMs = 10_000;

/** Resolves once the client has applied seq (false after timeoutMs). */
export function waitForSeq(client: SyncClient, seq: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (client.seq !== undefined && client.seq >= seq) return resolve(true);
    const off = client.on('change', () => {
      if (client.seq !== undefined && client.seq >= seq) done(true);
    });
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      off();
      clearTimeout(timer);
      resolve(ok);
    };
  });
}

export function useHistory(canvasId: string, client: SyncClient, undo: UndoManager, liveSeq: number | undefined): History {
  const [open, setOpenState] = useState(false);
  const [points, setPoints] = useState<VersionPoint[] | null>(null);
  const [names, setNames] = useState<Map<string, string>>(() => new Map());
  const [shown, setShown] = useState<Shown | null>(null);
  const [loadingSeq, setLoadingSeq] = useState<number | null>(null);
  const [diff, setDiff] = useState<VersionDiff | null>(null);
  const [busy, setBusy] = useState<'name' | 'restore' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<'named' | 'restored' | null>(null);
  // Answers to an older request are dropped.
  const request = useRef(0);

  const reload = useCallback(() => {
    versions.list(canvasId).then(setPoints, setError);
    canvases.members(canvasId).then(
      (ms) => setNames(new Map(ms.map((m) => [m.user_id, m.name || m.email]))),
      () => undefined,
    );
  }, [canvasId]);

  const backToLive = useCallback(() => {
    request.current++;
    setShown(null);
    setLoadingSeq(null);
    setDiff(null);
  }, []);

  const setOpen = useCallback(
    (next: boolean) => {
      setOpenState(next);
      setError(null);
      setNotice(null);
      if (next) reload();
      else backToLive();
    },
    [reload, backToLive],
  );

  const show = useCallback(
    (seq: number, point?: VersionPoint) => {
      const id = ++request.current;
      setLoadingSeq(seq);
      setError(null);
      setNotice(null);
      versions.at(canvasId, seq).then(
        (snap) => {
          if (id !== request.current) return;
          const doc = new Doc();
          doc.load(snap);
          setShown({ seq, point, doc });
          setDiff((d) => (d && d.from === seq ? d : null));
          setLoadingSeq(null);
        },
        (err) => {
          if (id !== request.current) return;
          setLoadingSeq(null);
          setError(err);
        },
      );
    },
    [canvasId],
  );

  // The diff from the shown version to the live seq, asked again when the
  // live canvas moves on.
  const shownSeq = shown?.seq;
  useEffect(() => {
    if (shownSeq === undefined || liveSeq === undefined) return;
    let stale = false;
    const timer = setTimeout(
      () => {
        versions.diff(canvasId, shownSeq, liveSeq).then(
          (d) => !stale && setDiff(d),
          (err) => !stale && setError(err),
        );
      },
      diff && diff.from === shownSeq ? diffDelayMs : 0,
    );
    return () => {
      stale = true;
      clearTimeout(timer);
    };
    // diff: only whether one is there for this seq decides the delay.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [canvasId, shownSeq, liveSeq]);

  const nameVersion = useCallback(
    async (name: string) => {
      setBusy('name');
      setError(null);
      setNotice(null);
      try {
        await versions.name(canvasId, name);
        setNotice('named');
        reload();
        return true;
      } catch (err) {
        setError(err);
        return false;
      } finally {
        setBusy(null);
      }
    },
    [canvasId, reload],
  );

  const restore = useCallback(async () => {
    if (!shown) return;
    setBusy('restore');
    setError(null);
    setNotice(null);
    // What undo needs, taken from the live canvas as it is before the restore.
    const entry = restoreEntry(client.doc, shown.doc);
    try {
      const seq = await versions.restore(canvasId, shown.seq);
      // Undo works on the canvas as this browser has it: the entry goes in
      // once the restore's batch has arrived.
      if (!entryIsEmpty(entry) && (await waitForSeq(client, seq, restoreArrivalMs))) undo.recordEntry(entry);
      backToLive();
      setNotice('restored');
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }, [shown, client, undo, canvasId, backToLive, reload]);

  return {
    open,
    setOpen,
    points,
    names,
    shown,
    loadingSeq,
    diff: diff && shown && diff.from === shown.seq ? diff : null,
    busy,
    error,
    dismissError: () => setError(null),
    notice,
    show,
    backToLive,
    nameVersion,
    restore,
  };
}
